import { describe, expect, it } from 'vitest';
import { match, validPattern } from './gomatch';
import { dataDirMarker, parseIgnore, secretReason } from './ignore';
import { buildTree, checkManifestPath, walkAssets } from './tree';

// Go's answers, printed by a throwaway test in cmd/pier:
//   ok, err := path.Match(pattern, name); fmt.Printf("%q %q %v %v\n", pattern, name, ok, err != nil)
const matchVectors: [string, string, boolean, boolean][] = [
  ['*.html', 'index.html', true, false],
  ['*.html', 'a/index.html', false, false],
  ['a*b', 'a/b', false, false],
  ['a?c', 'abc', true, false],
  ['a?c', 'a/c', false, false],
  ['[a-c]x', 'bx', true, false],
  ['[^a-c]x', 'bx', false, false],
  ['[!a]x', '!x', true, false],
  ['\\*x', '*x', true, false],
  ['[', 'a', false, true],
  ['a[', 'a', false, true],
  ['[a-]', 'a', false, true],
  ['\\', 'a', false, true],
  ['*', '', true, false],
  ['*', 'abc', true, false],
  ['**', 'ab', true, false],
  ['a*', 'a', true, false],
  ['*a*b*', 'xaxxbx', true, false],
  ['ünï*', 'ünïcode', true, false],
  ['[é-ü]', 'ö', true, false],
  ['*.[jt]s', 'x.ts', true, false],
  ['[]a]', ']', false, true],
  ['[a-b-c]', 'a', false, true],
  ['x]', 'x]', true, false],
  ['a\\', 'a', false, true],
];

describe('match is Go path.Match', () => {
  for (const [pattern, name, ok, bad] of matchVectors) {
    it(`${JSON.stringify(pattern)} on ${JSON.stringify(name)}`, () => {
      if (bad) expect(() => match(pattern, name)).toThrow('syntax error in pattern');
      else expect(match(pattern, name)).toBe(ok);
      expect(validPattern(pattern)).toBe(!bad);
    });
  }
});

// The same .assetsignore given to the CLI's parseIgnore, and what its
// ignored(path, isDir) answered (same throwaway test).
const ignoreText = '# comment\n\n*.log\n!keep.log\nbuild/\n/root-only.txt\ndocs/**/draft.md\nsecret/**\n\\#hash.txt\n\\!bang.txt\ntmp  \nsub/*.bak\n**/cache\n';
const ignoreVectors: [string, boolean, boolean][] = [
  ['a.log', false, true],
  ['x/a.log', false, true],
  ['keep.log', false, false],
  ['x/keep.log', false, false],
  ['build', true, true],
  ['build', false, false],
  ['x/build', true, true],
  ['root-only.txt', false, true],
  ['x/root-only.txt', false, false],
  ['docs/draft.md', false, true],
  ['docs/a/b/draft.md', false, true],
  ['secret', true, false],
  ['secret/x', false, true],
  ['#hash.txt', false, true],
  ['!bang.txt', false, true],
  ['tmp', false, true],
  ['x/tmp', true, true],
  ['sub/a.bak', false, true],
  ['x/sub/a.bak', false, false],
  ['cache', true, true],
  ['a/b/cache', true, true],
  ['index.html', false, false],
];

describe('.assetsignore rules are the CLI’s', () => {
  const rules = parseIgnore(ignoreText);
  for (const [p, isDir, want] of ignoreVectors) {
    it(`${p}${isDir ? '/' : ''} ${want ? 'is' : 'is not'} ignored`, () => {
      expect(rules.ignored(p, isDir)).toBe(want);
    });
  }
  it('names the line of a bad pattern, as the CLI', () => {
    expect(() => parseIgnore('ok\n[\n')).toThrow('.assetsignore: line 2: bad pattern "["');
    expect(() => parseIgnore('a/[b/c\n')).toThrow('.assetsignore: line 1: bad pattern "a/[b/c"');
    expect(() => parseIgnore('x\n\\\n')).not.toThrow();
  });
  it('accepts CRLF line ends', () => {
    expect(parseIgnore('*.log\r\n').ignored('a.log', false)).toBe(true);
  });
});

describe('secret names and data directories', () => {
  it.each([
    ['.env', 'an environment file, secret by convention'],
    ['.ENV.local', 'an environment file, secret by convention'],
    ['admin.token', 'a token file'],
    ['server.PEM', 'a key or certificate file'],
    ['id_ed25519', 'a private key'],
    ['.ssh', 'a directory of keys'],
    ['index.html', ''],
    ['environment.js', ''],
  ])('%s', (name, why) => {
    expect(secretReason(name)).toBe(why);
  });
  it('finds a data directory marker ignoring case', () => {
    expect(dataDirMarker(['a', 'PIER.db'])).toBe('PIER.db');
    expect(dataDirMarker(['admin.token'])).toBe('admin.token');
    expect(dataDirMarker(['pier.db.bak'])).toBe('');
  });
});

const text = (s: string) => new Blob([s]);

describe('walkAssets lists what the CLI would publish', () => {
  it('skips ignored names, secrets (reported), data directories and .assetsignore, in path order', async () => {
    const root = buildTree([
      { path: 'index.html', blob: text('hi') },
      { path: 'b/z.css', blob: text('z') },
      { path: 'a.js', blob: text('aa') },
      { path: '.git/HEAD', blob: text('ref') },
      { path: 'node_modules/x/i.js', blob: text('x') },
      { path: '.DS_Store', blob: text('') },
      { path: 'sub/pier.toml', blob: text('') },
      { path: '.env', blob: text('SECRET=1') },
      { path: 'keys/deploy.key', blob: text('k') },
      { path: '.ssh/id_rsa', blob: text('k') },
      { path: 'backup/pier.db', blob: text('db') },
      { path: 'backup/index.html', blob: text('x') },
      { path: 'debug.log', blob: text('log') },
      { path: 'ignored.pem', blob: text('listed, so not reported') },
      { path: '.assetsignore', blob: text('*.log\nignored.pem\n') },
      { path: '_redirects', blob: text('/a /b 301') },
    ]);
    const t = await walkAssets(root);
    expect(t.files.map((f) => f.path)).toEqual(['/_redirects', '/a.js', '/b/z.css', '/index.html']);
    expect(t.bytes).toBe(9 + 2 + 1 + 2);
    expect(t.skipped).toEqual([
      { path: '/.env', reason: 'an environment file, secret by convention' },
      { path: '/.ssh/', reason: 'a directory of keys' },
      { path: '/backup/', reason: "a Pier server's data directory: it holds pier.db or admin.token" },
      { path: '/keys/deploy.key', reason: 'a private key' },
    ]);
  });
  it('refuses a path the server would refuse', () => {
    expect(() => checkManifestPath('/a\\b')).toThrow('file path "/a\\\\b" contains a backslash');
    expect(() => checkManifestPath('/a\u0001')).toThrow('contains a control character');
    expect(() => checkManifestPath('/' + 'x'.repeat(1024))).toThrow('is longer than 1024 bytes');
    expect(() => checkManifestPath('/ok/ünï.html')).not.toThrow();
  });
});
