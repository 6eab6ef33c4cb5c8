import { describe, expect, it } from 'vitest';
import { formatFloat, parseProjectConfig } from './projectconfig';
import { planFolder } from './folder';
import { buildTree } from './tree';

// What the CLI's parseProjectConfig("pier.toml", …) answered for the same
// text (printed by a throwaway test in cmd/pier).
const ok: [string, string, object][] = [
  ['full', 'site = "blog"\n[assets]\ndirectory = "public"\nhtml_handling = "none"\nnot_found_handling = "404-page"\nrun_worker_first = ["/api/*", "!/api/static/*"]\n[worker]\nmain = "w.wasm"\n[vars]\nKEY = "value"', {
    site: 'blog', directory: 'public', htmlHandling: 'none', notFoundHandling: '404-page', runWorkerFirst: ['/api/*', '!/api/static/*'], workerMain: 'w.wasm', vars: { KEY: 'value' },
  }],
  ['vars as TOML writes them', '[vars]\nN = 1.5\nI = 3\nT = true\nS = "s"', { vars: { I: '3', N: '1.5', S: 's', T: 'true' } }],
  ['floats as Go formats them', '[vars]\nX = 1e6\nY = 123456789.0\nZ = 0.00001\nW = inf\nV = nan\nU = -inf\nT = 1e21\nS = 0.0001', {
    vars: { S: '0.0001', T: '1e+21', U: '-Inf', V: 'NaN', W: '+Inf', X: '1e+06', Y: '1.23456789e+08', Z: '1e-05' },
  }],
  ['big integers', '[vars]\nX = 9223372036854775807\nY = -5', { vars: { X: '9223372036854775807', Y: '-5' } }],
  ['run_worker_first = true', '[assets]\nrun_worker_first = true', { runWorkerFirst: ['*'] }],
  ['run_worker_first = false', '[assets]\nrun_worker_first = false', {}],
  ['vars = 3 is ignored, as the CLI', 'vars = 3', {}],
];

const bad: [string, string, string][] = [
  ['a string field given a number', 'site = 5', 'pier.toml: line 1 (last key "site"): incompatible types: TOML value has type int64; destination has type string'],
  ['a misspelt key', 'sitee = "x"', 'pier.toml: unknown key sitee'],
  ['unknown keys in tables', '[assets]\ndirectory = "public"\nfoo = 1\n[worker]\nbar = 2', 'pier.toml: unknown key assets.foo, worker.bar'],
  ['an unknown table', '[foo]\nx = 1\ny = {z = 2}', 'pier.toml: unknown key foo, foo.x, foo.y, foo.y.z'],
  ['a sub-table of assets', '[assets.sub]\ny=1', 'pier.toml: unknown key assets.sub, assets.sub.y'],
  ['a table in vars', '[vars.C]\nz = 1\nw = {q = 1}', 'pier.toml: unknown key vars.C.z, vars.C.w, vars.C.w.q'],
  ['an inline table in vars', '[vars]\nB = { x = 1 }', 'pier.toml: unknown key vars.B.x'],
  ['an empty table in vars', '[vars]\nB = {}', 'pier.toml: vars.B must be a string, number or boolean'],
  ['an array in vars', '[vars]\nA = [1]', 'pier.toml: vars.A must be a string, number or boolean'],
  ['a date in vars', '[vars]\nD = 1979-05-27', 'pier.toml: vars.D must be a string, number or boolean'],
  ['run_worker_first as a string', '[assets]\nrun_worker_first = "yes"', 'pier.toml: assets.run_worker_first must be true, false or a list of path patterns'],
  ['run_worker_first without a slash', '[assets]\nrun_worker_first = ["api/*"]', 'pier.toml: assets.run_worker_first: api/* is not a path pattern (want strings like "/api/*", or "*")'],
  ['run_worker_first with a number', '[assets]\nrun_worker_first = [1]', 'pier.toml: assets.run_worker_first: 1 is not a path pattern (want strings like "/api/*", or "*")'],
  ['html_handling as a number', '[assets]\nhtml_handling = 3', 'pier.toml: line 2 (last key "assets.html_handling"): incompatible types: TOML value has type int64; destination has type string'],
  ['directory as an array', '[assets]\ndirectory = ["a"]', 'pier.toml: line 2 (last key "assets.directory"): incompatible types: TOML value has type []any; destination has type string'],
  ['worker.main as a boolean', '[worker]\nmain = true', 'pier.toml: line 2 (last key "worker.main"): incompatible types: TOML value has type bool; destination has type string'],
  ['site as a table', 'site = {a = 1}', 'pier.toml: line 1 (last key "site"): incompatible types: TOML value has type map[string]any; destination has type string'],
  ['site as a float', 'site = 1.5', 'pier.toml: line 1 (last key "site"): incompatible types: TOML value has type float64; destination has type string'],
  ['site as a date', 'site = 1979-05-27T07:32:00Z', 'pier.toml: line 1 (last key "site"): incompatible types: TOML value has type time.Time; destination has type string'],
  ['assets as a number', 'assets = 3', 'pier.toml: line 1 (last key "assets"): type mismatch for struct { Directory string "toml:\\"directory\\""; HTMLHandling string "toml:\\"html_handling\\""; NotFoundHandling string "toml:\\"not_found_handling\\""; RunWorkerFirst interface {} "toml:\\"run_worker_first\\"" }: expected table but found int64'],
];

describe('pier.toml is read as the CLI reads it', () => {
  for (const [name, text, want] of ok) {
    it(name, async () => {
      expect(await parseProjectConfig('pier.toml', text)).toEqual(want);
    });
  }
  for (const [name, text, msg] of bad) {
    it(`${name}: the CLI's error`, async () => {
      await expect(parseProjectConfig('pier.toml', text)).rejects.toThrow(msg);
    });
  }
  it('a syntax error names the file and line (the parser’s own words)', async () => {
    await expect(parseProjectConfig('site/pier.toml', 'x = ')).rejects.toThrow(/^site\/pier\.toml: line 1: /);
    await expect(parseProjectConfig('pier.toml', 'site = "x"\nsite = "y"')).rejects.toThrow(/^pier\.toml: line 2: /);
  });
  it('formats floats as strconv.FormatFloat(v, g, -1, 64)', () => {
    expect([0.1, -0, 100000, 1e6, 1.5e-5, 1e21, 123456.75].map((v) => formatFloat(v))).toEqual(['0.1', '-0', '100000', '1e+06', '1.5e-05', '1e+21', '123456.75']);
  });
});

const file = (s: string) => new Blob([s]);

describe('planFolder resolves a dropped folder as pier deploy DIR', () => {
  it('publishes assets.directory, sends the worker apart and maps the settings', async () => {
    const root = buildTree([
      { path: 'pier.toml', blob: file('site = "other"\n[assets]\ndirectory = "public"\nnot_found_handling = "single-page-application"\nrun_worker_first = true\n[worker]\nmain = "public/w.wasm"\n[vars]\nA = 1') },
      { path: 'public/index.html', blob: file('x') },
      { path: 'public/w.wasm', blob: file('\0asm') },
      { path: 'src/main.go', blob: file('package main') },
    ]);
    const plan = await planFolder(root, 'proj');
    expect(plan.display).toBe('proj/public');
    expect(plan.files.map((f) => f.path)).toEqual(['/index.html']);
    expect(plan.worker?.path).toBe('public/w.wasm');
    expect(plan.config).toEqual({ not_found_handling: 'single-page-application', run_worker_first: ['*'], vars: { A: '1' } });
    expect(plan.project?.site).toBe('other');
  });
  it.each([
    ['a bad pier.toml, naming the file', [['pier.toml', 'bogus = 1']], 'proj/pier.toml: unknown key bogus'],
    ['a missing asset directory', [['pier.toml', '[assets]\ndirectory = "dist"'], ['a.html', 'x']], 'asset directory: proj/dist: no such directory in the dropped folder'],
    ['a directory outside the folder', [['pier.toml', '[assets]\ndirectory = "../x"']], 'proj/pier.toml: assets.directory "../x" leads outside the dropped folder'],
    ['a missing worker', [['pier.toml', '[worker]\nmain = "w.wasm"'], ['a.html', 'x']], 'worker module: proj/w.wasm: no such file in the dropped folder'],
    ['a bad html_handling', [['pier.toml', '[assets]\nhtml_handling = "sometimes"'], ['a.html', 'x']], 'invalid: html_handling "sometimes" (want auto-trailing-slash, force-trailing-slash, drop-trailing-slash or none)'],
    ['a bad not_found_handling', [['pier.toml', '[assets]\nnot_found_handling = "x"'], ['a.html', 'x']], 'invalid: not_found_handling "x" (want none, 404-page or single-page-application)'],
    ['a data directory', [['pier.db', ''], ['a.html', 'x']], "proj is a Pier server's data directory (it holds pier.db): it is never published"],
    ['nothing to deploy', [['.env', 'X=1'], ['.git/HEAD', 'x']], 'no files to deploy in proj'],
  ])('%s', async (_, files, msg) => {
    const root = buildTree((files as string[][]).map(([path, s]) => ({ path, blob: file(s) })));
    await expect(planFolder(root, 'proj')).rejects.toThrow(msg as string);
  });
});
