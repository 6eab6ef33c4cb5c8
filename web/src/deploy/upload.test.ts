import { describe, expect, it } from 'vitest';
import xxhash from 'xxhash-wasm';
import { ApiError } from '../api';
import {
  backoffMs,
  buildManifest,
  countUploads,
  planUploads,
  retryable,
  retryServerErrors,
  retryUnavailable,
  runPool,
  withRetry,
  type HashedFile,
} from './upload';
import { deployFolder, type DeployDeps, type Progress } from './deploy';
import { planFolder } from './folder';
import { buildTree } from './tree';
import { hashBlob } from './hash';

const f = (path: string, hash: string, size = 1): HashedFile => ({ path, rel: path.slice(1), size, hash, blob: new Blob(['x'.repeat(size)]) });

describe('upload planning', () => {
  const files = [f('/a.html', 'aaaaaaaaaaaaaaaa', 3), f('/copy-of-a.html', 'aaaaaaaaaaaaaaaa', 3), f('/b.css', 'bbbbbbbbbbbbbbbb', 5), f('/_redirects', 'cccccccccccccccc', 7)];
  const worker = f('/w.wasm', 'dddddddddddddddd', 11);

  it('builds the manifest and keeps the first file of each hash', () => {
    const m = buildManifest(files, worker);
    expect(m.manifest).toEqual({
      '/a.html': { hash: 'aaaaaaaaaaaaaaaa', size: 3 },
      '/copy-of-a.html': { hash: 'aaaaaaaaaaaaaaaa', size: 3 },
      '/b.css': { hash: 'bbbbbbbbbbbbbbbb', size: 5 },
      '/_redirects': { hash: 'cccccccccccccccc', size: 7 },
    });
    expect(m.worker).toEqual({ hash: 'dddddddddddddddd', size: 11 });
    expect(m.byHash.get('aaaaaaaaaaaaaaaa')?.path).toBe('/a.html');
    expect(buildManifest(files).worker).toBeUndefined();
  });
  it('sends each missing blob once, and only those', () => {
    const { byHash } = buildManifest(files, worker);
    const plan = planUploads(['aaaaaaaaaaaaaaaa', 'dddddddddddddddd', 'aaaaaaaaaaaaaaaa'], byHash);
    expect(plan.todo.map((t) => t.path)).toEqual(['/a.html', '/w.wasm']);
    expect(plan.bytes).toBe(14);
    expect(planUploads([], byHash)).toEqual({ todo: [], bytes: 0 });
  });
  it('refuses a hash the manifest does not have', () => {
    expect(() => planUploads(['eeeeeeeeeeeeeeee'], buildManifest(files).byHash)).toThrow(
      'the server asked for blob eeeeeeeeeeeeeeee, which is not in the manifest',
    );
  });
  it('counts uploaded and reused files; rules files apart', () => {
    const { worker: w } = buildManifest(files, worker);
    expect(countUploads(files, w, ['aaaaaaaaaaaaaaaa'])).toEqual({ uploaded: 2, reused: 1, rules: ['/_redirects'], workerUploaded: false });
    expect(countUploads(files, w, ['dddddddddddddddd'])).toEqual({ uploaded: 0, reused: 3, rules: ['/_redirects'], workerUploaded: true });
  });
});

describe('retry policy (the CLI’s)', () => {
  const net = new ApiError(0, 'network', 'down');
  const e500 = new ApiError(500, 'internal', 'x');
  const e503 = new ApiError(503, 'storage_unavailable', 'x');
  const e429 = new ApiError(429, 'rate_limited', 'x');
  const e400 = new ApiError(400, 'rules_invalid', 'x');
  const e404 = new ApiError(404, 'not_found', 'x');

  it('retries network failures, 5xx and 429 uploads; never another 4xx', () => {
    expect([net, e500, e503, e429, e400, e404, new Error('x')].map(retryable)).toEqual([true, true, true, true, false, false, false]);
  });
  it('retries only server answers for the site lookup', () => {
    expect([net, e500, e429, e400].map(retryServerErrors)).toEqual([false, true, true, false]);
  });
  it('retries creating a deployment only when the server said it did nothing', () => {
    expect([net, e500, e503, e429, e400].map(retryUnavailable)).toEqual([false, false, true, true, false]);
  });
  it('backs off exponentially with jitter in [w/2, w], capped, and honours Retry-After', () => {
    const p = { attempts: 5, baseMs: 250, maxMs: 10_000 };
    expect([1, 2, 3, 4].map((a) => backoffMs(a, p, () => 0))).toEqual([125, 250, 500, 1000]);
    expect([1, 2, 3, 4].map((a) => backoffMs(a, p, () => 0.9999))).toEqual([250, 500, 1000, 2000]);
    expect(backoffMs(10, p, () => 0.9999)).toBe(10_000);
    expect(backoffMs(1, p, () => 0, 3000)).toBe(3000);
    expect(backoffMs(1, p, () => 0, 60_000)).toBe(10_000);
  });
  it('gives up after the attempts, and at once on a 4xx', async () => {
    const waits: number[] = [];
    let calls = 0;
    const sleep = async (ms: number) => void waits.push(ms);
    await expect(withRetry(async () => { calls++; throw e503; }, retryable, { sleep, random: () => 0 })).rejects.toBe(e503);
    expect(calls).toBe(5);
    expect(waits).toEqual([125, 250, 500, 1000]);
    calls = 0;
    await expect(withRetry(async () => { calls++; throw e400; }, retryable, { sleep })).rejects.toBe(e400);
    expect(calls).toBe(1);
    calls = 0;
    expect(await withRetry(async () => { if (++calls < 3) throw net; return 'ok'; }, retryable, { sleep })).toBe('ok');
  });
  it('runs at most `limit` tasks at once and stops on the first failure', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await runPool([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      done.push(n);
    });
    expect(peak).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const started: number[] = [];
    await expect(runPool([1, 2, 3, 4, 5], 1, async (n) => { started.push(n); if (n === 2) throw new Error('two'); })).rejects.toThrow('two');
    expect(started).toEqual([1, 2]);
  });
});

/** A fake API with the server's upload-session logic, for whole deploys. */
function fakeServer(salt: string) {
  const blobs = new Set<string>();
  const log: string[] = [];
  const sessions = new Map<string, { manifest: Record<string, { hash: string }>; worker?: { hash: string } }>();
  let failPuts = 0;
  const request = async <T>(method: string, path: string, body?: any): Promise<T> => {
    log.push(`${method} ${path}`);
    if (method === 'GET') return { name: 'blog', hash_salt: salt } as T;
    if (path.endsWith('/uploads')) {
      const id = 'up_' + sessions.size;
      sessions.set(id, body);
      const hashes = new Set(Object.values(body.manifest as Record<string, { hash: string }>).map((e) => e.hash));
      if (body.worker) hashes.add(body.worker.hash);
      return { id, missing: [...hashes].filter((h) => !blobs.has(h)).sort() } as T;
    }
    if (path.endsWith('/deployments')) {
      const s = sessions.get(body.upload)!;
      const redirects = s.manifest['/_redirects'];
      if (redirects && body.config.vars?.BAD) throw new ApiError(400, 'rules_invalid', '_redirects line 1: bad', { file: '_redirects', line: 1 });
      const files = Object.keys(s.manifest).filter((p) => p !== '/_headers' && p !== '/_redirects').length;
      return { id: 'd1', url: 'http://blog.localhost/', preview_url: 'http://d1--blog.localhost/', files, active: body.activate } as T;
    }
    throw new Error('unexpected ' + method + ' ' + path);
  };
  const deps = (hash: DeployDeps['hash']): DeployDeps => ({
    request,
    hash,
    retry: { sleep: async () => {} },
    putBlob: async (upload, h, blob, onSent) => {
      log.push(`PUT ${h}`);
      onSent(Math.floor(blob.size / 2));
      if (failPuts > 0) {
        failPuts--;
        throw new ApiError(503, 'storage_unavailable', 'later');
      }
      onSent(blob.size);
      blobs.add(h);
    },
  });
  return { deps, log, failNextPuts: (n: number) => (failPuts = n) };
}

describe('deployFolder runs the CLI’s protocol', async () => {
  const { create64 } = await xxhash();
  const hash: DeployDeps['hash'] = (salt, blob, onBytes) => hashBlob(() => create64(), salt, blob, 3, onBytes);
  const folder = (index: string, extra: Record<string, string> = {}) =>
    buildTree(Object.entries({ 'index.html': index, 'about.html': 'About', 'css/site.css': 'body{}', '_redirects': '/old /new 301', ...extra }).map(([path, s]) => ({ path, blob: new Blob([s]) })));

  it('uploads every blob the first time, exactly the changed one the second, and retries a 503', async () => {
    const server = fakeServer('00112233');
    const progress: Progress[] = [];
    const first = await deployFolder('blog', await planFolder(folder('v1'), 'site'), true, server.deps(hash), (p) => progress.push(p));
    expect(first).toMatchObject({ deployment: 'd1', files: 3, uploaded: 3, reused: 0, rules: ['/_redirects'], active: true });
    expect(server.log.filter((l) => l.startsWith('PUT'))).toHaveLength(4);
    expect(server.log[server.log.length - 1]).toBe('POST /sites/blog/deployments');
    const last = progress[progress.length - 1];
    expect(last.phase).toBe('creating');
    const up = progress.filter((p) => p.phase === 'uploading');
    expect(up[up.length - 1]).toMatchObject({ files: 4, totalFiles: 4 });
    expect(up[up.length - 1].bytes).toBe(up[up.length - 1].totalBytes);

    server.log.length = 0;
    server.failNextPuts(2);
    const second = await deployFolder('blog', await planFolder(folder('v2'), 'site'), false, server.deps(hash));
    expect(second).toMatchObject({ files: 3, uploaded: 1, reused: 2, active: false });
    // One blob, sent three times: two 503s, then success.
    expect(new Set(server.log.filter((l) => l.startsWith('PUT')))).toHaveProperty('size', 1);
    expect(server.log.filter((l) => l.startsWith('PUT'))).toHaveLength(3);
  });

  it('reports the server’s error with its details and the stage', async () => {
    const server = fakeServer('00');
    const plan = await planFolder(folder('v1', { 'pier.toml': '[vars]\nBAD = "1"' }), 'site');
    const err = await deployFolder('blog', plan, true, server.deps(hash)).catch((e) => e);
    expect(err.message).toBe('creating deployment: _redirects line 1: bad');
    expect(err.api.details).toEqual({ file: '_redirects', line: 1 });
  });
});
