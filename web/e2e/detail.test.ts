// A deployment's detail page, the New site form and the operator's
// attention page, in a real browser against the real `pier serve` (with
// TLS on, so the certificate order budget exists): every view passes
// axe-core and fits 375 px and 1440 px without sideways scrolling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

let pier: Pier;
let tenantToken: string;

/** A test's time limit: a loaded machine renders the 250-row list and runs axe-core slowly. */
const SLOW = 180_000;

/** Files besides the rules: more than one page of the file list. */
const EXTRA_FILES = 250;

const redirects = (n: number) => `# moved pages\n/old-${n} /new 301\n/blog/* /posts/:splat 302\n`;
const headers = '/*\n  X-Frame-Options: DENY\n  X-Test: detail\n';

function site(n: number): Record<string, string> {
  const files: Record<string, string> = {
    'index.html': `<!doctype html><title>Docs</title><h1>Version ${n}</h1>`,
    'about/index.html': '<!doctype html><title>About</title>',
    _redirects: redirects(n),
    _headers: headers,
  };
  for (let i = 0; i < EXTRA_FILES; i++) files[`assets/part-${String(i).padStart(3, '0')}.txt`] = `part ${i} of version ${n}\n`;
  return files;
}

type Dep = { id: string; active: boolean; files: number; preview_url: string; created_at: string };

async function deployments(): Promise<Dep[]> {
  return (await pier.api<{ deployments: Dep[] }>('GET', '/sites/blog/deployments')).deployments;
}

beforeAll(async () => {
  pier = await startPier(['--tls-internal', '--https', '127.0.0.1:0']);
  await pier.api('POST', '/tenants', { name: 'acme' });
  await pier.api('POST', '/tenants', { name: 'globex' });
  await pier.api('POST', '/sites', { name: 'blog', tenant: 'acme' });
  await pier.deploy('blog', site(1));
  await pier.deploy('blog', site(2));
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'detail-test' })).token;
}, 120_000);

afterAll(async () => {
  await pier?.stop();
});

function inBrowser(name: string, width: number, fn: (s: Session) => Promise<void>) {
  return inBrowserAt(pier.url, name, width, fn);
}

function signIn(page: Page, token: string) {
  return signInAt(page, pier.url, token);
}

it('the attention page says when nothing needs attention', async () => {
  await inBrowser('attention-empty', 1440, async ({ page }) => {
    await signIn(page, pier.adminToken);
    await page.getByRole('link', { name: 'Attention' }).click();
    await page.getByRole('heading', { name: 'Nothing needs attention' }).waitFor();
    await checkPage(page, 'attention-empty', 1440);
  });
  // Now something does: a blocked claim.
  await pier.api('POST', '/sites/blog/domains', { hostname: 'www.example.com' });
  await pier.api('POST', '/sites/blog/domains/www.example.com/block');
}, SLOW);

describe.each(widths)('at %d px', (width) => {
  it('a tenant opens a deployment from the list: its files, _redirects and _headers, the preview URL copied, a roll back', async () => {
    await inBrowser('deployment-detail', width, async ({ page, context }) => {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pier.url });
      const deps = await deployments();
      const other = deps.find((d) => !d.active)!;
      const live = deps.find((d) => d.active)!;
      const n = other.created_at < live.created_at ? 1 : 2;

      await signIn(page, tenantToken);
      await page.goto(pier.url + '/sites/blog/deployments');
      await page.getByRole('list', { name: 'Deployments' }).getByRole('link', { name: other.id, exact: true }).click();
      await page.getByRole('heading', { name: `Deployment ${other.id}` }).waitFor();
      expect(new URL(page.url()).pathname).toBe(`/sites/blog/deployments/${other.id}`);
      expect(await page.getByRole('link', { name: 'Deployments', exact: true }).getAttribute('aria-current')).toBe('page');
      expect(await page.locator('.detail-title .live-marker').count()).toBe(0);

      // The summary and the config.
      const summary = page.getByRole('region', { name: 'Summary' });
      await expect.poll(() => summary.textContent()).toContain('CLI');
      expect(await summary.textContent()).toContain((EXTRA_FILES + 2).toLocaleString('en'));
      // The live deployment is looked up after the page shows this one.
      await expect.poll(() => summary.getByRole('link', { name: live.id }).count()).toBe(1);
      const config = page.getByRole('region', { name: 'Configuration' });
      expect(await config.textContent()).toContain('Automatic trailing slash');
      expect(await config.textContent()).toContain('None: static files only');

      // The rules files as deployed.
      const redirectsText = page.getByRole('region', { name: '_redirects' }).locator('pre');
      expect(await redirectsText.textContent()).toBe(redirects(n));
      expect(await page.getByRole('region', { name: '_headers' }).locator('pre').textContent()).toBe(headers);

      // The files: one page of 200, more on request, a filter.
      const files = page.getByRole('table', { name: 'Files' });
      const rows = files.locator('tbody tr');
      await expect.poll(() => rows.count()).toBe(200);
      expect(await files.getByRole('rowheader', { name: '/about/index.html' }).count()).toBe(1);
      const about = files.getByRole('row', { name: /\/about\/index\.html/ });
      expect(await about.textContent()).toContain('text/html');
      expect(await about.textContent()).toMatch(/[0-9a-f]{16}/);
      const status = page.getByRole('region', { name: 'Files' }).getByRole('status');
      expect(await status.textContent()).toBe(`${EXTRA_FILES + 2} files; showing the first 200`);
      await page.getByRole('button', { name: 'Show 52 more files' }).click();
      await expect.poll(() => rows.count()).toBe(EXTRA_FILES + 2);
      expect(await page.getByRole('button', { name: /more files/ }).count()).toBe(0);
      await page.getByLabel('Filter files').fill('part-04');
      await expect.poll(() => rows.count()).toBe(10);
      expect(await status.textContent()).toBe(`10 files of ${EXTRA_FILES + 2} match “part-04”`);
      await page.getByLabel('Filter files').fill('no-such-file');
      await page.getByRole('heading', { name: 'No matching files' }).waitFor();
      await page.getByLabel('Filter files').fill('');
      await expect.poll(() => rows.count()).toBe(200);

      await page.getByRole('button', { name: 'Copy preview URL' }).click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(other.preview_url);
      await expect.poll(() => page.getByRole('status').first().textContent()).toContain(`Copied the preview URL of ${other.id}`);
      expect(await page.getByRole('link', { name: /--blog\./ }).getAttribute('href')).toBe(other.preview_url);
      await checkPage(page, 'deployment-detail', width);

      // Roll back (or publish) from the detail page, through the shared dialog.
      const action = n === 1 ? 'Roll back' : 'Publish';
      await page.getByRole('button', { name: action, exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain(live.id);
      await checkPage(page, 'deployment-detail-dialog', width);
      await dialog.getByRole('button', { name: action }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.locator('.detail-title .live-marker').waitFor();
      expect(await page.getByRole('button', { name: /^(Roll back|Publish)$/ }).count()).toBe(0);
      expect((await deployments()).find((d) => d.active)!.id).toBe(other.id);
      expect((await pier.fetchSite('blog')).body).toContain(`Version ${n}`);

      // An unknown deployment.
      await page.goto(pier.url + '/sites/blog/deployments/nosuchid');
      await page.getByRole('heading', { name: 'Deployment not found' }).waitFor();
    });
  }, SLOW);

  it('the operator creates a site for a tenant through the form; a bad name shows the field error', async () => {
    await inBrowser('new-site', width, async ({ page }) => {
      await signIn(page, pier.adminToken);
      await page.getByRole('button', { name: 'New site' }).click();
      const form = page.getByRole('form', { name: 'New site' });
      await form.waitFor();
      const name = form.getByLabel('Site name');
      const tenant = form.getByLabel('Tenant');
      await expect.poll(() => tenant.locator('option').allTextContents()).toEqual(['Choose a tenant', 'acme', 'globex']);

      // The browser's own check, before asking the API.
      await name.fill('My_Site');
      await form.getByRole('button', { name: 'Create site' }).click();
      await expect.poll(() => form.getByRole('alert').first().textContent()).toContain("Use only lowercase letters a–z, digits and '-'");
      expect(await name.getAttribute('aria-invalid')).toBe('true');
      expect(await form.getByRole('alert').last().textContent()).toContain('Choose the tenant');
      await checkPage(page, 'new-site-invalid', width);

      // The API's refusal, on the field it names.
      await name.fill('blog');
      await tenant.selectOption('globex');
      await form.getByRole('button', { name: 'Create site' }).click();
      await expect.poll(() => form.getByRole('alert').textContent()).toMatch(/already exists|blog/);
      expect(await name.getAttribute('aria-invalid')).toBe('true');
      const sites = (await pier.api<{ sites: { name: string }[] }>('GET', '/sites')).sites.map((s) => s.name);
      expect(sites.filter((s) => s === 'blog')).toHaveLength(1);

      const created = `docs-${width}`;
      await name.fill(created);
      await tenant.selectOption('globex');
      await checkPage(page, 'new-site', width);
      await form.getByRole('button', { name: 'Create site' }).click();
      await page.getByRole('heading', { name: created, level: 1 }).waitFor();
      expect(new URL(page.url()).pathname).toBe(`/sites/${created}`);
      const s = await pier.api<{ tenant_id: string }>('GET', `/sites/${created}`);
      const globex = await pier.api<{ id: string }>('GET', '/tenants/globex');
      expect(s.tenant_id).toBe(globex.id);
    });
  }, SLOW);

  it('a tenant creates a site without naming a tenant', async () => {
    await inBrowser('new-site-tenant', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await page.getByRole('button', { name: 'New site' }).click();
      const form = page.getByRole('form', { name: 'New site' });
      expect(await form.getByLabel('Tenant').count()).toBe(0);
      await form.getByLabel('Site name').fill(`shop-${width}`);
      await form.getByRole('button', { name: 'Create site' }).click();
      await page.getByRole('heading', { name: `shop-${width}`, level: 1 }).waitFor();
    });
  }, SLOW);

  it('the operator sees the blocked domain and the certificate budget; a tenant sees "Operators only"', async () => {
    await inBrowser('attention', width, async ({ page }) => {
      await signIn(page, pier.adminToken);
      await page.getByRole('link', { name: 'Attention' }).click();
      const list = page.getByRole('list', { name: 'Domains needing attention' });
      const item = list.getByRole('listitem', { name: 'www.example.com: Blocked' });
      await item.waitFor();
      expect(await item.textContent()).toContain('Blocked by the platform operator');
      expect(await item.getByRole('link', { name: 'blog' }).getAttribute('href')).toBe('/sites/blog/domains');
      await expect.poll(() => item.getByRole('link', { name: 'acme' }).getAttribute('href')).toBe('/tenants/acme');
      expect(await item.locator('time').first().textContent()).toMatch(/ago|now/);
      const meter = page.getByRole('meter', { name: 'Certificate orders used this hour' });
      expect(await meter.getAttribute('aria-valuemax')).toBe('100');
      expect(await meter.getAttribute('aria-valuetext')).toMatch(/^\d+ of 100 orders used this hour$/);
      expect(await page.getByRole('heading', { name: 'Nothing needs attention' }).count()).toBe(0);
      await checkPage(page, 'attention', width);
    });
    await inBrowser('attention-tenant', width, async ({ page }) => {
      await signIn(page, tenantToken);
      expect(await page.getByRole('link', { name: 'Attention' }).count()).toBe(0);
      await page.goto(pier.url + '/attention');
      await page.getByRole('heading', { name: 'Operators only' }).waitFor();
      expect(await page.getByText('www.example.com').count()).toBe(0);
      await checkPage(page, 'attention-tenant', width);
    });
  }, SLOW);
});
