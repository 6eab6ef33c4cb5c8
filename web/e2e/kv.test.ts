// KV in a real browser against the real `pier serve`: an operator creates
// a tenant's namespace (a bad or taken name refused on the field),
// browses its keys by prefix and page, reads text and binary values,
// puts keys (a bad TTL and a value over kvValueKB refused on their
// field), edits and deletes them, and deletes the namespace behind a
// typed confirmation; a tenant reaches its own KV from the top bar and
// not another tenant's; a deploy token is told KV needs a tenant token;
// the tenant's limits show the KV limits and the namespace quota is
// enforced. Every page passes checkPage at 375 and 1440 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

/** These tests walk many steps each: more than the config's 60 s on a loaded machine. */
const SLOW = 180_000;

type Namespace = { id: string; name: string; tenant_id: string; keys?: number; bytes?: number };
type Tenant = { limits: Record<string, number>; effective_limits: Record<string, number> };

let pier: Pier;
let acmeToken: string;
let otherNs: Namespace;

beforeAll(async () => {
  pier = await startPier();
  await pier.api('POST', '/tenants', { name: 'acme' });
  await pier.api('POST', '/tenants', { name: 'other' });
  for (const w of widths) {
    await pier.api('POST', '/tenants', { name: `kvop-${w}` });
    await pier.api('POST', '/tenants', { name: `kvq-${w}` });
    await pier.api('POST', '/sites', { name: `blog-${w}`, tenant: 'acme' });
  }
  acmeToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'kv-test' })).token;
  otherNs = await pier.api<Namespace>('POST', '/tenants/other/kv', { name: 'private' });
}, SLOW);

afterAll(async () => {
  await pier?.stop();
});

function inBrowser(name: string, width: number, fn: (s: Session) => Promise<void>) {
  return inBrowserAt(pier.url, name, width, fn);
}

function signIn(page: Page, token: string) {
  return signInAt(page, pier.url, token);
}

/** A key's value as the API answers it (admin token): status, bytes, and the expiry header. */
async function rawValue(ns: string, key: string, token = pier.adminToken): Promise<{ status: number; body: Buffer; expires: string | null }> {
  const res = await fetch(`${pier.url}/api/v1/kv/${encodeURIComponent(ns)}/keys/${encodeURIComponent(key)}`, {
    headers: { Authorization: 'Bearer ' + token },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), expires: res.headers.get('Pier-KV-Expires') };
}

/** The API's status for a GET of path with token. */
async function status(path: string, token: string): Promise<number> {
  const res = await fetch(pier.url + '/api/v1' + path, { headers: { Authorization: 'Bearer ' + token } });
  return res.status;
}

/** The error shown for the field labelled id: the text of the element its aria-describedby names that is an alert. */
async function fieldError(page: Page, id: string): Promise<string> {
  await expect.poll(() => page.locator('#' + id).getAttribute('aria-invalid')).toBe('true');
  const alert = page.locator(`#${id}-error`);
  await alert.waitFor();
  expect(await page.locator('#' + id).getAttribute('aria-describedby')).toContain(`${id}-error`);
  return (await alert.textContent()) ?? '';
}

describe.each(widths)('at %d px', (width) => {
  const tenant = `kvop-${width}`;

  it(
    'an operator creates a namespace, browses, reads, puts, edits and deletes keys, and deletes the namespace',
    async () => {
      await inBrowser('kv-operator', width, async ({ page }) => {
        await signIn(page, pier.adminToken);
        await page.goto(`${pier.url}/tenants/${tenant}/kv`);
        await page.getByRole('heading', { name: 'KV namespaces' }).waitFor();
        expect(await page.getByRole('navigation', { name: 'Tenant' }).getByRole('link', { name: 'KV' }).getAttribute('aria-current')).toBe('page');
        await page.getByRole('heading', { name: 'No namespaces yet' }).waitFor();
        await checkPage(page, 'kv-empty', width);

        // A name that is not a DNS label is refused before asking, on the field.
        const name = page.getByLabel('Namespace name');
        await name.fill('Blog Data');
        await page.getByRole('button', { name: 'Create namespace' }).click();
        expect(await fieldError(page, 'kv-new-name')).toContain('lowercase');

        await name.fill('blog-data');
        await page.getByRole('button', { name: 'Create namespace' }).click();
        await page.getByRole('link', { name: 'blog-data' }).waitFor();
        await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Created the namespace blog-data');
        const listed = await pier.api<{ namespaces: Namespace[] }>('GET', `/tenants/${tenant}/kv`);
        expect(listed.namespaces.map((n) => n.name)).toEqual(['blog-data']);
        const ns = listed.namespaces[0];

        // A taken name: the API's refusal, on the field.
        await name.fill('blog-data');
        await page.getByRole('button', { name: 'Create namespace' }).click();
        expect(await fieldError(page, 'kv-new-name')).not.toBe('');
        await checkPage(page, 'kv-namespaces', width);

        // Keys written by the API: more than a page of them, a binary value, one that expires.
        const items = Array.from({ length: 105 }, (_, i) => ({ key: `posts/${String(i).padStart(3, '0')}`, value: `{"n":${i}}` }));
        await pier.api('POST', `/kv/${ns.id}/bulk`, [
          ...items,
          { key: 'counter', value: '41' },
          { key: 'bin', value: Buffer.from([0xff, 0x00, 0x01]).toString('base64'), base64: true },
          { key: 'tmp', value: 'soon gone', ttl: 3600 },
        ]);

        await page.getByRole('link', { name: 'blog-data' }).click();
        await page.waitForURL(`${pier.url}/tenants/${tenant}/kv/blog-data`);
        await page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
        await expect.poll(() => page.locator('.page-head .pill').textContent()).toContain('108 keys');
        await page.getByRole('button', { name: 'Load more keys' }).waitFor();
        expect(await page.locator('.kv-keys tbody tr').count()).toBe(100);
        await checkPage(page, 'kv-keys', width);
        await page.getByRole('button', { name: 'Load more keys' }).click();
        await expect.poll(() => page.locator('.kv-keys tbody tr').count()).toBe(108);
        expect(await page.getByRole('button', { name: 'Load more keys' }).count()).toBe(0);

        // A key that expires, on the second page.
        const viewer = page.getByRole('region', { name: /Value of/ });
        await page.getByRole('button', { name: 'View key tmp' }).click();
        await expect.poll(() => viewer.locator('pre').textContent()).toBe('soon gone');
        expect(await viewer.textContent()).toMatch(/in (59|60) minutes|in 1 hour/);
        expect(await page.getByRole('row', { name: /tmp/ }).textContent()).toMatch(/in (59|60) minutes|in 1 hour/);

        // The prefix filter asks the server for the keys under it.
        await page.getByLabel('Key prefix').fill('posts/00');
        await page.getByRole('button', { name: 'Filter' }).click();
        await expect.poll(() => page.locator('.kv-keys tbody th').allTextContents()).toEqual(
          Array.from({ length: 10 }, (_, i) => `posts/00${i}`),
        );
        await page.getByRole('button', { name: 'Show all keys' }).click();
        await expect.poll(() => page.locator('.kv-keys tbody tr').count()).toBe(100);

        // A text value that never expires.
        await page.getByRole('button', { name: 'View key counter' }).click();
        await expect.poll(() => viewer.locator('pre').textContent()).toBe('41');
        expect(await viewer.textContent()).toContain('Never');
        await checkPage(page, 'kv-value', width);

        // A binary value: its size and a download of its exact bytes.
        await page.getByRole('button', { name: 'View key bin' }).click();
        await expect.poll(() => viewer.textContent()).toContain('binary data');
        expect(await viewer.locator('pre').count()).toBe(0);
        const download = page.waitForEvent('download');
        await viewer.getByRole('button', { name: 'Download value' }).click();
        const file = await download;
        expect(file.suggestedFilename()).toBe('bin');
        expect([...(await readFile((await file.path())!))]).toEqual([0xff, 0x00, 0x01]);
        await checkPage(page, 'kv-binary', width);
        await viewer.getByRole('button', { name: 'Close value' }).click();
        await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('View key bin');

        // Put: a TTL that is not a number of seconds is refused on its field.
        await page.getByRole('button', { name: 'Put a key' }).click();
        await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('kv-put-key');
        await page.getByLabel('Key', { exact: true }).fill('greeting');
        await page.getByLabel('Value', { exact: true }).fill('héllo wörld');
        await page.getByLabel('Expires after (seconds)').fill('soon');
        await page.getByRole('button', { name: 'Save key' }).click();
        expect(await fieldError(page, 'kv-put-ttl')).toContain('seconds');
        expect((await rawValue(ns.id, 'greeting')).status).toBe(404);
        await checkPage(page, 'kv-put-error', width);

        await page.getByLabel('Expires after (seconds)').fill('');
        await page.getByRole('button', { name: 'Save key' }).click();
        await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Saved the key greeting');
        expect((await rawValue(ns.id, 'greeting')).body.toString('utf8')).toBe('héllo wörld');
        await page.getByRole('row', { name: /greeting/ }).waitFor();
        expect(await page.getByRole('row', { name: /greeting/ }).textContent()).toContain('13 B');
        expect(await page.getByLabel('Value', { exact: true }).inputValue()).toBe('');

        // A key with "/" and a TTL.
        await page.getByLabel('Key', { exact: true }).fill('session/1');
        await page.getByLabel('Value', { exact: true }).fill('x');
        await page.getByLabel('Expires after (seconds)').fill('120');
        await page.getByRole('button', { name: 'Save key' }).click();
        await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Saved the key session/1');
        await page.getByLabel('Key prefix').fill('session/');
        await page.getByRole('button', { name: 'Filter' }).click();
        await expect.poll(() => page.locator('.kv-keys tbody th').allTextContents()).toEqual(['session/1']);
        expect(await page.getByRole('row', { name: /session\/1/ }).textContent()).toMatch(/in (1|2) minutes?/);
        await page.getByRole('button', { name: 'Show all keys' }).click();
        await expect.poll(() => page.locator('.kv-keys tbody tr').count()).toBe(100);
        const s1 = await rawValue(ns.id, 'session/1');
        expect(s1.body.toString()).toBe('x');
        const left = Date.parse(s1.expires ?? '') - Date.now();
        expect(left).toBeGreaterThan(60_000);
        expect(left).toBeLessThanOrEqual(121_000);

        // Edit: the viewer's text goes to the form, saved back, shown again.
        await page.getByRole('button', { name: 'View key counter' }).click();
        await expect.poll(() => viewer.locator('pre').textContent()).toBe('41');
        await viewer.getByRole('button', { name: 'Edit value' }).click();
        await expect.poll(() => page.getByLabel('Key', { exact: true }).inputValue()).toBe('counter');
        await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('kv-put-value');
        await page.getByLabel('Value', { exact: true }).fill('42');
        await page.getByRole('button', { name: 'Save key' }).click();
        await expect.poll(() => viewer.locator('pre').textContent()).toBe('42');
        expect((await rawValue(ns.id, 'counter')).body.toString()).toBe('42');

        // A value over the plan's kvValueKB (1024 on free): the API's refusal, on the value.
        await page.getByLabel('Key', { exact: true }).fill('big');
        await page.getByLabel('Value', { exact: true }).fill('x'.repeat(1024 * 1024 + 1));
        await page.getByRole('button', { name: 'Save key' }).click();
        expect(await fieldError(page, 'kv-put-value')).toContain('kvValueKB');
        expect((await rawValue(ns.id, 'big')).status).toBe(404);
        await page.getByLabel('Value', { exact: true }).fill('');

        // Delete a key behind a confirmation.
        await page.getByRole('button', { name: 'Delete key greeting' }).click();
        const dialog = page.getByRole('dialog', { name: 'Delete the key greeting?' });
        await dialog.waitFor();
        await checkPage(page, 'kv-delete-key', width);
        await dialog.getByRole('button', { name: 'Delete key' }).click();
        await expect.poll(() => page.getByRole('button', { name: 'View key greeting' }).count()).toBe(0);
        // Its row went with it: focus goes to the list's heading.
        await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('kv-keys-title');
        expect((await rawValue(ns.id, 'greeting')).status).toBe(404);

        // Delete the namespace: its name typed exactly.
        await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'KV' }).click();
        await page.getByRole('button', { name: 'Delete namespace blog-data' }).click();
        const del = page.getByRole('dialog', { name: 'Delete the namespace blog-data?' });
        await del.waitFor();
        // It says how many keys go with it: 108 written by the API, session/1 added (greeting deleted, big refused).
        await expect.poll(() => del.textContent()).toContain('109 keys');
        const confirm = del.getByRole('button', { name: 'Delete namespace' });
        await del.getByLabel('Type the namespace name blog-data to confirm').fill('blog');
        expect(await confirm.isDisabled()).toBe(true);
        await checkPage(page, 'kv-delete-namespace', width);
        await del.getByLabel('Type the namespace name blog-data to confirm').fill('blog-data');
        await confirm.click();
        await page.getByRole('heading', { name: 'No namespaces yet' }).waitFor();
        await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('kv-title');
        expect(await status(`/tenants/${tenant}/kv/blog-data`, pier.adminToken)).toBe(404);
        expect((await rawValue(ns.id, 'counter')).status).toBe(404);
      });
    },
    SLOW,
  );

  it(
    'a tenant reaches its own KV from the top bar, and no other tenant’s',
    async () => {
      const nsName = `notes-${width}`;
      await inBrowser('kv-tenant', width, async ({ page }) => {
        await signIn(page, acmeToken);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'KV' }).click();
        await page.waitForURL(`${pier.url}/tenants/acme/kv`);
        await page.getByRole('heading', { name: 'KV namespaces' }).waitFor();
        // No operator's tenant list or tabs.
        expect(await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Tenants' }).count()).toBe(0);
        expect(await page.getByRole('navigation', { name: 'Tenant' }).count()).toBe(0);

        await page.getByLabel('Namespace name').fill(nsName);
        await page.getByRole('button', { name: 'Create namespace' }).click();
        await page.getByRole('link', { name: nsName }).click();
        await page.getByRole('heading', { name: 'No keys yet' }).waitFor();
        await page.getByLabel('Key', { exact: true }).fill('todo');
        await page.getByLabel('Value', { exact: true }).fill('write the report');
        await page.getByRole('button', { name: 'Save key' }).click();
        await page.getByRole('button', { name: 'View key todo' }).click();
        await expect.poll(() => page.getByRole('region', { name: /Value of/ }).locator('pre').textContent()).toBe('write the report');
        const ns = await pier.api<Namespace>('GET', `/tenants/acme/kv/${nsName}`);
        expect((await rawValue(ns.id, 'todo', acmeToken)).body.toString()).toBe('write the report');
        await checkPage(page, 'kv-tenant', width);

        // Another tenant's KV is not found, by page or by API path.
        await page.goto(`${pier.url}/tenants/other/kv`);
        await page.getByRole('heading', { name: 'Tenant not found' }).waitFor();
        await page.goto(`${pier.url}/tenants/acme/kv/private`);
        await page.getByRole('heading', { name: 'Namespace not found' }).waitFor();
        expect(await status(`/kv/${otherNs.id}/keys`, acmeToken)).toBe(404);
        expect(await status(`/tenants/other/kv`, acmeToken)).toBe(404);
      });
    },
    SLOW,
  );

  it('a deploy token is told KV needs a tenant token', async () => {
    const token = (await pier.api<{ token: string }>('POST', `/sites/blog-${width}/tokens`, { name: 'ci' }, acmeToken)).token;
    await inBrowser('kv-site-token', width, async ({ page }) => {
      await signIn(page, token);
      expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'KV' }).count()).toBe(0);
      await page.goto(`${pier.url}/tenants/acme/kv`);
      await page.getByRole('heading', { name: 'KV needs a tenant token' }).waitFor();
      await checkPage(page, 'kv-site-token', width);
    });
  });

  it(
    'the tenant’s limits show the KV limits, and the namespace quota is enforced',
    async () => {
      const t = `kvq-${width}`;
      const before = await pier.api<Tenant>('GET', `/tenants/${t}`);
      expect(before.effective_limits).toMatchObject({ kvOps: 50, kvValueKB: 1024, kvNamespaces: 10 });
      await inBrowser('kv-limits', width, async ({ page }) => {
        await signIn(page, pier.adminToken);
        await page.goto(`${pier.url}/tenants/${t}`);
        const ops = page.getByRole('row', { name: /KV operations per request/ });
        await expect.poll(() => ops.textContent()).toContain('50');
        expect(await page.getByRole('row', { name: /Largest KV value/ }).textContent()).toContain('1024 KB');
        expect(await page.getByRole('row', { name: /KV namespaces/ }).textContent()).toContain('10');
        await page.getByLabel('KV operations per request override').fill('77');
        await page.getByLabel('KV namespaces override').fill('1');
        await page.getByRole('button', { name: 'Save plan and limits' }).click();
        await expect.poll(async () => (await pier.api<Tenant>('GET', `/tenants/${t}`)).limits).toMatchObject({ kvOps: 77, kvNamespaces: 1 });

        await page.goto(`${pier.url}/tenants/${t}/kv`);
        await page.getByLabel('Namespace name').fill('one');
        await page.getByRole('button', { name: 'Create namespace' }).click();
        await page.getByRole('link', { name: 'one', exact: true }).waitFor();
        await page.getByLabel('Namespace name').fill('two');
        await page.getByRole('button', { name: 'Create namespace' }).click();
        expect(await fieldError(page, 'kv-new-name')).toContain('kvNamespaces');
        expect(await page.getByRole('link', { name: 'two', exact: true }).count()).toBe(0);
        await checkPage(page, 'kv-quota', width);
      });
    },
    SLOW,
  );
});
