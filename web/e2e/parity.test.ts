// What the CLI did and the console now does too, in a real browser against
// the real `pier serve` (with TLS on, so blocking speaks of certificates,
// and a DNS server of the test's own, so a domain can be active): an
// operator blocks an active domain claim, which stops being served, on the Domains page (`pier domains
// block`), sees it on the attention page and unblocks it there (`pier
// domains unblock`); a tenant gets neither button. An operator creates an
// admin token (`pier tokens create --admin`), shown once and working as a
// bearer token, and revokes it (`pier tokens delete`); revoking the
// session's own token signs the console out; the list pages with Load
// more; a tenant on /tokens sees "Operators only".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { request as httpRequest } from 'node:http';
import { startPier, type Pier } from './pier';
import { startDNS, type FakeDNS } from './dns';
import { checkPage, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

let pier: Pier;
let dns: FakeDNS;
let tenantToken: string;

/** A test's time limit: a loaded machine runs axe-core slowly. */
const SLOW = 180_000;

beforeAll(async () => {
  dns = await startDNS();
  pier = await startPier(['--dns-resolver', dns.addr, '--tls-internal', '--https', '127.0.0.1:0']);
  await pier.api('POST', '/tenants', { name: 'acme' });
  for (const width of widths) {
    await pier.api('POST', '/sites', { name: `blog-${width}`, tenant: 'acme' });
    await pier.deploy(`blog-${width}`, { 'index.html': `<!doctype html><title>Blog</title><h1>blog ${width}</h1>` });
    const www = `www-${width}.example.com`;
    const d = await pier.api<{ token: string }>('POST', `/sites/blog-${width}/domains`, { hostname: www });
    dns.setTXT(`_pier-challenge.${www}`, d.token);
    const verified = await pier.api<{ status: string }>('POST', `/sites/blog-${width}/domains/${www}/verify`);
    if (verified.status !== 'active') throw new Error(`${www} is ${verified.status}, not active`);
    await pier.api('POST', `/sites/blog-${width}/domains`, { hostname: `held-${width}.example.com` });
    await pier.api('POST', `/sites/blog-${width}/domains/held-${width}.example.com/block`);
  }
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'parity-test' })).token;
}, 120_000);

afterAll(async () => {
  await pier?.stop();
  await dns?.close();
});

function inBrowser(name: string, width: number, fn: (s: Session) => Promise<void>) {
  return inBrowserAt(pier.url, name, width, fn);
}

function signIn(page: Page, token: string) {
  return signInAt(page, pier.url, token);
}

async function domainStatus(site: string, host: string): Promise<string> {
  return (await pier.api<{ status: string }>('GET', `/sites/${site}/domains/${host}`)).status;
}

/** The status of GET / of host over the edge's plain HTTP listener. */
function edgeStatus(host: string): Promise<number> {
  const i = pier.edge.lastIndexOf(':');
  return new Promise((ok, fail) => {
    const req = httpRequest({ host: pier.edge.slice(0, i), port: pier.edge.slice(i + 1), path: '/', headers: { Host: host } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

/** The status of GET /api/v1/tenants with a bearer token. */
async function tenantsStatus(token: string): Promise<number> {
  const res = await fetch(pier.url + '/api/v1/tenants', { headers: { Authorization: 'Bearer ' + token } });
  await res.body?.cancel();
  return res.status;
}

describe.each(widths)('CLI parity at %d px', (width) => {
  const site = `blog-${width}`;
  const host = `www-${width}.example.com`;

  it('an operator blocks an active domain, sees it on the attention page, and unblocks it there', async () => {
    // Served: the edge's plain HTTP answers the active domain with its redirect to HTTPS.
    expect(await edgeStatus(host)).not.toBe(404);
    await inBrowser('parity-block', width, async ({ page }) => {
      await signIn(page, pier.adminToken);
      await page.goto(pier.url + `/sites/${site}/domains`);
      const item = page.getByRole('listitem', { name: host });
      await item.getByRole('button', { name: `Block ${host}` }).click();

      const dialog = page.getByRole('dialog', { name: `Block ${host} of the site ${site}?` });
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('stops being served at once');
      expect(await dialog.textContent()).toContain('no certificate is ordered');
      await checkPage(page, 'parity-block-dialog', width);
      await dialog.getByRole('button', { name: 'Block domain' }).click();
      await expect.poll(() => page.getByRole('status').filter({ hasText: `Blocked ${host}` }).count()).toBe(1);
      expect(await domainStatus(site, host)).toBe('blocked');
      await expect.poll(() => edgeStatus(host)).toBe(404);
      await item.getByRole('button', { name: `Unblock ${host}` }).waitFor();
      expect(await item.textContent()).toContain('blocked by the platform operator');
      await checkPage(page, 'parity-domains-operator', width);

      await page.getByRole('link', { name: 'Attention' }).click();
      const entry = page.getByRole('list', { name: 'Domains needing attention' }).getByRole('listitem', { name: `${host}: Blocked` });
      await entry.getByRole('button', { name: `Unblock ${host}` }).click();
      const undo = page.getByRole('dialog', { name: `Unblock ${host} of the site ${site}?` });
      await undo.waitFor();
      expect(await undo.textContent()).toContain('back to pending');
      await checkPage(page, 'parity-unblock-dialog', width);
      await undo.getByRole('button', { name: 'Unblock domain' }).click();
      await expect.poll(() => page.getByRole('status').filter({ hasText: `Unblocked ${host}` }).count()).toBe(1);
      expect(await domainStatus(site, host)).not.toBe('blocked');
      await expect.poll(() => entry.count()).toBe(0);
      // The claim blocked through the API is still there, still offering Unblock.
      await page.getByRole('button', { name: `Unblock held-${width}.example.com` }).waitFor();
      await checkPage(page, 'parity-attention', width);
    });
  }, SLOW);

  it('a tenant sees neither Block nor Unblock', async () => {
    await inBrowser('parity-tenant-domains', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await page.goto(pier.url + `/sites/${site}/domains`);
      const held = page.getByRole('listitem', { name: `held-${width}.example.com` });
      await held.waitFor();
      expect(await held.textContent()).toContain('Blocked');
      await page.getByRole('listitem', { name: host }).waitFor();
      expect(await page.getByRole('button', { name: /^(Block|Unblock) / }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Remove held-' + width + '.example.com' }).count()).toBe(1);
    });
  }, SLOW);

  it('an operator creates an admin token, shown once and working, and revokes it', async () => {
    const name = `ci-${width}`;
    await inBrowser('parity-tokens', width, async ({ page }) => {
      await signIn(page, pier.adminToken);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
      await page.getByRole('heading', { name: 'Admin tokens', level: 1 }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/tokens');
      const table = page.getByRole('table', { name: 'Admin tokens' });
      const bootstrap = table.getByRole('row').filter({ hasText: 'bootstrap' });
      await bootstrap.waitFor();
      expect(await bootstrap.textContent()).toContain('this session');
      await checkPage(page, 'parity-tokens', width);

      // A name is required, in words.
      await page.getByRole('button', { name: 'Create admin token' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('name');

      await page.getByLabel('Token name').fill(name);
      await page.getByRole('button', { name: 'Create admin token' }).click();
      const secretField = page.getByLabel(`Admin token “${name}”`);
      await secretField.waitFor();
      const secret = await secretField.inputValue();
      expect(secret).toMatch(/^pier_/);
      expect(await page.textContent('main')).toContain('controls the whole platform');
      await checkPage(page, 'parity-tokens-secret', width);
      expect(await tenantsStatus(secret)).toBe(200);

      // Shown once: gone when done, and the list never carries it.
      await page.getByRole('button', { name: 'Done, I have copied it' }).click();
      await expect.poll(() => secretField.count()).toBe(0);
      const row = table.getByRole('row').filter({ hasText: name });
      await row.waitFor();
      expect(await page.content()).not.toContain(secret);

      await row.getByRole('button', { name: `Revoke token ${name}` }).click();
      const dialog = page.getByRole('dialog', { name: `Revoke the admin token “${name}”?` });
      await dialog.waitFor();
      expect(await dialog.textContent()).not.toContain('signs this console out');
      await checkPage(page, 'parity-tokens-revoke', width);
      await dialog.getByRole('button', { name: 'Revoke token' }).click();
      await expect.poll(() => page.getByRole('status').filter({ hasText: `Revoked the admin token “${name}”` }).count()).toBe(1);
      await expect.poll(() => row.count()).toBe(0);
      expect(await tenantsStatus(secret)).toBe(401);

      // The session's own token warns before it signs the console out; Cancel keeps it.
      await bootstrap.getByRole('button', { name: 'Revoke token bootstrap' }).click();
      const own = page.getByRole('dialog', { name: 'Revoke the admin token “bootstrap”?' });
      await own.waitFor();
      expect(await own.textContent()).toContain('signs this console out');
      await checkPage(page, 'parity-tokens-revoke-own', width);
      await own.getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => own.count()).toBe(0);
      expect(await tenantsStatus(pier.adminToken)).toBe(200);
    });
  }, SLOW);

  it("revoking the session's own admin token signs the console out", async () => {
    const name = `own-${width}`;
    const { token } = await pier.api<{ token: string }>('POST', '/tokens', { name });
    await inBrowser('parity-tokens-own', width, async ({ page }) => {
      await signIn(page, token);
      await page.goto(pier.url + '/tokens');
      const row = page.getByRole('table', { name: 'Admin tokens' }).getByRole('row').filter({ hasText: name });
      await row.getByRole('button', { name: `Revoke token ${name}` }).click();
      const dialog = page.getByRole('dialog', { name: `Revoke the admin token “${name}”?` });
      await dialog.getByRole('button', { name: 'Revoke and sign out' }).click();
      await page.getByLabel('Token', { exact: true }).waitFor();
      // The sign-in form may show before the address bar says /sign-in.
      await expect.poll(() => new URL(page.url()).pathname).toBe('/sign-in');
      await expect.poll(() => page.textContent('body')).toContain('Your session has ended');
    });
    expect(await tenantsStatus(token)).toBe(401);
    expect(await tenantsStatus(pier.adminToken)).toBe(200);
  }, SLOW);

  it('a tenant on /tokens sees "Operators only"', async () => {
    await inBrowser('parity-tokens-tenant', width, async ({ page }) => {
      await signIn(page, tenantToken);
      expect(await page.getByRole('link', { name: 'Tokens' }).count()).toBe(0);
      await page.goto(pier.url + '/tokens');
      await page.getByRole('heading', { name: 'Operators only' }).waitFor();
      expect(await page.getByRole('table').count()).toBe(0);
      await checkPage(page, 'parity-tokens-tenant', width);
    });
  }, SLOW);
});

it('the admin token list pages with Load more', async () => {
  for (let i = 0; i < 100; i++) await pier.api('POST', '/tokens', { name: `bulk-${String(i).padStart(3, '0')}` });
  const all = 1 + 100; // the bootstrap token and these
  await inBrowser('parity-tokens-paged', 1440, async ({ page }) => {
    await signIn(page, pier.adminToken);
    await page.goto(pier.url + '/tokens');
    const rows = page.getByRole('table', { name: 'Admin tokens' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(100);
    await page.getByRole('button', { name: 'Load more tokens' }).click();
    await expect.poll(() => rows.count()).toBe(all);
    expect(await page.getByRole('button', { name: 'Load more tokens' }).count()).toBe(0);
    expect(await rows.last().textContent()).toContain('bulk-099');
  });
}, SLOW);
