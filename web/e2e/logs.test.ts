// The live log in a real browser against the real `pier serve` (workers
// on): a tenant opens a site's Logs tab, the test requests the site
// through the edge and sees the line; pause holds lines back and resume
// shows them; the filters hide what does not match; a worker's own line
// shows under its invocation; a reader too slow for the stream is told
// lines were dropped. Every state passes checkPage at 375 and 1440 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { pierBin, startPier, type Pier } from './pier';
import { checkPage, inBrowser, signIn, widths } from './browser';

/** A prebuilt worker of hosting's tests: GET /log logs "hello from the guest" and answers "logged". */
const bindingsWasm = resolve('../hosting/testdata/workers/bindings.wasm');

let pier: Pier;
let token: string;

/** Deploys files and a worker to site with the CLI. */
async function deployWorker(p: Pier, site: string, files: Record<string, string>, wasm: string, tok: string) {
  const dir = await mkdtemp(join(tmpdir(), 'pier-web-worker-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    await promisify(execFile)(pierBin, ['deploy', dir, '--site', site, '--worker', wasm], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PIER_API: p.url, PIER_TOKEN: tok },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  pier = await startPier(['--workers=true']);
  await pier.api('POST', '/tenants', { name: 'acme' });
  await pier.api('POST', '/sites', { name: 'blog', tenant: 'acme' });
  await pier.api('POST', '/sites', { name: 'app', tenant: 'acme' });
  token = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'logs-test' })).token;
  await pier.deploy('blog', {
    'index.html': '<!doctype html><title>Blog</title><h1>Hello</h1>',
    'hello.html': '<!doctype html><title>Hello</title><p>hello</p>',
    'about.html': '<!doctype html><title>About</title><p>about</p>',
  });
  await deployWorker(pier, 'app', { 'index.html': '<!doctype html><title>App</title>' }, bindingsWasm, token);
});

afterAll(async () => {
  await pier?.stop();
});

/** Opens the Logs tab of site and waits until the stream is live. */
async function openLogs(page: Page, origin: string, site: string) {
  await page.goto(`${origin}/sites/${site}/logs`);
  await page.getByRole('heading', { name: site }).waitFor();
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
}

/** The row of the line whose path is path. */
function row(page: Page, path: string) {
  return page.getByRole('row', { name: new RegExp(path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) });
}

describe.each(widths)('at %d px', (width) => {
  it('shows requests as they happen; pause, resume and filters', async () => {
    await inBrowser(pier.url, `logs-${width}`, width, async ({ page }) => {
      await signIn(page, pier.url, token);
      await openLogs(page, pier.url, 'blog');
      await page.getByRole('heading', { name: 'Waiting for requests' }).waitFor();
      await checkPage(page, 'logs-empty', width);

      // A request through the edge appears with its path and status.
      expect((await pier.fetchSite('blog', '/hello')).status).toBe(200);
      await row(page, '/hello').waitFor();
      const hello = await row(page, '/hello').textContent();
      expect(hello).toContain('200');
      expect(hello).toContain('GET');
      expect(hello).toContain('Static file');
      await checkPage(page, 'logs', width);

      // Paused: the line is counted, not shown; resumed: shown.
      await page.getByRole('button', { name: 'Pause' }).click();
      expect((await pier.fetchSite('blog', '/about')).status).toBe(200);
      await page.getByText('Paused · 1 new line').waitFor();
      expect(await row(page, '/about').count()).toBe(0);
      await checkPage(page, 'logs-paused', width);
      await page.getByRole('button', { name: 'Resume' }).click();
      await row(page, '/about').waitFor();
      expect(await page.getByText(/Paused/).count()).toBe(0);

      // Filters hide what does not match.
      expect((await pier.fetchSite('blog', '/nope')).status).toBe(404);
      await row(page, '/nope').waitFor();
      await page.getByLabel('Status').selectOption('4xx');
      await expect.poll(() => row(page, '/hello').count()).toBe(0);
      expect(await row(page, '/nope').count()).toBe(1);
      expect(await row(page, '/nope').textContent()).toContain('404');
      await page.getByLabel('Status').selectOption('');
      await page.getByLabel('Outcome').selectOption('static');
      await expect.poll(() => row(page, '/nope').count()).toBe(0);
      expect(await row(page, '/hello').count()).toBe(1);
      await page.getByLabel('Outcome').selectOption('');
      await page.getByLabel('Search lines').fill('ABOUT');
      await expect.poll(() => row(page, '/hello').count()).toBe(0);
      expect(await row(page, '/about').count()).toBe(1);
      await checkPage(page, 'logs-filtered', width);
      await page.getByLabel('Search lines').fill('zzz');
      await page.getByRole('heading', { name: 'No matching lines' }).waitFor();
      await page.getByLabel('Search lines').fill('');
      await expect.poll(() => row(page, '/hello').count()).toBe(1);
    });
  });

  it("shows the worker's own line under its invocation", async () => {
    await inBrowser(pier.url, `logs-worker-${width}`, width, async ({ page }) => {
      await signIn(page, pier.url, token);
      await openLogs(page, pier.url, 'app');
      const res = await pier.fetchSite('app', '/log');
      expect(res).toEqual({ status: 200, body: 'logged' });
      await row(page, '/log').waitFor();
      expect(await row(page, '/log').textContent()).toContain('Worker: ok');
      const line = page.getByRole('row', { name: /worker log.*hello from the guest/ });
      await line.waitFor();
      // Under the invocation: in the same group of rows.
      expect(await page.locator('tbody', { has: row(page, '/log') }).getByText('hello from the guest').count()).toBe(1);
      await checkPage(page, 'logs-worker', width);
    });
  });
});

describe('a reader too slow for the stream', () => {
  let slow: Pier;
  let slowToken: string;

  beforeAll(async () => {
    // --log-buffer 1: a reader may fall one event behind, so bursts of
    // requests outrun it.
    slow = await startPier(['--log-buffer', '1']);
    await slow.api('POST', '/tenants', { name: 'acme' });
    await slow.api('POST', '/sites', { name: 'busy', tenant: 'acme' });
    slowToken = (await slow.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'logs-test' })).token;
    await slow.deploy('busy', { 'index.html': 'busy' });
  });

  afterAll(async () => {
    await slow?.stop();
  });

  it.each(widths)('is told that lines were dropped (%d px)', async (width) => {
    await inBrowser(slow.url, `logs-dropped-${width}`, width, async ({ page }) => {
      await signIn(page, slow.url, slowToken);
      await openLogs(page, slow.url, 'busy');
      const note = page.getByRole('status').filter({ hasText: 'dropped because this page could not keep up' });
      await expect
        .poll(
          async () => {
            await Promise.all(Array.from({ length: 40 }, () => slow.fetchSite('busy', '/')));
            return note.count();
          },
          { timeout: 30_000, interval: 50 },
        )
        .toBe(1);
      await page.getByText(/lines? dropped \(reader too slow\)/).first().waitFor();
      await checkPage(page, 'logs-dropped', width);
    });
  });
});
