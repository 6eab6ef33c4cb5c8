// The console in a real browser against the real `pier serve`: sign in
// as the operator and as a tenant, see the sites, sign out; every page
// passes axe-core, fits 375 px and 1440 px without sideways scrolling and
// talks only to its own origin. Prints the first-load budgets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser as inBrowserAt, openBrowser, screenshot, signIn as signInAt, widths, type Session } from './browser';

let pier: Pier;
let tenantToken: string;

beforeAll(async () => {
  pier = await startPier();
  await pier.api('POST', '/tenants', { name: 'acme' });
  await pier.api('POST', '/tenants', { name: 'globex' });
  await pier.api('POST', '/sites', { name: 'blog', tenant: 'acme' });
  await pier.api('POST', '/sites', { name: 'shop', tenant: 'acme' });
  await pier.api('POST', '/sites', { name: 'news', tenant: 'globex' });
  await pier.deploy('blog', { 'index.html': '<!doctype html><title>Blog</title><h1>Hello</h1>' });
  await pier.deploy('blog', { 'index.html': '<!doctype html><title>Blog</title><h1>Hello again</h1>', 'about.html': 'About' });
  await pier.api('POST', '/sites/blog/domains', { hostname: 'www.example.com' });
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'console-test' })).token;
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

function siteNames(page: Page): Promise<string[]> {
  return page.locator('tbody th .site-name').allTextContents();
}

describe.each(widths)('at %d px', (width) => {
  it('an operator signs in, sees every site, signs out, and the session stops working', async () => {
    await inBrowser('operator', width, async ({ page, context }) => {
      await page.goto(pier.url + '/');
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await checkPage(page, 'sign-in', width);

      await page.getByLabel('Token', { exact: true }).fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
      await checkPage(page, 'sign-in-error', width);

      await signIn(page, pier.adminToken);
      await page.getByRole('cell', { name: 'globex' }).waitFor();
      expect(await siteNames(page)).toEqual(['blog', 'news', 'shop']);
      const blog = page.getByRole('row', { name: /blog/ });
      await expect.poll(() => blog.textContent()).toContain('acme');
      await expect.poll(() => blog.getByRole('link', { name: /localhost/ }).getAttribute('href')).toMatch(/^http:\/\/blog\.localhost:\d+\/$/);
      await checkPage(page, 'sites-operator', width);

      await page.getByLabel('Search sites').fill('glob');
      await expect.poll(() => siteNames(page)).toEqual(['news']);
      await page.getByLabel('Search sites').fill('zzz');
      await page.getByRole('heading', { name: 'No matching sites' }).waitFor();
      await checkPage(page, 'sites-no-match', width);

      const cookies = await context.cookies(pier.url);
      const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      expect(cookie).toContain('pier_session=');
      expect((await fetch(pier.url + '/api/v1/session', { headers: { Cookie: cookie } })).status).toBe(200);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      expect(await page.getByRole('status').textContent()).toContain('signed out');
      expect((await fetch(pier.url + '/api/v1/session', { headers: { Cookie: cookie } })).status).toBe(401);
      expect((await fetch(pier.url + '/api/v1/sites', { headers: { Cookie: cookie } })).status).toBe(401);
      await page.goto(pier.url + '/sites');
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    });
  });

  it('a tenant signs in and sees only its own sites', async () => {
    await inBrowser('tenant', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await page.getByRole('row', { name: /shop/ }).waitFor();
      expect(await siteNames(page)).toEqual(['blog', 'shop']);
      expect(await page.getByRole('banner').textContent()).toContain('acme');
      expect(await page.getByText('news').count()).toBe(0);
      const live = (await pier.api<{ active_deployment: string }>('GET', '/sites/blog')).active_deployment;
      expect(live).toBeTruthy();
      await expect.poll(() => page.getByRole('row', { name: /blog/ }).textContent()).toContain(live);
      expect(await page.getByRole('row', { name: /shop/ }).textContent()).toContain('Not deployed');
      await checkPage(page, 'sites-tenant', width);
      await page.goto(pier.url + '/no-such-page');
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
      await checkPage(page, 'not-found', width);
    });
  });
});

type Dep = { id: string; active: boolean; files: number };

async function blogDeployments(): Promise<Dep[]> {
  return (await pier.api<{ deployments: Dep[] }>('GET', '/sites/blog/deployments')).deployments;
}

describe.each(widths)('site pages at %d px', (width) => {
  it('an operator opens a site from the list and sees its overview', async () => {
    await inBrowser('site-overview', width, async ({ page }) => {
      const live = (await blogDeployments()).find((d) => d.active)!;
      await signIn(page, pier.adminToken);
      await page.getByRole('link', { name: 'blog', exact: true }).click();
      await page.getByRole('heading', { name: 'blog', level: 1 }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/sites/blog');
      const liveCard = page.getByRole('region', { name: 'Live' });
      await expect.poll(() => liveCard.textContent()).toContain(live.id);
      expect(await liveCard.getByRole('link').getAttribute('href')).toMatch(/^http:\/\/blog\.localhost:\d+\/$/);
      const latest = page.getByRole('list', { name: 'Latest deployments' });
      await expect.poll(() => latest.getByRole('listitem').count()).toBe(2);
      expect(await latest.getByRole('listitem').first().textContent()).toContain(live.id);
      const domain = page.getByRole('row', { name: /www\.example\.com/ });
      expect(await domain.textContent()).toContain('Pending verification');
      expect(await domain.textContent()).toContain('No certificate');
      const traffic = page.getByRole('region', { name: 'Traffic, last 24 hours' });
      await traffic.getByText('Bytes out').waitFor();
      expect(await traffic.textContent()).toMatch(/Requests\d/);
      expect(await traffic.textContent()).toContain('5xx');
      await checkPage(page, 'site-overview', width);

      await page.getByRole('link', { name: 'All deployments' }).click();
      await page.getByRole('list', { name: 'Deployments' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/sites/blog/deployments');
      expect(await page.getByRole('link', { name: 'Deployments', exact: true }).getAttribute('aria-current')).toBe('page');
    });
  });

  it('a tenant cannot open another tenant\'s site', async () => {
    await inBrowser('site-other-tenant', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await page.goto(pier.url + '/sites/news');
      await page.getByRole('heading', { name: 'Site not found' }).waitFor();
      expect(await page.getByText('Traffic').count()).toBe(0);
      await checkPage(page, 'site-not-found', width);
      await page.goto(pier.url + '/sites/news/deployments');
      await page.getByRole('heading', { name: 'Site not found' }).waitFor();
      expect(await page.getByRole('button', { name: /Roll back|Publish/ }).count()).toBe(0);
      await page.goto(pier.url + '/sites/blog');
      await page.getByRole('heading', { name: 'blog', level: 1 }).waitFor();
    });
  });
});

it('deployments: a tenant copies a preview URL and rolls back through the dialog; the edge serves the old content', async () => {
  const deps = await blogDeployments();
  expect(deps).toHaveLength(2);
  const [newer, older] = deps;
  expect(newer.active).toBe(true);
  expect((await pier.fetchSite('blog')).body).toContain('Hello again');

  for (const width of widths) {
    await inBrowser('deployments', width, async ({ page, context }) => {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pier.url });
      await signIn(page, tenantToken);
      await page.goto(pier.url + '/sites/blog/deployments');
      const list = page.getByRole('list', { name: 'Deployments' });
      const item = (d: Dep) => list.getByRole('listitem', { name: new RegExp(d.id) });
      await item(older).waitFor();
      expect(await list.getByRole('listitem').count()).toBe(2);
      const live = await blogDeployments();
      const liveDep = live.find((d) => d.active)!;
      const other = live.find((d) => !d.active)!;
      expect(await item(liveDep).getAttribute('aria-label')).toContain('live');
      expect(await item(liveDep).getByText('Live', { exact: true }).count()).toBe(1);
      expect(await item(other).getByText('Live', { exact: true }).count()).toBe(0);
      expect(await item(liveDep).getByRole('button', { name: /Roll back|Publish/ }).count()).toBe(0);
      expect(await item(older).textContent()).toContain('CLI');
      expect(await item(newer).textContent()).toMatch(/Files\s*2/);

      const preview = await item(older).getByRole('link', { name: /--blog\./ }).getAttribute('href');
      expect(preview).toBe(`http://${older.id}--blog.localhost:${pier.edge.split(':').pop()}/`);
      await item(older).getByRole('button', { name: 'Copy preview URL' }).click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(preview);
      await checkPage(page, 'deployments', width);

      // The dialog: opened by the row's button, focus inside, Escape closes it and changes nothing.
      const action = other.id === older.id ? 'Roll back' : 'Publish';
      await item(other).getByRole('button', { name: action }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.getAttribute('aria-labelledby')).toBeTruthy();
      expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
      for (const key of ['Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
        await page.keyboard.press(key);
        expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null), 'focus stays in the dialog').toBe(true);
      }
      await checkPage(page, 'deployments-dialog', width);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(action);
      expect((await blogDeployments()).find((d) => d.active)!.id).toBe(liveDep.id);
      if (width !== 1440) return;

      // Roll back for real, at the last width.
      expect(action).toBe('Roll back');
      await item(older).getByRole('button', { name: 'Roll back' }).click();
      await dialog.getByRole('heading', { name: `Roll back to ${older.id}?` }).waitFor();
      await dialog.getByRole('button', { name: 'Roll back' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(() => item(older).getAttribute('aria-label')).toContain('live');
      expect(await item(older).getByText('Live', { exact: true }).count()).toBe(1);
      expect(await item(newer).getByText('Live', { exact: true }).count()).toBe(0);
      expect(await item(newer).getByRole('button', { name: 'Publish' }).count()).toBe(1);
      expect(await page.getByRole('status').filter({ hasText: 'Rolled back' }).count()).toBe(1);
      expect((await blogDeployments()).find((d) => d.active)!.id).toBe(older.id);
      await expect.poll(async () => (await pier.fetchSite('blog')).body).toContain('<h1>Hello</h1>');
      await checkPage(page, 'deployments-rolled-back', width);
    });
  }
});

it('budgets: first-load JavaScript, time to an interactive sites list, own origin only', async () => {
  // Sign in once, then load the sites list in a fresh browser holding
  // only the session cookie: a cold cache, as a first visit.
  const first = await openBrowser(1440);
  await signIn(first.page, pier.adminToken);
  const cookies = await first.context.cookies(pier.url);
  await first.close();

  await inBrowser('budget', 1440, async ({ page, context, requests }) => {
    await context.addCookies(cookies);
    const scripts: Promise<number>[] = [];
    page.on('response', (r) => {
      if (r.request().resourceType() === 'script') scripts.push(r.body().then((b) => gzipSync(b, { level: 9 }).length));
    });
    const start = performance.now();
    await page.goto(pier.url + '/sites');
    await page.getByRole('row', { name: /news/ }).waitFor();
    const interactive = performance.now() - start;
    await page.getByLabel('Search sites').fill('news');
    await expect.poll(() => siteNames(page)).toEqual(['news']);
    const jsGzip = (await Promise.all(scripts)).reduce((a, b) => a + b, 0);
    console.log(`console budget: first-load JavaScript ${(jsGzip / 1024).toFixed(1)} KB gzip (budget 250 KB)`);
    console.log(`console budget: first load to an interactive sites list ${interactive.toFixed(0)} ms (budget 1000 ms, loopback)`);
    console.log(`console budget: ${requests.length} requests, all to ${pier.url}`);
    // Every chunk the build produced, loaded on first use or later (charts, hashing, pier.toml).
    const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'console', 'assets');
    let all = 0;
    for (const f of (await readdir(dir)).filter((n) => /\.(js|wasm)$/.test(n)).sort()) {
      const gz = gzipSync(await readFile(join(dir, f)), { level: 9 }).length;
      all += gz;
      console.log(`console bundle: ${f} ${(gz / 1024).toFixed(1)} KB gzip`);
    }
    console.log(`console bundle: all chunks ${(all / 1024).toFixed(1)} KB gzip; first load ${(jsGzip / 1024).toFixed(1)} KB`);
    expect(scripts.length).toBeGreaterThan(0);
    expect(jsGzip).toBeLessThanOrEqual(250 * 1024);
  });
});

it('a list longer than a page shows the first page and loads the next with next_cursor', async () => {
  const many = await startPier();
  try {
    await many.api('POST', '/tenants', { name: 'many', limits: { sites: 200 } }); // more than the free plan's 10
    const names = Array.from({ length: 105 }, (_, i) => `site-${String(i).padStart(3, '0')}`);
    for (const name of names) await many.api('POST', '/sites', { name, tenant: 'many' });
    const s = await openBrowser(1440);
    try {
      await s.page.goto(many.url + '/');
      await s.page.getByLabel('Token', { exact: true }).fill(many.adminToken);
      await s.page.getByRole('button', { name: 'Sign in' }).click();
      await s.page.getByRole('button', { name: 'Load more sites' }).waitFor();
      expect(await siteNames(s.page)).toEqual(names.slice(0, 100));
      expect(await s.page.getByText('100 sites loaded').count()).toBe(1);
      await s.page.getByRole('button', { name: 'Load more sites' }).click();
      await expect.poll(() => siteNames(s.page)).toEqual(names);
      expect(await s.page.getByRole('button', { name: 'Load more sites' }).count()).toBe(0);
      await screenshot(s.page, 'sites-paged-1440');
      expect(s.requests.filter((u) => !u.startsWith(many.url + '/'))).toEqual([]);
    } catch (err) {
      console.log(`screenshot of the failure: ${await screenshot(s.page, 'FAILED-paged-1440').catch((e) => `none (${e})`)}`);
      throw err;
    } finally {
      await s.close();
    }
  } finally {
    await many.stop();
  }
});

it('a site with more deployments than a page lists the first page and loads the next with next_cursor', async () => {
  const many = await startPier();
  try {
    await many.api('POST', '/tenants', { name: 'many' });
    await many.api('POST', '/sites', { name: 'busy', tenant: 'many' });
    for (let i = 0; i < 21; i++) await many.deploy('busy', { 'index.html': `version ${i}` });
    const ids = (await many.api<{ deployments: { id: string }[] }>('GET', '/sites/busy/deployments')).deployments.map((d) => d.id);
    expect(ids).toHaveLength(21);
    const s = await openBrowser(1440);
    try {
      await s.page.goto(many.url + '/');
      await s.page.getByLabel('Token', { exact: true }).fill(many.adminToken);
      await s.page.getByRole('button', { name: 'Sign in' }).click();
      await s.page.getByRole('heading', { name: 'Sites' }).waitFor();
      await s.page.goto(many.url + '/sites/busy/deployments');
      const items = s.page.getByRole('list', { name: 'Deployments' }).locator('.deployment-id');
      await s.page.getByRole('button', { name: 'Load more' }).waitFor();
      expect(await items.allTextContents()).toEqual(ids.slice(0, 20));
      await s.page.getByRole('button', { name: 'Load more' }).click();
      await expect.poll(() => items.allTextContents()).toEqual(ids);
      expect(await s.page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
      expect(s.requests.filter((u) => !u.startsWith(many.url + '/'))).toEqual([]);
    } catch (err) {
      console.log(`screenshot of the failure: ${await screenshot(s.page, 'FAILED-deployments-paged-1440').catch((e) => `none (${e})`)}`);
      throw err;
    } finally {
      await s.close();
    }
  } finally {
    await many.stop();
  }
});
