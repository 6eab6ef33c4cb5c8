// The operator's tenant pages in a real browser against the real `pier
// serve`: create a tenant (and its first token, shown once), filter by tag
// (shared through the URL), bulk-change the plan of every tenant with a
// tag, change limits (quotas too, their use shown) and tags, disable and
// enable, delete with a typed confirmation; a tenant sees "Operators
// only". Every page and dialog passes checkPage at 375 and 1440 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

type Tenant = {
  id: string;
  name: string;
  plan: string;
  disabled: boolean;
  tags: string[];
  limits: Record<string, number>;
  effective_limits: Record<string, number>;
};

/** These tests walk many steps each: more than the config's 60 s on a loaded machine. */
const SLOW = 180_000;

let pier: Pier;
let tenantToken: string;

beforeAll(async () => {
  pier = await startPier();
  await pier.api('POST', '/tenants', { name: 'acme', tags: ['env:prod'] });
  await pier.api('POST', '/sites', { name: 'acme-blog', tenant: 'acme' });
  for (const w of widths) {
    // Each width's bulk change has tenants of its own.
    await pier.api('POST', '/tenants', { name: `batch-a-${w}`, tags: [`batch:w${w}`, 'env:dev'] });
    await pier.api('POST', '/tenants', { name: `batch-b-${w}`, tags: [`batch:w${w}`], plan: 'pro' });
  }
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'console-test' })).token;
});

afterAll(async () => {
  await pier?.stop();
});

function inBrowser(name: string, width: number, fn: (s: Session) => Promise<void>) {
  return inBrowserAt(pier.url, name, width, fn);
}

function tenant(name: string): Promise<Tenant> {
  return pier.api<Tenant>('GET', '/tenants/' + name);
}

function tenantNames(page: Page): Promise<string[]> {
  return page.locator('tbody th .site-name').allTextContents();
}

describe.each(widths)('tenants at %d px', (width) => {
  const name = `new-${width}`;
  const tag = `team:t${width}`;
  const site = `site-${width}`;

  it('an operator creates a tenant and its first token, shown once', async () => {
    await inBrowser('tenants-create', width, async ({ page }) => {
      await signInAt(page, pier.url, pier.adminToken);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tenants' }).click();
      await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
      await expect.poll(() => tenantNames(page)).toContain('acme');
      expect(await page.getByRole('row', { name: /acme/ }).textContent()).toContain('env:prod');
      expect(await page.getByRole('row', { name: /acme/ }).textContent()).toContain('Active');
      await checkPage(page, 'tenants-list', width);

      await page.getByRole('button', { name: 'New tenant' }).click();
      await page.getByLabel('Name', { exact: true }).fill('Not A Name');
      await page.getByLabel('Tags', { exact: true }).fill('nocolon');
      await page.getByRole('button', { name: 'Create tenant' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('Name:');
      expect(await page.getByRole('alert').textContent()).toContain('Tags:');
      expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      await checkPage(page, 'tenants-new-errors', width);

      await page.getByLabel('Name', { exact: true }).fill('acme');
      await page.getByLabel('Tags', { exact: true }).fill('');
      await page.getByRole('button', { name: 'Create tenant' }).click();
      await expect.poll(() => page.locator('#new-name-error').textContent()).toContain('already exists');

      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByLabel('Plan', { exact: true }).selectOption('pro');
      await page.getByLabel('Tags', { exact: true }).fill(`${tag}, env:e2e`);
      await page.getByRole('button', { name: 'Create tenant' }).click();
      await page.getByRole('heading', { name: `Tenant ${name} created` }).waitFor();
      const created = await tenant(name);
      expect(created.plan).toBe('pro');
      expect(created.tags).toEqual([tag, 'env:e2e']);
      await expect.poll(() => tenantNames(page)).toContain(name);

      await page.getByLabel('Token name').fill('deploy');
      await page.getByRole('button', { name: 'Create token' }).click();
      const secret = page.getByLabel(/^Token “deploy”/);
      await secret.waitFor();
      const value = await secret.inputValue();
      expect(value).toMatch(/^pier_/);
      expect(await page.getByText('It is shown only once').count()).toBe(1);
      await page.getByRole('button', { name: 'Copy token' }).waitFor();
      await checkPage(page, 'tenants-token-once', width);
      // The secret works, for this tenant only.
      const own = await pier.api<{ tenants: Tenant[] }>('GET', '/tenants', undefined, value);
      expect(own.tenants.map((t) => t.name)).toEqual([name]);
      await page.getByRole('button', { name: 'Done, I have copied it' }).click();
      await expect.poll(() => page.getByText(value).count()).toBe(0);
      expect(await page.locator('input').evaluateAll((els, v) => els.filter((e) => (e as HTMLInputElement).value === v).length, value)).toBe(0);

      // The site is another page's to create: the API makes one.
      await pier.api('POST', '/sites', { name: site, tenant: name });
    });
  }, SLOW);

  it('an operator filters by tag, shared through the URL, and bulk-changes the plan of every tenant with a tag', async () => {
    await inBrowser('tenants-bulk', width, async ({ page }) => {
      await signInAt(page, pier.url, pier.adminToken);
      await page.goto(pier.url + '/tenants');
      await page.getByLabel('Filter by tag', { exact: true }).fill(tag);
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await expect.poll(() => tenantNames(page)).toEqual([name]);
      expect(new URL(page.url()).searchParams.get('tag')).toBe(tag);

      await page.getByLabel('Filter by tag', { exact: true }).fill('no colon');
      await page.getByRole('button', { name: 'Apply filter' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('not a tag');

      // A shared link opens filtered.
      const batch = `batch:w${width}`;
      await page.goto(pier.url + '/tenants?tag=' + encodeURIComponent(batch));
      await expect.poll(() => tenantNames(page)).toEqual([`batch-a-${width}`, `batch-b-${width}`]);
      expect(await page.getByLabel('Filter by tag', { exact: true }).inputValue()).toBe(batch);
      expect(await page.getByRole('button', { name: 'Change plan' }).isDisabled()).toBe(true);
      await checkPage(page, 'tenants-filtered', width);

      await page.getByRole('checkbox', { name: `Select all 2 tenants tagged ${batch}` }).check();
      await page.getByLabel('New plan').selectOption('pro');
      await page.getByRole('button', { name: 'Change plan' }).click();
      const dialog = page.getByRole('dialog');
      // batch-b is on pro already: one tenant changes.
      await expect.poll(() => dialog.textContent()).toContain('1 tenant will change');
      await checkPage(page, 'tenants-bulk-dialog', width);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });

      await page.getByLabel('New plan').selectOption('enterprise');
      await page.getByRole('button', { name: 'Change plan' }).click();
      await expect.poll(() => dialog.textContent()).toContain('2 tenants will change');
      expect(await dialog.getByRole('heading').textContent()).toBe('Move 2 tenants to Enterprise?');
      await dialog.getByRole('button', { name: 'Change plan' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(() => page.getByText(`Changed 2 of 2 tenants tagged ${batch}.`).count()).toBe(1);
      expect((await tenant(`batch-a-${width}`)).plan).toBe('enterprise');
      expect((await tenant(`batch-b-${width}`)).plan).toBe('enterprise');
      expect((await tenant('acme')).plan).toBe('free');
      await expect.poll(() => page.getByRole('row', { name: new RegExp(`batch-a-${width}`) }).textContent()).toContain('Enterprise');
      await checkPage(page, 'tenants-bulk-done', width);

      // Bulk disable, then enable, through the same confirmation.
      await page.getByRole('checkbox', { name: /Select all 2 tenants/ }).check();
      await page.getByRole('button', { name: 'Disable tenants' }).click();
      await expect.poll(() => dialog.textContent()).toContain('stop serving');
      await dialog.getByRole('button', { name: 'Disable tenants' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(async () => (await tenant(`batch-a-${width}`)).disabled).toBe(true);
      expect((await tenant(`batch-b-${width}`)).disabled).toBe(true);
      await page.getByRole('checkbox', { name: /Select all 2 tenants/ }).check();
      await page.getByRole('button', { name: 'Enable tenants' }).click();
      await dialog.getByRole('button', { name: 'Enable tenants' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(async () => (await tenant(`batch-b-${width}`)).disabled).toBe(false);

      await page.getByRole('button', { name: 'Clear filter' }).click();
      await expect.poll(() => tenantNames(page)).toContain('acme');
      expect(new URL(page.url()).search).toBe('');
    });
  }, SLOW);

  it('an operator changes a tenant’s limits and tags, disables and enables it, and deletes it with a typed confirmation', async () => {
    await inBrowser('tenant-detail', width, async ({ page }) => {
      await signInAt(page, pier.url, pier.adminToken);
      await page.goto(pier.url + '/tenants');
      await page.getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { name, level: 1 }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/tenants/' + name);
      await page.getByRole('list', { name: `Sites of ${name}` }).getByRole('link', { name: site }).waitFor();
      expect(await page.getByRole('link', { name: 'Analytics' }).first().getAttribute('href')).toBe(`/tenants/${name}/analytics`);
      await page.getByRole('list', { name: `Tokens of ${name}` }).getByText('deploy').waitFor();

      // The limits shown are the API's (the console's plan table agrees with the server's).
      const before = await tenant(name);
      const cpu = page.getByRole('row', { name: /CPU time per request/ });
      await expect.poll(() => cpu.textContent()).toContain(`${before.effective_limits.cpuMs} ms`);
      expect(await cpu.textContent()).toContain('Inherited');
      await page.getByLabel('Plan', { exact: true }).selectOption('free');
      await expect.poll(() => page.getByRole('row', { name: /Memory/ }).textContent()).toContain('64 MB');
      await page.getByLabel('Plan', { exact: true }).selectOption('pro');
      expect(await page.getByRole('row', { name: /Memory/ }).textContent()).toContain(`${before.effective_limits.memoryMB} MB`);
      await page.getByLabel(/^CPU time per request override/).fill('0.5');
      await expect.poll(() => page.getByText('Write a whole number').count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Save plan and limits' }).isDisabled()).toBe(true);
      await page.getByLabel(/^CPU time per request override/).fill('42');
      await expect.poll(() => cpu.textContent()).toContain('Overridden');
      await page.getByRole('button', { name: 'Save plan and limits' }).click();
      await expect.poll(async () => (await tenant(name)).limits.cpuMs).toBe(42);
      expect((await tenant(name)).effective_limits.cpuMs).toBe(42);
      // The git limits: inherited from the plan like the others, overridden and saved.
      const gitRepo = page.getByRole('row', { name: /Git repository size/ });
      expect(await gitRepo.textContent()).toContain(`${before.effective_limits.gitRepoMB} MB`);
      await page.getByLabel(/^Git push size override/).fill('300');
      await expect.poll(() => page.getByRole('row', { name: /Git push size/ }).textContent()).toContain('Overridden');
      await page.getByRole('button', { name: 'Save plan and limits' }).click();
      await expect.poll(async () => (await tenant(name)).limits.gitPushMB).toBe(300);
      expect((await tenant(name)).limits.cpuMs).toBe(42);
      // Quotas: what the tenant uses against the limit in effect; an override the API then enforces.
      const usage = page.getByRole('list', { name: `Quota usage of ${name}` });
      const sitesMeter = usage.getByRole('meter', { name: 'Sites', exact: true });
      await expect.poll(() => sitesMeter.getAttribute('aria-valuetext')).toBe('1 of 100');
      expect(await usage.textContent()).toContain('0.0 of 20,480 MB');
      expect(await page.getByRole('row', { name: /^Storage/ }).textContent()).toContain('20480 MB');
      await page.getByLabel(/^Sites override/).fill('1');
      await expect.poll(() => page.getByRole('row', { name: /^Sites/ }).textContent()).toContain('Overridden');
      await page.getByRole('button', { name: 'Save plan and limits' }).click();
      await expect.poll(async () => (await tenant(name)).limits.sites).toBe(1);
      expect((await tenant(name)).limits).toMatchObject({ cpuMs: 42, gitPushMB: 300 });
      await expect.poll(() => sitesMeter.getAttribute('aria-valuetext')).toBe('1 of 1');
      await expect(pier.api('POST', '/sites', { name: `more-${width}`, tenant: name })).rejects.toThrow(/403 .*quota_exceeded/);

      await page.getByLabel('Add tags').fill('extra:1');
      await page.getByRole('button', { name: 'Add tag' }).click();
      await expect.poll(async () => (await tenant(name)).tags).toEqual([tag, 'env:e2e', 'extra:1']);
      await page.getByRole('button', { name: 'Remove tag env:e2e' }).click();
      await expect.poll(async () => (await tenant(name)).tags).toEqual([tag, 'extra:1']);
      await checkPage(page, 'tenant-detail', width);

      await page.getByRole('button', { name: 'Revoke token deploy' }).click();
      await expect.poll(() => page.getByRole('dialog').textContent()).toContain('stops working at once');
      await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
      await page.getByRole('dialog').waitFor({ state: 'hidden' });
      await expect.poll(async () => (await pier.api<{ tokens: unknown[] }>('GET', `/tenants/${name}/tokens`)).tokens).toEqual([]);
      await page.getByText('No tokens: the tenant cannot sign in yet.').waitFor();

      const dialog = page.getByRole('dialog');
      await page.getByRole('button', { name: 'Disable tenant' }).click();
      await expect.poll(() => dialog.textContent()).toContain('stop serving at once (1 site)');
      await checkPage(page, 'tenant-disable-dialog', width);
      await dialog.getByRole('button', { name: 'Disable tenant' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(async () => (await tenant(name)).disabled).toBe(true);
      await page.getByRole('button', { name: 'Enable tenant' }).waitFor();
      expect(await page.locator('.page-head').textContent()).toContain('Disabled');
      await page.getByRole('button', { name: 'Enable tenant' }).click();
      await dialog.getByRole('button', { name: 'Enable tenant' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(async () => (await tenant(name)).disabled).toBe(false);
      await page.getByRole('button', { name: 'Disable tenant' }).waitFor();

      await page.getByRole('button', { name: 'Delete tenant' }).click();
      const confirm = dialog.getByRole('button', { name: 'Delete tenant' });
      await confirm.waitFor();
      expect(await dialog.textContent()).toContain('1 site');
      expect(await confirm.isDisabled()).toBe(true);
      const typed = dialog.getByLabel(`Type ${name} to confirm`);
      expect(await typed.evaluate((e) => e === document.activeElement)).toBe(true);
      await typed.fill(name.slice(0, -1));
      expect(await confirm.isDisabled()).toBe(true);
      await typed.fill(name + 'x');
      expect(await confirm.isDisabled()).toBe(true);
      await typed.fill(name);
      await expect.poll(() => confirm.isDisabled()).toBe(false);
      await checkPage(page, 'tenant-delete-dialog', width);
      await confirm.click();
      await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
      await expect.poll(() => page.getByRole('status').first().textContent()).toContain(`Deleted tenant ${name}`);
      await expect(tenant(name)).rejects.toThrow(/404/);
      await expect(pier.api('GET', '/sites/' + site)).rejects.toThrow(/404/);
      await expect.poll(() => tenantNames(page)).not.toContain(name);

      await page.goto(pier.url + '/tenants/no-such-tenant');
      await page.getByRole('heading', { name: 'Tenant not found' }).waitFor();
    });
  }, SLOW);

  it('a tenant sees “Operators only”, without asking the API for tenants', async () => {
    await inBrowser('tenants-tenant', width, async ({ page, requests }) => {
      await signInAt(page, pier.url, tenantToken);
      expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tenants' }).count()).toBe(0);
      await page.goto(pier.url + '/tenants');
      await page.getByRole('heading', { name: 'Operators only' }).waitFor();
      await checkPage(page, 'tenants-operators-only', width);
      await page.goto(pier.url + '/tenants/acme');
      await page.getByRole('heading', { name: 'Operators only' }).waitFor();
      expect(requests.filter((u) => new URL(u).pathname.startsWith('/api/v1/tenants'))).toEqual([]);
    });
  }, SLOW);
});

describe('many tenants', () => {
  it('pages with Load more, and a bulk action counts every tagged tenant, not only the loaded ones', async () => {
    const n = 57; // more than one page of 50
    for (let i = 0; i < n; i++) {
      await pier.api('POST', '/tenants', { name: `fill-${String(i).padStart(2, '0')}`, tags: ['fill:yes'] });
    }
    await inBrowser('tenants-pages', 1440, async ({ page }) => {
      await signInAt(page, pier.url, pier.adminToken);
      await page.goto(pier.url + '/tenants?tag=fill%3Ayes');
      await expect.poll(() => tenantNames(page).then((l) => l.length)).toBe(50);
      expect(await page.getByRole('status').filter({ hasText: 'tenants loaded' }).textContent()).toContain('50 tenants loaded');
      const select = page.getByRole('checkbox', { name: /Select all tenants tagged fill:yes/ });
      await select.check();
      await page.getByRole('button', { name: 'Disable tenants' }).click();
      const dialog = page.getByRole('dialog');
      await expect.poll(() => dialog.textContent()).toContain(`${n} tenants will change`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });

      await page.getByRole('button', { name: 'Load more tenants' }).click();
      await expect.poll(() => tenantNames(page).then((l) => l.length)).toBe(n);
      expect(await page.getByRole('button', { name: 'Load more tenants' }).count()).toBe(0);
      const names = await tenantNames(page);
      expect(names).toEqual([...names].sort());
      expect(new Set(names).size).toBe(n);
      await page.getByRole('checkbox', { name: `Select all ${n} tenants tagged fill:yes` }).waitFor();
    });
  }, SLOW);
});
