import { describe, expect, it } from 'vitest';
import { fromFileList, fromRelativePaths } from './files';

const blob = new Blob(['x']);

describe('a folder from the picker or a drop without directory entries', () => {
  it('takes the top folder of webkitRelativePath as the folder and the rest as paths', () => {
    const f = fromRelativePaths([
      { path: 'site/index.html', blob },
      { path: 'site/css/a.css', blob },
    ]);
    expect(f.name).toBe('site');
    expect(f.entries.map((e) => e.path)).toEqual(['index.html', 'css/a.css']);
  });
  it('keeps plain file names (several files dropped) as the folder’s contents', () => {
    const f = fromRelativePaths([{ path: 'index.html', blob }, { path: 'about.html', blob }], 'dropped files');
    expect(f).toMatchObject({ name: 'dropped files', entries: [{ path: 'index.html' }, { path: 'about.html' }] });
  });
  it('keeps the paths when the files are in different top folders', () => {
    const f = fromRelativePaths([{ path: 'a/x.html', blob }, { path: 'b/y.html', blob }]);
    expect(f.entries.map((e) => e.path)).toEqual(['a/x.html', 'b/y.html']);
  });
  it('reads a FileList-like list of Files', () => {
    const file = new File(['<h1>hi</h1>'], 'index.html');
    expect(fromFileList([file])).toMatchObject({ entries: [{ path: 'index.html', blob: file }] });
  });
});
