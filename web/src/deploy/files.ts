// A dropped folder or a picked one, as a list of files with their paths
// below it. Dropping walks the directory entries
// (DataTransferItem.webkitGetAsEntry); without them, or from the folder
// picker (<input webkitdirectory>), each File's webkitRelativePath (else
// its name) gives its place. Only File handles are kept: nothing is read.
import type { FolderEntry } from './tree';

/** The files of a folder and the folder's name. */
export interface Folder {
  name: string;
  entries: FolderEntry[];
}

/** Splits "site/a/b.html" paths into the folder name and the paths below it, when every file is in one top folder. */
export function fromRelativePaths(files: { path: string; blob: Blob }[], fallbackName = 'folder'): Folder {
  const paths = files.map((f) => f.path.replace(/^\/+/, ''));
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '')));
  if (tops.size === 1 && !tops.has('')) {
    const [name] = tops;
    return { name, entries: files.map((f, i) => ({ path: paths[i].slice(name.length + 1), blob: f.blob })) };
  }
  return { name: fallbackName, entries: files.map((f, i) => ({ path: paths[i], blob: f.blob })) };
}

/** The folder the picker chose. */
export function fromFileList(list: FileList | readonly File[]): Folder {
  return fromRelativePaths(Array.from(list, (f) => ({ path: f.webkitRelativePath || f.name, blob: f })));
}

/** Reads every entry of a directory (readEntries answers in batches). */
function readAll(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const out: FileSystemEntry[] = [];
  return new Promise((ok, fail) => {
    const more = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) return ok(out);
        out.push(...batch);
        more();
      }, fail);
    more();
  });
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((ok, fail) => entry.file(ok, fail));
}

async function walkEntry(entry: FileSystemEntry, path: string, out: FolderEntry[]): Promise<void> {
  if (entry.isFile) {
    out.push({ path, blob: await fileOf(entry as FileSystemFileEntry) });
  } else if (entry.isDirectory) {
    for (const child of await readAll(entry as FileSystemDirectoryEntry)) {
      await walkEntry(child, path ? path + '/' + child.name : child.name, out);
    }
  }
}

/** The folder a drop carried: one directory is the folder; several items are the folder's contents. */
export async function fromDataTransfer(dt: DataTransfer): Promise<Folder> {
  // Entries must be taken while the drop event is being handled.
  const entries = Array.from(dt.items ?? [])
    .filter((i) => i.kind === 'file')
    .map((i) => (typeof i.webkitGetAsEntry === 'function' ? i.webkitGetAsEntry() : null));
  if (entries.length > 0 && entries.every((e) => e !== null)) {
    const list = entries as FileSystemEntry[];
    const out: FolderEntry[] = [];
    if (list.length === 1 && list[0].isDirectory) {
      await walkEntry(list[0], '', out);
      return { name: list[0].name, entries: out };
    }
    for (const e of list) await walkEntry(e, e.name, out);
    return { name: 'dropped files', entries: out };
  }
  return fromRelativePaths(Array.from(dt.files, (f) => ({ path: f.webkitRelativePath || f.name, blob: f })), 'dropped files');
}
