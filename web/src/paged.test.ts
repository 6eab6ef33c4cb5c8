import { describe, expect, it } from 'vitest';
import { ApiError, type Page } from './api';
import { fetchPages, loadFailure, mergePage, pagesLoaded } from './paged';

describe('mergePage', () => {
  it('replaces the list with a first page', () => {
    expect(mergePage([1, 2], { items: [3] })).toEqual([3]);
  });
  it('appends a page loaded after a cursor', () => {
    expect(mergePage([1, 2], { items: [3, 4], next_cursor: 'c2' }, 'c1')).toEqual([1, 2, 3, 4]);
  });
  it('leaves the previous list as it was', () => {
    const prev = [1];
    mergePage(prev, { items: [2] }, 'c');
    expect(prev).toEqual([1]);
  });
});

describe('loadFailure', () => {
  const notFound = new ApiError(404, 'not_found', 'site not found');
  it('is missing on a 404 when the list asks for it', () => {
    expect(loadFailure(notFound, true)).toEqual({ kind: 'missing' });
  });
  it('is an error on a 404 otherwise', () => {
    expect(loadFailure(notFound, false)).toEqual({ kind: 'error', message: 'site not found' });
  });
  it('is unauthorized on a 401 either way', () => {
    const e = new ApiError(401, 'unauthorized', 'signed out');
    expect(loadFailure(e, true)).toEqual({ kind: 'unauthorized' });
    expect(loadFailure(e, false)).toEqual({ kind: 'unauthorized' });
  });
  it('words other failures with the message it is given', () => {
    expect(loadFailure(new ApiError(500, 'internal', 'broke'), true)).toEqual({ kind: 'error', message: 'broke' });
    expect(loadFailure('odd', false)).toEqual({ kind: 'error', message: 'odd' });
    expect(loadFailure(new ApiError(403, 'forbidden', 'no'), false, () => 'operators only')).toEqual({
      kind: 'error',
      message: 'operators only',
    });
  });
});

describe('pagesLoaded', () => {
  const cases: [string, number, number, number][] = [
    ['none loaded is one page', 0, 20, 1],
    ['a partial page', 5, 20, 1],
    ['a full page', 20, 20, 1],
    ['one more than a page', 21, 20, 2],
    ['three pages', 60, 20, 3],
  ];
  for (const [name, count, size, want] of cases) {
    it(name, () => expect(pagesLoaded(count, size)).toBe(want));
  }
});

describe('fetchPages', () => {
  const pages: Record<string, Page<number>> = {
    '': { items: [1, 2], next_cursor: 'a' },
    a: { items: [3, 4], next_cursor: 'b' },
    b: { items: [5] },
  };
  function fetcher(asked: (string | undefined)[]) {
    return async (cursor?: string) => {
      asked.push(cursor);
      return pages[cursor ?? ''];
    };
  }
  it('fetches as many pages as asked, from the first', async () => {
    const asked: (string | undefined)[] = [];
    expect(await fetchPages(fetcher(asked), 2)).toEqual({ items: [1, 2, 3, 4], next_cursor: 'b' });
    expect(asked).toEqual([undefined, 'a']);
  });
  it('stops at the last page', async () => {
    const asked: (string | undefined)[] = [];
    expect(await fetchPages(fetcher(asked), 5)).toEqual({ items: [1, 2, 3, 4, 5], next_cursor: undefined });
    expect(asked).toEqual([undefined, 'a', 'b']);
  });
  it('passes on a failure', async () => {
    await expect(fetchPages(() => Promise.reject(new Error('down')), 1)).rejects.toThrow('down');
  });
});
