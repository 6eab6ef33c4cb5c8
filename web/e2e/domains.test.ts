// The Domains view in a real browser against the real `pier serve`, which
// asks a fake DNS server of the test's own (dns.ts) and obtains
// certificates from its internal CA (--tls-internal): a tenant adds a
// domain, copies its records, a verify fails with the reason in words,
// the rate limit is shown, a domain turns active without a reload, a
// domain is removed through the confirmation; another tenant's site's
// domains are not found.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startPier, type Pier } from './pier';
import { startDNS, type FakeDNS } from './dns';
import { checkPage, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

let pier: Pier;
let dns: FakeDNS;
let tenantToken: string;

type Dom = { hostname: string; status: string; token: string; cert_status: string };

beforeAll(async () => {
  dns = await startDNS();
  pier = await startPier(['--dns-resolver', dns.addr, '--tls-internal', '--https', '127.0.0.1:0']);
  await pier.api('POST', '/tenants', { name: 'acme' });
  await pier.api('POST', '/tenants', { name: 'globex' });
  for (const width of widths) await pier.api('POST', '/sites', { name: `blog-${width}`, tenant: 'acme' });
  await pier.api('POST', '/sites', { name: 'docs', tenant: 'acme' });
  await pier.api('POST', '/sites', { name: 'news', tenant: 'globex' });
  await pier.api('POST', '/sites/news/domains', { hostname: 'news.example.org' });
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'domains-test' })).token;
});

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

function getDomain(site: string, host: string): Promise<Dom> {
  return pier.api<Dom>('GET', `/sites/${site}/domains/${host}`);
}

async function domainStatus(site: string, host: string): Promise<number> {
  const res = await fetch(`${pier.url}/api/v1/sites/${site}/domains/${host}`, { headers: { Authorization: 'Bearer ' + pier.adminToken } });
  return res.status;
}

describe.each(widths)('domains at %d px', (width) => {
  const host = `www-${width}.example.com`;
  const site = `blog-${width}`;

  it('a tenant adds a domain, copies its records, a verify fails with the reason, and removes it', async () => {
    await inBrowser('domains', width, async ({ page, context }) => {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pier.url });
      await signIn(page, tenantToken);
      await page.goto(pier.url + `/sites/${site}`);
      await page.getByRole('link', { name: 'Manage domains' }).click();
      await page.getByRole('heading', { name: 'No custom domains yet' }).waitFor();
      expect(new URL(page.url()).pathname).toBe(`/sites/${site}/domains`);
      expect(await page.getByRole('link', { name: 'Domains', exact: true }).getAttribute('aria-current')).toBe('page');
      await checkPage(page, 'domains-empty', width);

      // A bad hostname is refused in words, naming the field.
      const wizard = page.getByRole('region', { name: 'Add a custom domain' });
      await wizard.getByLabel('Hostname').fill('not a host');
      await wizard.getByRole('button', { name: 'Add domain' }).click();
      const alert = wizard.getByRole('alert');
      await expect.poll(() => alert.textContent()).toContain('Hostname: "not a host" is not a valid DNS name');
      expect(await wizard.getByLabel('Hostname').getAttribute('aria-invalid')).toBe('true');

      // Added: the records, each value with its Copy button.
      await wizard.getByLabel('Hostname').fill(host);
      await wizard.getByRole('button', { name: 'Add domain' }).click();
      const records = wizard.getByRole('table', { name: `DNS records for ${host}` });
      await records.waitFor();
      const d = await getDomain(site, host);
      expect(d.status).toBe('pending');
      const txt = records.getByRole('row', { name: /TXT/ });
      expect(await txt.textContent()).toContain(`_pier-challenge.${host}`);
      expect(await txt.textContent()).toContain(d.token);
      const cname = records.getByRole('row', { name: /CNAME/ });
      expect(await cname.textContent()).toContain(host);
      expect(await cname.textContent()).toContain(`${site}.localhost`);

      await records.getByRole('button', { name: 'Copy TXT value' }).click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(d.token);
      await expect.poll(() => txt.getByText('Copied', { exact: true }).count()).toBe(1);
      expect(await cname.getByText('Copied', { exact: true }).count()).toBe(0);
      expect(await page.getByRole('status').filter({ hasText: `Copied the TXT value of ${host}` }).count()).toBe(1);
      await records.getByRole('button', { name: 'Copy CNAME value' }).click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(`${site}.localhost`);

      // The list shows it pending, with the certificate timeline waiting at validation.
      const item = page.getByRole('list', { name: 'Domains' }).getByRole('listitem', { name: host });
      await expect.poll(() => item.textContent()).toContain('Pending verification');
      const timeline = item.getByRole('list', { name: `Certificate of ${host}` });
      expect(await timeline.locator('.timeline-text').allTextContents()).toEqual([
        'Validation (in progress)Waiting for the domain to be verified.',
        'Issuance (not started)The certificate is ordered once the domain is verified.',
        'Certificate active (not started)HTTPS is served with it.',
      ]);
      await checkPage(page, 'domains-wizard', width);

      // Verify: the fake DNS has no TXT record, so the verifier says so.
      await wizard.getByRole('button', { name: 'Verify' }).click();
      const failed = wizard.getByRole('alert');
      await expect.poll(() => failed.textContent()).toContain(`Not verified: no TXT record _pier-challenge.${host} found`);
      await expect.poll(() => item.textContent()).toContain(`no TXT record _pier-challenge.${host} found`);
      expect(await item.textContent()).toContain('Last check');
      await checkPage(page, 'domains-verify-failed', width);

      // The rate limit: three checks in a row, then the wait in words.
      const verify = wizard.getByRole('button', { name: 'Verify' });
      const answers: number[] = [];
      for (let i = 0; i < 4 && !answers.includes(429); i++) {
        const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/verify')), verify.click()]);
        answers.push(res.status());
      }
      expect(answers).toEqual([200, 200, 429]); // the first of the burst was the Verify above
      await expect.poll(() => failed.textContent()).toMatch(/checked just now\. You can check it again in \d+ seconds?/);
      expect(await verify.isDisabled()).toBe(true);
      expect(await verify.textContent()).toMatch(/Verify \(\d+ s\)/);

      // The same name again is refused, naming the field.
      await wizard.getByRole('button', { name: 'Add another domain' }).click();
      await wizard.getByLabel('Hostname').fill(host);
      await wizard.getByRole('button', { name: 'Add domain' }).click();
      await expect.poll(() => wizard.getByRole('alert').textContent()).toBe(`Hostname: ${host} is already a domain of site ${site}.`);

      // Remove, through the confirmation that names the hostname.
      await item.getByRole('button', { name: `Remove ${host}` }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: `Remove ${host}?` }).waitFor();
      expect(await dialog.textContent()).toContain(`${host} stops being served by ${site} at once`);
      await checkPage(page, 'domains-remove-dialog', width);
      await dialog.getByRole('button', { name: 'Remove domain' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.getByRole('heading', { name: 'No custom domains yet' }).waitFor();
      expect(await page.getByRole('status').filter({ hasText: `Removed ${host}` }).count()).toBe(1);
      expect(await domainStatus(site, host)).toBe(404);
    });
  });

  it("a tenant cannot see another tenant's site's domains", async () => {
    await inBrowser('domains-other-tenant', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await page.goto(pier.url + '/sites/news/domains');
      await page.getByRole('heading', { name: 'Site not found' }).waitFor();
      expect(await page.getByText('news.example.org').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Add domain' }).count()).toBe(0);
    });
  });
});

it('a domain turns active and gets its certificate without a reload', async () => {
  const host = 'live.example.com';
  const created = await pier.api<Dom>('POST', '/sites/docs/domains', { hostname: host });
  await inBrowser('domains-live', 1440, async ({ page, requests }) => {
    await signIn(page, tenantToken);
    await page.goto(pier.url + '/sites/docs/domains');
    const item = page.getByRole('list', { name: 'Domains' }).getByRole('listitem', { name: host });
    await expect.poll(() => item.textContent()).toContain('Pending verification');
    // A mark on the window: it is gone if the page reloads.
    await page.evaluate(() => ((window as unknown as { pierMark: number }).pierMark = 1));
    const polls = () => requests.filter((u) => u.includes('/api/v1/sites/docs/domains')).length;
    const before = polls();

    // The owner creates the TXT record; a check (here the API's, as the
    // background verifier would) finds it.
    dns.setTXT(`_pier-challenge.${host}`, created.token);
    const verified = await pier.api<Dom>('POST', `/sites/docs/domains/${host}/verify`);
    expect(verified.status).toBe('active');
    await expect.poll(async () => (await getDomain('docs', host)).cert_status).toBe('active');

    await expect.poll(() => item.textContent(), { timeout: 20_000 }).toContain('Active');
    const timeline = item.getByRole('list', { name: `Certificate of ${host}` });
    await expect
      .poll(() => timeline.locator('.timeline-text').allTextContents(), { timeout: 20_000 })
      .toEqual(['Validation (done)Domain verified.', 'Issuance (done)Certificate issued.', 'Certificate active (done)HTTPS is served.']);
    expect(await page.evaluate(() => (window as unknown as { pierMark?: number }).pierMark)).toBe(1);
    expect(polls()).toBeGreaterThan(before);
    expect(await page.getByRole('status').filter({ hasText: `${host}: Active` }).count()).toBe(1);
    await checkPage(page, 'domains-active', 1440);
  });
});
