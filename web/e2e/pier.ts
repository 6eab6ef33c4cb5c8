// Starts the real `pier serve` binary on free loopback ports with a
// temporary data directory, and talks to its API with the admin token.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const pierBin = resolve(process.env.PIER_BIN || '../bin/pier');

export interface Pier {
  /** The admin listener, which serves the console and the API: http://127.0.0.1:PORT */
  url: string;
  adminToken: string;
  data: string;
  /** Calls the API with a bearer token (the admin's by default). */
  api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T>;
  /** The edge's address, host:port on loopback. */
  edge: string;
  /** GETs path of a site over the edge (Host: <site>.localhost:PORT); the status and body. */
  fetchSite(site: string, path?: string): Promise<{ status: number; body: string }>;
  /** Publishes dir as a new deployment of site with the CLI. */
  deploy(site: string, files: Record<string, string>, token?: string): Promise<void>;
  stop(): Promise<void>;
}

/** The environment without Pier's own variables, so the test's flags are the only settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PIER_')));
}

/** Starts `pier serve`; extraArgs are added to its flags (e.g. `--dns-resolver`, `--tls-internal`). */
export async function startPier(extraArgs: string[] = []): Promise<Pier> {
  const data = await mkdtemp(join(tmpdir(), 'pier-web-'));
  const child: ChildProcess = spawn(
    pierBin,
    ['serve', '--data', join(data, 'data'), '--http', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--workers=false', '--log-level', 'warn', ...extraArgs],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (b) => (err += b));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`pier serve did not start in 30 s:\n${out}\n${err}`)), 30_000);
    child.stdout!.on('data', (b) => {
      out += b;
      const m = /admin API for the CLI's --api: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`pier serve exited with ${code}:\n${out}\n${err}`));
    });
  });
  const edge = /\(edge on (\S+?)\)/.exec(out)?.[1];
  if (!edge) throw new Error(`pier serve did not say where the edge listens:\n${out}`);
  const adminToken = (await readFile(join(data, 'data', 'admin.token'), 'utf8')).trim();

  async function api<T>(method: string, path: string, body?: unknown, token = adminToken): Promise<T> {
    const res = await fetch(url + '/api/v1' + path, {
      method,
      headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  function fetchSite(site: string, path = '/'): Promise<{ status: number; body: string }> {
    const [host, port] = [edge!.slice(0, edge!.lastIndexOf(':')), edge!.slice(edge!.lastIndexOf(':') + 1)];
    return new Promise((ok, fail) => {
      const req = httpRequest({ host, port, path, headers: { Host: `${site}.localhost:${port}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end();
    });
  }

  async function deploy(site: string, files: Record<string, string>, token = adminToken): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'pier-web-site-'));
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    await promisify(execFile)(pierBin, ['deploy', dir, '--site', site], {
      env: { ...cleanEnv(), PIER_API: url, PIER_TOKEN: token },
    });
    await rm(dir, { recursive: true, force: true });
  }

  async function stop(): Promise<void> {
    if (child.exitCode === null) {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(data, { recursive: true, force: true });
  }

  return { url, adminToken, data, edge, api, fetchSite, deploy, stop };
}
