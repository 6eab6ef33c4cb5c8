// The console in a real browser against the real `pier serve`: sign in
// as the operator and as a tenant, see the sites, sign out; every page
// passes axe-core, fits 375 px and 1440 px without sideways scrolling and
// talks only to its own origin. Prints the first-load budgets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { startPier, type Pier } from './pier';
import { axeViolations, horizontalOverflow, openBrowser, screenshot, widths, type Session } from './browser';

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
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'console-test' })).token;
});

afterAll(async () => {
  await pier?.stop();
});

/** Runs fn in a fresh browser; a failure leaves a screenshot behind. */
async function inBrowser(name: string, width: number, fn: (s: Session) => Promise<void>) {
  const s = await openBrowser(width);
  try {
    await fn(s);
    expect(s.problems, 'CSP violations or page errors').toEqual([]);
    const foreign = s.requests.filter((u) => !u.startsWith(pier.url + '/'));
    expect(foreign, 'requests to another host than the console').toEqual([]);
  } catch (err) {
    const path = await screenshot(s.page, `FAILED-${name}-${width}`).catch((e) => `none (${e})`);
    console.log(`screenshot of the failure: ${path}`);
    throw err;
  } finally {
    await s.close();
  }
}

/** The checks every page gets: accessibility, fit, and a screenshot. */
async function checkPage(page: Page, name: string, width: number) {
  await screenshot(page, `${name}-${width}`);
  expect(await axeViolations(page), `axe-core on ${name}`).toEqual([]);
  expect(await horizontalOverflow(page), `horizontal scroll on ${name} at ${width} px`).toBe(0);
}

async function signIn(page: Page, token: string) {
  await page.goto(pier.url + '/');
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Sites' }).waitFor();
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

      await page.getByLabel('Token').fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
      await checkPage(page, 'sign-in-error', width);

      await signIn(page, pier.adminToken);
      await page.getByRole('cell', { name: 'globex' }).waitFor();
      expect(await siteNames(page)).toEqual(['blog', 'news', 'shop']);
      const blog = page.getByRole('row', { name: /blog/ });
      await expect.poll(() => blog.textContent()).toContain('acme');
      await expect.poll(() => blog.getByRole('link').getAttribute('href')).toMatch(/^http:\/\/blog\.localhost:\d+\/$/);
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
    expect(scripts.length).toBeGreaterThan(0);
    expect(jsGzip).toBeLessThanOrEqual(250 * 1024);
  });
});

it('a list longer than a page shows the first page and loads the next with next_cursor', async () => {
  const many = await startPier();
  try {
    await many.api('POST', '/tenants', { name: 'many' });
    const names = Array.from({ length: 105 }, (_, i) => `site-${String(i).padStart(3, '0')}`);
    for (const name of names) await many.api('POST', '/sites', { name, tenant: 'many' });
    const s = await openBrowser(1440);
    try {
      await s.page.goto(many.url + '/');
      await s.page.getByLabel('Token').fill(many.adminToken);
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
