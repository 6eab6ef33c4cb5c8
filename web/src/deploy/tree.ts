// A dropped or picked folder as a tree, and the walk that lists the files
// to publish, in the CLI's order and with its rules (cmd/pier/walk.go):
// what is always ignored, what looks secret (skipped and reported), a
// Pier data directory, .assetsignore, and the manifest path checks.
import { alwaysIgnored, dataDirMarker, DATA_DIR_REASON, IGNORE_FILE, IgnoreRules, parseIgnore, secretReason } from './ignore';

/** The longest manifest path the server accepts, in bytes. */
export const MAX_MANIFEST_PATH = 1024;

export interface FileNode {
  kind: 'file';
  blob: Blob;
}
export interface DirNode {
  kind: 'dir';
  children: Map<string, TreeNode>;
}
export type TreeNode = FileNode | DirNode;

/** One file of the folder: its path below the folder ("a/b.html") and its content. */
export interface FolderEntry {
  path: string;
  blob: Blob;
}

/** A file to deploy. */
export interface LocalFile {
  /** Manifest path, "/a/b.html". */
  path: string;
  /** Path below the asset directory, "a/b.html". */
  rel: string;
  size: number;
  blob: Blob;
}

/** What a deploy left out because it looks secret; a directory's path ends in "/". */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface AssetTree {
  files: LocalFile[];
  bytes: number;
  skipped: SkippedFile[];
}

export function emptyDir(): DirNode {
  return { kind: 'dir', children: new Map() };
}

/** Builds the tree of a folder from its files (paths relative to it, "/"-separated). */
export function buildTree(entries: Iterable<FolderEntry>): DirNode {
  const root = emptyDir();
  for (const e of entries) {
    const segs = e.path.split('/').filter((s) => s !== '' && s !== '.');
    if (segs.length === 0) continue;
    let dir = root;
    for (const seg of segs.slice(0, -1)) {
      let next = dir.children.get(seg);
      if (!next || next.kind !== 'dir') {
        next = emptyDir();
        dir.children.set(seg, next);
      }
      dir = next;
    }
    dir.children.set(segs[segs.length - 1], { kind: 'file', blob: e.blob });
  }
  return root;
}

/** The node at rel ("" or "." for root, "a/b"), or undefined. */
export function lookup(root: DirNode, rel: string): TreeNode | undefined {
  let node: TreeNode = root;
  for (const seg of rel.split('/').filter((s) => s !== '' && s !== '.')) {
    if (node.kind !== 'dir') return undefined;
    const next: TreeNode | undefined = node.children.get(seg);
    if (!next) return undefined;
    node = next;
  }
  return node;
}

/** Byte order, as Go's strings.Compare (UTF-16 order differs only beyond the BMP). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Lists the files of dir to deploy: skips the names in alwaysIgnored and
 * what dir/.assetsignore lists, and skips and records what looks secret
 * (whatever .assetsignore says) and data directories below dir.
 * Throws an Error with the CLI's message.
 */
export async function walkAssets(dir: DirNode): Promise<AssetTree> {
  let rules = new IgnoreRules();
  const ignore = dir.children.get(IGNORE_FILE);
  if (ignore?.kind === 'file') rules = parseIgnore(await ignore.blob.text());
  const t: AssetTree = { files: [], bytes: 0, skipped: [] };
  const skip = (rel: string, isDir: boolean, reason: string) => t.skipped.push({ path: '/' + rel + (isDir ? '/' : ''), reason });

  const walk = (rel: string, node: DirNode) => {
    if (rel !== '.' && dataDirMarker(node.children.keys()) !== '') {
      skip(rel, true, DATA_DIR_REASON);
      return;
    }
    const names = [...node.children.keys()].sort(compare);
    for (const name of names) {
      const ent = node.children.get(name)!;
      const child = rel === '.' ? name : rel + '/' + name;
      if (alwaysIgnored.has(name)) continue;
      const why = secretReason(name);
      if (why !== '') {
        if (!rules.ignored(child, false) && !rules.ignored(child, true)) skip(child, ent.kind === 'dir', why);
        continue;
      }
      const isDir = ent.kind === 'dir';
      if (rules.ignored(child, isDir)) continue;
      if (ent.kind === 'dir') {
        walk(child, ent);
        continue;
      }
      const p = '/' + child;
      checkManifestPath(p);
      t.files.push({ path: p, rel: child, size: ent.blob.size, blob: ent.blob });
      t.bytes += ent.blob.size;
    }
  };
  walk('.', dir);
  t.files.sort((a, b) => compare(a.path, b.path));
  return t;
}

/** Rejects, before anything is hashed, a path the server would refuse (the CLI's checkManifestPath). */
export function checkManifestPath(p: string): void {
  const q = goQuote(p);
  if (new TextEncoder().encode(p).length > MAX_MANIFEST_PATH) {
    throw new Error(`file path ${q} is longer than ${MAX_MANIFEST_PATH} bytes`);
  }
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(p)) throw new Error(`file path ${q} is not valid UTF-8`);
  if (p.includes('\\')) throw new Error(`file path ${q} contains a backslash`);
  for (const ch of p) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f) throw new Error(`file path ${q} contains a control character`);
  }
}

/** A string quoted as Go's %q would for the common cases. */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u007f/g, '\\x7f');
}
