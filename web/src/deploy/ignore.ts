// What a deploy leaves out, exactly as `pier deploy` does (cmd/pier/ignore.go):
// names never uploaded, names never published because they look secret,
// a Pier server's data directory, and the .assetsignore rules (gitignore
// syntax). Keep the two in step: the tables below are copies.
import { match, validPattern } from './gomatch';

/** The name of the file listing what a deploy leaves out. */
export const IGNORE_FILE = '.assetsignore';
/** The project's configuration file. */
export const PROJECT_FILE = 'pier.toml';

/** Names a deploy never uploads, at any depth. */
export const alwaysIgnored: ReadonlySet<string> = new Set([
  '.git',
  '.hg',
  '.svn',
  'node_modules',
  '.DS_Store',
  PROJECT_FILE, // may hold vars that are not meant to be public
  IGNORE_FILE,
]);

/** Names (Go path.Match patterns, lower case, at any depth) never published, whatever .assetsignore says. */
export const secretNames: readonly { pattern: string; why: string }[] = [
  { pattern: '.env', why: 'an environment file, secret by convention' },
  { pattern: '.env.*', why: 'an environment file, secret by convention' },
  { pattern: '*.token', why: 'a token file' },
  { pattern: '.netrc', why: 'a credentials file' },
  { pattern: '.npmrc', why: 'may hold a registry token' },
  { pattern: '.pgpass', why: 'a credentials file' },
  { pattern: '.htpasswd', why: 'a password file' },
  { pattern: 'id_rsa', why: 'a private key' },
  { pattern: 'id_dsa', why: 'a private key' },
  { pattern: 'id_ecdsa', why: 'a private key' },
  { pattern: 'id_ed25519', why: 'a private key' },
  { pattern: '*.pem', why: 'a key or certificate file' },
  { pattern: '*.key', why: 'a private key' },
  { pattern: '*.p12', why: 'a key store' },
  { pattern: '*.pfx', why: 'a key store' },
  { pattern: '.ssh', why: 'a directory of keys' },
  { pattern: '.aws', why: 'a directory of credentials' },
  { pattern: '.gnupg', why: 'a directory of keys' },
];

/** Files of a Pier server's data directory: a directory holding one is never published. */
export const dataDirMarkers = ['pier.db', 'admin.token'];

export const DATA_DIR_REASON = "a Pier server's data directory: it holds pier.db or admin.token";

/** Why a file or directory with this name is never published, or '' (names compared ignoring case). */
export function secretReason(name: string): string {
  const lower = name.toLowerCase();
  for (const s of secretNames) {
    if (match(s.pattern, lower)) return s.why;
  }
  return '';
}

/** The name among a directory's entries that makes it a data directory, or ''. */
export function dataDirMarker(names: Iterable<string>): string {
  const list = [...names];
  for (const m of dataDirMarkers) {
    for (const n of list) {
      if (n.toLowerCase() === m) return n;
    }
  }
  return '';
}

interface IgnoreRule {
  negate: boolean;
  dirOnly: boolean;
  segs: string[];
  line: number;
}

/** A parsed .assetsignore. */
export class IgnoreRules {
  constructor(readonly rules: readonly IgnoreRule[] = []) {}

  /** Whether rel (slash-separated, relative to the asset directory, no leading slash) is excluded. */
  ignored(rel: string, isDir: boolean): boolean {
    const segs = rel.split('/');
    let out = false;
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (matchSegs(r.segs, segs)) out = !r.negate;
    }
    return out;
  }
}

/** Parses an .assetsignore; throws an Error naming the line of a bad pattern, as the CLI. */
export function parseIgnore(text: string): IgnoreRules {
  const rules: IgnoreRule[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const n = i + 1;
    const original = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    let line = raw.replace(/[ \t\r]+$/, '');
    if (line === '' || line.startsWith('#')) return;
    const r: IgnoreRule = { negate: false, dirOnly: false, segs: [], line: n };
    if (line.startsWith('!')) {
      r.negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\')) {
      line = line.slice(1); // "\#file" or "\!file"
    }
    if (line.endsWith('/')) {
      r.dirOnly = true;
      line = line.replace(/\/+$/, '');
    }
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    if (line === '') return;
    r.segs = line.split('/');
    if (!anchored && r.segs[0] !== '**') r.segs.unshift('**');
    for (const s of r.segs) {
      if (s !== '**' && !validPattern(s)) {
        throw new Error(`${IGNORE_FILE}: line ${n}: bad pattern ${JSON.stringify(original)}`);
      }
    }
    rules.push(r);
  });
  return new IgnoreRules(rules);
}

/** Matches path segments against pattern segments, "**" standing for zero or more segments (one or more at the end). */
export function matchSegs(pat: readonly string[], name: readonly string[]): boolean {
  while (pat.length > 0) {
    if (pat[0] === '**') {
      const rest = pat.slice(1);
      if (rest.length === 0) return name.length > 0;
      for (let i = 0; i <= name.length; i++) {
        if (matchSegs(rest, name.slice(i))) return true;
      }
      return false;
    }
    if (name.length === 0) return false;
    if (!safeMatch(pat[0], name[0])) return false;
    pat = pat.slice(1);
    name = name.slice(1);
  }
  return name.length === 0;
}

/** match, false for a bad pattern (Go's `ok, _ := path.Match(…)`). */
function safeMatch(pattern: string, name: string): boolean {
  try {
    return match(pattern, name);
  } catch {
    return false;
  }
}
