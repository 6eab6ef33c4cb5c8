// Analytics in a real browser against the real `pier serve`: requests
// made to a site over the edge show in its analytics (chart, legend and
// table) once the edge flushed them, at 1 hour, 24 hours and 7 days; the
// site overview's 24 h chart; a tenant's analytics for the operator; a
// tenant refused the tenants' pages; a worker's invocations, CPU time and
// violations; uPlot loaded only by pages with a chart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pierBin, startPier, type Pier } from './pier';
import { checkPage, horizontalOverflow, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

let pier: Pier;
let acmeToken: string;

interface Usage {
  totals: { requests: Record<string, number>; bytes_out: number; invocations: Record<string, number> };
}

/** Deploys the analytics worker (testdata/analytics-worker.wat, built) beside an index.html to site. */
async function deployWorker(site: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pier-web-worker-'));
  try {
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>App</title><h1>App</h1>');
    const wasm = join(dir, 'worker.wasm');
    await copyFile(new URL('./testdata/analytics-worker.wasm', import.meta.url), wasm);
    await promisify(execFile)(pierBin, ['deploy', dir, '--site', site, '--worker', wasm], {
      env: { PATH: process.env.PATH, PIER_API: pier.url, PIER_TOKEN: pier.adminToken },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  pier = await startPier(['--workers=true']);
  await pier.api('POST', '/tenants', { name: 'acme' });
  await pier.api('POST', '/tenants', { name: 'globex' });
  await pier.api('POST', '/sites', { name: 'blog', tenant: 'acme' });
  await pier.api('POST', '/sites', { name: 'quiet', tenant: 'acme' });
  await pier.api('POST', '/sites', { name: 'news', tenant: 'globex' });
  await pier.api('POST', '/tenants', { name: 'initech' });
  await pier.api('POST', '/sites', { name: 'app', tenant: 'initech' });
  await deployWorker('app');
  await pier.deploy('blog', { 'index.html': '<!doctype html><title>Blog</title><h1>Hello, analytics</h1>' });
  acmeToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'analytics-test' })).token;
});

afterAll(async () => {
  await pier?.stop();
});

function inBrowser(name: string, width: number, fn: (s: Session) => Promise<void>) {
  return inBrowserAt(pier.url, name, width, fn);
}

function signIn(page: Page, token: string) {
  return signInAt(page, pier.url, token);
}

/** The figure of a chart by its title. */
function figure(page: Page | Locator, name: string): Locator {
  return page.getByRole('figure', { name, exact: true });
}

/** Opens a chart's table and sums each column over its rows. */
async function tableSums(fig: Locator): Promise<Record<string, number>> {
  const toggle = fig.getByRole('button', { name: 'Show as table' });
  if (await toggle.count()) await toggle.click();
  const table = fig.getByRole('table');
  await table.waitFor();
  const sums: Record<string, number> = {};
  for (const cell of await table.locator('tbody td').all()) {
    const label = (await cell.getAttribute('data-label'))!;
    sums[label] = (sums[label] ?? 0) + Number((await cell.textContent())!.replace(/,/g, ''));
  }
  return sums;
}

it('requests made over the edge show in the analytics once the edge flushed them', async () => {
  await inBrowser('analytics-flush', 1440, async ({ page }) => {
    await signIn(page, acmeToken);
    await page.goto(pier.url + '/sites/blog/analytics');
    await page.getByRole('heading', { name: 'No traffic in the last 24 hours' }).waitFor();

    // Three pages and one miss. The edge flushes its counters to the
    // store at least every 10 s; the page reads them again on Refresh.
    for (let i = 0; i < 3; i++) expect((await pier.fetchSite('blog', '/')).status).toBe(200);
    expect((await pier.fetchSite('blog', '/no-such-page')).status).toBe(404);
    // And two worker answers and one worker the CPU limit stopped.
    for (let i = 0; i < 2; i++) expect(await pier.fetchSite('app', '/hello')).toEqual({ status: 200, body: 'hello from a worker\n' });
    expect((await pier.fetchSite('app', '/spin')).status).toBeGreaterThanOrEqual(500);
    const total = figure(page, 'Requests by status class').locator('.chart-total');
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return (await total.count()) ? total.textContent() : 'none';
        },
        { timeout: 45_000, interval: 2_000 },
      )
      .toBe('4');
  });
  const usage = await pier.api<Usage>('GET', '/sites/blog/usage');
  expect(usage.totals.requests).toEqual({ '1xx': 0, '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0 });
  await expect
    .poll(async () => (await pier.api<Usage>('GET', '/sites/app/usage')).totals.invocations, { timeout: 20_000 })
    .toMatchObject({ ok: 2, exceededCpu: 1 });
}, 90_000);

describe.each(widths)('at %d px', (width) => {
  it("a site's analytics show the requests just made, at 24 hours, 1 hour and 7 days", async () => {
    await inBrowser('analytics-site', width, async ({ page, requests }) => {
      const usageQueries: URL[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/usage?')) usageQueries.push(new URL(r.url()));
      });
      await signIn(page, acmeToken);
      expect(requests.filter((u) => /\/assets\/chart-/.test(u)), 'uPlot on the sites list').toEqual([]);

      await page.getByRole('link', { name: 'blog', exact: true }).click();
      await page.getByRole('link', { name: 'Analytics', exact: true }).click();
      expect(new URL(page.url()).pathname).toBe('/sites/blog/analytics');
      const req = figure(page, 'Requests by status class');
      await req.waitFor();
      expect(await page.getByRole('radio', { name: '24 hours' }).isChecked()).toBe(true);
      expect(usageQueries.at(-1)!.searchParams.get('step')).toBe('5m');
      expect(await req.locator('.chart-total').textContent()).toBe('4');
      const legend = req.getByRole('list', { name: 'Requests: series' });
      expect(await legend.getByRole('listitem').allTextContents()).toEqual(['2xx3', '3xx0', '4xx1', '5xx0']);
      await expect.poll(() => req.getByRole('img').getAttribute('aria-label')).toContain('4 in total; 2xx 3, 3xx 0, 4xx 1, 5xx 0');
      await req.locator('canvas').first().waitFor();
      expect(requests.filter((u) => /\/assets\/chart-[\w-]+\.js$/.test(u))).toHaveLength(1);
      expect(await tableSums(req)).toEqual({ '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0 });
      expect(await req.getByRole('button', { name: 'Hide table' }).getAttribute('aria-expanded')).toBe('true');

      const bytesOut = figure(page, 'Bytes out');
      expect(await bytesOut.locator('.chart-total').textContent()).toMatch(/^\d+(\.\d)? (B|KiB)$/);
      expect(await bytesOut.locator('.chart-total').textContent()).not.toBe('0 B');
      expect(await page.getByRole('region', { name: 'Workers' }).textContent()).toContain('No worker ran in the last 24 hours');
      await checkPage(page, 'analytics-site-24h', width);

      if (width > 700) {
        // Hovering the plot shows the bucket under the pointer.
        const plot = req.locator('.u-over');
        const box = (await plot.boundingBox())!;
        await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
        await expect.poll(() => req.locator('.chart-when').textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
        await page.mouse.move(0, 0);
      }

      await page.getByRole('radio', { name: '1 hour' }).check();
      await expect.poll(() => req.locator('.chart-when').textContent()).toBe('Total, last hour');
      expect(usageQueries.at(-1)!.searchParams.get('step')).toBe('1m');
      const q = usageQueries.at(-1)!.searchParams;
      expect(Date.parse(q.get('to')!) - Date.parse(q.get('from')!)).toBe(3600_000);
      expect(new URL(page.url()).search).toBe('?range=1h');
      expect(await req.locator('.chart-total').textContent()).toBe('4');
      expect(await tableSums(req)).toEqual({ '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0 });
      await checkPage(page, 'analytics-site-1h', width);

      // 7 days read the hourly roll-ups (refreshed every 5 minutes) and
      // their last 2 hours from the minute rows: the requests show at once.
      const asked = usageQueries.length;
      await page.getByRole('radio', { name: '7 days' }).check();
      await expect.poll(() => req.locator('.chart-when').textContent()).toBe('Total, last 7 days');
      const steps = usageQueries.slice(asked, asked + 2).map((u) => {
        const p = u.searchParams;
        return [p.get('step'), (Date.parse(p.get('to')!) - Date.parse(p.get('from')!)) / 3600_000];
      });
      expect(steps.sort()).toEqual([
        ['1h', 168],
        ['30m', 2],
      ]);
      expect(await req.locator('.chart-total').textContent()).toBe('4');
      expect(await tableSums(req)).toEqual({ '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0 });
      await checkPage(page, 'analytics-site-7d', width);

      // The range stays on reload.
      await page.reload();
      await expect.poll(() => req.locator('.chart-when').textContent()).toBe('Total, last 7 days');
      expect(await page.getByRole('radio', { name: '7 days' }).isChecked()).toBe(true);
    });
  });

  it("a site without traffic says so, and the overview charts the site's last 24 hours", async () => {
    await inBrowser('analytics-empty', width, async ({ page }) => {
      await signIn(page, acmeToken);
      await page.goto(pier.url + '/sites/quiet/analytics');
      await page.getByRole('heading', { name: 'No traffic in the last 24 hours' }).waitFor();
      expect(await page.getByRole('figure').count()).toBe(0);
      await checkPage(page, 'analytics-empty', width);

      await page.goto(pier.url + '/sites/blog');
      const traffic = page.getByRole('region', { name: 'Traffic, last 24 hours' });
      const chart = figure(traffic, 'Requests by status class');
      await chart.locator('canvas').first().waitFor();
      expect(await traffic.textContent()).toMatch(/Requests4/);
      expect(await traffic.textContent()).toContain('5xx');
      expect(await tableSums(chart)).toEqual({ '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0 });
      await checkPage(page, 'analytics-overview', width);
      await traffic.getByRole('link', { name: 'View analytics' }).click();
      await figure(page, 'Requests by status class').waitFor();
      expect(new URL(page.url()).pathname).toBe('/sites/blog/analytics');
    });
  });

  it("a worker's invocations by outcome, CPU time, subrequests and limit violations", async () => {
    await inBrowser('analytics-worker', width, async ({ page }) => {
      await signIn(page, pier.adminToken);
      await page.goto(pier.url + '/sites/app/analytics?range=1h');
      const workers = page.getByRole('region', { name: 'Workers' });
      const invocations = figure(workers, 'Worker invocations by outcome');
      await invocations.locator('canvas').first().waitFor();
      expect(await page.getByRole('radio', { name: '1 hour' }).isChecked()).toBe(true);
      expect(await invocations.locator('.chart-total').textContent()).toBe('3');
      expect(await invocations.getByRole('listitem').allTextContents()).toEqual(['OK2', 'CPU limit1']);
      expect(await tableSums(invocations)).toEqual({ OK: 2, 'CPU limit': 1 });
      const violations = figure(workers, 'Limit violations');
      expect(await violations.locator('.chart-total').textContent()).toBe('1');
      expect(await violations.getByRole('listitem').allTextContents()).toEqual(['CPU limit1']);
      expect(await tableSums(violations)).toEqual({ 'CPU limit': 1 });
      const cpu = await figure(workers, 'Worker CPU time').locator('.chart-total').textContent();
      expect(cpu).toMatch(/^\d+(\.\d)? (ms|s)$/);
      expect(cpu).not.toBe('0 ms');
      expect(await figure(workers, 'Subrequests').locator('.chart-total').textContent()).toBe('0');
      const req = figure(page, 'Requests by status class');
      expect(await req.getByRole('listitem').allTextContents()).toEqual(['2xx2', '3xx0', '4xx0', expect.stringMatching(/^5xx1$/)]);
      await checkPage(page, 'analytics-worker', width);

      if (width > 700) {
        // The charts follow their container: a narrower window, narrower canvases, no sideways scroll.
        const canvas = req.locator('canvas').first();
        const wide = (await canvas.boundingBox())!.width;
        await page.setViewportSize({ width: 375, height: 900 });
        await expect.poll(async () => (await canvas.boundingBox())!.width).toBeLessThan(Math.min(wide, 375));
        await expect.poll(() => horizontalOverflow(page)).toBe(0);
      }
    });
  });

  it("the operator sees a tenant's analytics", async () => {
    await inBrowser('analytics-tenant', width, async ({ page }) => {
      await signIn(page, pier.adminToken);
      await page.goto(pier.url + '/tenants/acme/analytics');
      await page.getByRole('heading', { name: 'acme', level: 1 }).waitFor();
      const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
      expect(await crumbs.getByRole('link', { name: 'Tenants' }).getAttribute('href')).toBe('/tenants');
      const tab = page.getByRole('navigation', { name: 'Tenant' }).getByRole('link', { name: 'Analytics' });
      expect(await tab.getAttribute('aria-current')).toBe('page');
      const req = figure(page, 'Requests by status class');
      await req.locator('canvas').first().waitFor();
      expect(await req.locator('.chart-total').textContent()).toBe('4');
      expect(await tableSums(req)).toEqual({ '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0 });
      await checkPage(page, 'analytics-tenant', width);

      await page.goto(pier.url + '/tenants/globex/analytics');
      await page.getByRole('heading', { name: 'No traffic in the last 24 hours' }).waitFor();
      await page.goto(pier.url + '/tenants/nobody/analytics');
      await page.getByRole('heading', { name: 'Tenant not found' }).waitFor();
    });
  });

  it("a tenant cannot see another tenant's analytics", async () => {
    // The API answers another tenant's usage 404; the console's tenant pages are the operator's.
    const other = await fetch(pier.url + '/api/v1/tenants/globex/usage', { headers: { Authorization: 'Bearer ' + acmeToken } });
    expect(other.status).toBe(404);
    await inBrowser('analytics-tenant-refused', width, async ({ page }) => {
      await signIn(page, acmeToken);
      await page.goto(pier.url + '/tenants/globex/analytics');
      await page.getByRole('heading', { name: 'Operators only' }).waitFor();
      expect(await page.getByRole('figure').count()).toBe(0);
      await checkPage(page, 'analytics-tenant-refused', width);
      await page.goto(pier.url + '/sites/news/analytics');
      await page.getByRole('heading', { name: 'Site not found' }).waitFor();
      expect(await page.getByRole('figure').count()).toBe(0);
    });
  });
});
