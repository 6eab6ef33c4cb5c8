// A site's settings in a real browser against the real `pier serve`: a
// tenant creates a deploy (site) token whose secret is shown once, uses it
// with the API for that one site, revokes it; a site is deleted behind a
// typed confirmation and the edge stops serving it; a console signed in
// with a site token sees only its site. Every page passes checkPage at
// 375 and 1440 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

let pier: Pier;
let tenantToken: string;

beforeAll(async () => {
  pier = await startPier();
  await pier.api('POST', '/tenants', { name: 'acme' });
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'settings-test' })).token;
  for (const w of widths) {
    for (const name of [`blog-${w}`, `shop-${w}`, `gone-${w}`]) {
      await pier.api('POST', '/sites', { name, tenant: 'acme' });
      await pier.deploy(name, { 'index.html': `<!doctype html><title>${name}</title><h1>${name}</h1>` });
    }
  }
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

async function openSettings(page: Page, site: string) {
  await page.goto(`${pier.url}/sites/${site}/settings`);
  await page.getByRole('heading', { name: 'Deploy tokens', exact: true }).waitFor();
}

/** Whether the API answers path with token: the status only. */
async function status(path: string, token: string): Promise<number> {
  const res = await fetch(pier.url + '/api/v1' + path, { headers: { Authorization: 'Bearer ' + token } });
  return res.status;
}

describe.each(widths)('at %d px', (width) => {
  const blog = `blog-${width}`;
  const shop = `shop-${width}`;
  const gone = `gone-${width}`;

  it('a tenant creates a deploy token, sees its secret once, uses it for that site only, and revokes it', async () => {
    await inBrowser('settings-tokens', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await openSettings(page, blog);
      await page.getByRole('heading', { name: 'No deploy tokens yet' }).waitFor();
      await checkPage(page, 'settings', width);

      // A name is required.
      await page.getByRole('button', { name: 'Create token' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('name');

      await page.getByLabel('Token name').fill('GitHub Actions');
      await page.getByRole('button', { name: 'Create token' }).click();
      const box = page.getByRole('region', { name: /New token/ });
      await box.waitFor();
      const secret = (await page.locator('#new-token-secret').textContent())?.trim() ?? '';
      expect(secret).toMatch(/^pier_[A-Za-z0-9_-]{20,}$/);
      expect(await box.textContent()).toContain('will not be shown again');
      expect(await page.locator('#new-token-command').textContent()).toBe(
        `PIER_TOKEN=${secret} pier deploy ./dist --site ${blog} --api ${pier.url}`,
      );
      await box.getByRole('button', { name: 'Copy token' }).waitFor();
      await box.getByRole('button', { name: 'Copy command' }).waitFor();
      const row = page.getByRole('row', { name: /GitHub Actions/ });
      await row.waitFor();
      expect(await row.textContent()).toMatch(/tok_/);
      await checkPage(page, 'settings-new-token', width);

      // The token works for its site, and only for it.
      expect(await status(`/sites/${blog}`, secret)).toBe(200);
      expect(await status(`/sites/${shop}`, secret)).toBe(404);
      const listed = await pier.api<{ sites: { name: string }[] }>('GET', '/sites', undefined, secret);
      expect(listed.sites.map((s) => s.name)).toEqual([blog]);
      await pier.deploy(blog, { 'index.html': 'deployed by CI' }, secret);
      expect((await pier.fetchSite(blog)).body).toBe('deployed by CI');
      await expect(pier.deploy(shop, { 'index.html': 'not mine' }, secret)).rejects.toThrow();
      expect((await pier.fetchSite(shop)).body).toContain(`<h1>${shop}</h1>`);

      // Reloaded, the secret is gone for good: only the name is listed.
      await page.reload();
      await page.getByRole('row', { name: /GitHub Actions/ }).waitFor();
      expect(await page.getByRole('region', { name: /New token/ }).count()).toBe(0);
      expect(await page.content()).not.toContain(secret);

      await page.getByRole('button', { name: 'Revoke token GitHub Actions' }).click();
      const dialog = page.getByRole('dialog', { name: /Revoke the token/ });
      await dialog.waitFor();
      await checkPage(page, 'settings-revoke', width);
      await dialog.getByRole('button', { name: 'Revoke token' }).click();
      await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Revoked');
      await page.getByRole('heading', { name: 'No deploy tokens yet' }).waitFor();
      expect(await status(`/sites/${blog}`, secret)).toBe(401);
    });
  });

  it('the production branch is checked, saved and shown on the overview’s Git panel', async () => {
    await inBrowser('settings-branch', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await openSettings(page, shop);
      const field = page.getByRole('textbox', { name: 'Production branch' });
      await expect.poll(() => field.inputValue()).toBe('main');
      const save = page.getByRole('button', { name: 'Save branch' });

      // A name git refuses is refused before asking, on the field.
      await field.fill('release..1');
      await save.click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('“..”');
      expect(await field.getAttribute('aria-invalid')).toBe('true');
      expect((await pier.api<{ production_branch: string }>('GET', `/sites/${shop}`)).production_branch).toBe('main');
      await checkPage(page, 'settings-branch-error', width);

      await field.fill('release/2.x');
      await save.click();
      await expect.poll(() => page.getByRole('status').first().textContent()).toContain('pushes to release/2.x go live');
      expect((await pier.api<{ production_branch: string }>('GET', `/sites/${shop}`)).production_branch).toBe('release/2.x');
      expect(await save.isDisabled()).toBe(true); // nothing left to save
      await page.reload();
      await expect.poll(() => page.getByRole('textbox', { name: 'Production branch' }).inputValue()).toBe('release/2.x');
      await checkPage(page, 'settings-branch', width);

      // The overview's Git panel: the production branch, and no branches pushed yet.
      await page.goto(`${pier.url}/sites/${shop}`);
      const panel = page.getByRole('region', { name: 'Git' });
      await panel.getByRole('heading', { name: 'No branches pushed yet' }).waitFor();
      expect(await panel.getByRole('link', { name: /Production branch/ }).textContent()).toContain('release/2.x');
      const remote = await pier.api<{ remote?: string }>('GET', `/sites/${shop}/git`);
      if (remote.remote) {
        expect(await panel.locator('#git-remote').textContent()).toBe(remote.remote);
        expect(await panel.locator('#git-commands').textContent()).toBe(
          `git remote add pier ${remote.remote}\ngit push pier release/2.x`,
        );
        await panel.getByRole('button', { name: 'Copy remote URL' }).waitFor();
      } else {
        expect(await panel.textContent()).toContain('does not accept git push');
      }
      await panel.scrollIntoViewIfNeeded();
      await checkPage(page, 'overview-git', width);
    });
  });

  it('deleting a site needs its name typed exactly, and the edge stops serving it', async () => {
    expect((await pier.fetchSite(gone)).status).toBe(200);
    await inBrowser('settings-delete', width, async ({ page }) => {
      await signIn(page, tenantToken);
      await openSettings(page, gone);
      await page.getByRole('heading', { name: 'Danger zone' }).waitFor();
      await page.getByRole('button', { name: 'Delete site', exact: true }).click();

      const dialog = page.getByRole('dialog', { name: `Delete the site ${gone}?` });
      await dialog.waitFor();
      const confirm = dialog.getByRole('button', { name: 'Delete this site' });
      const field = dialog.getByLabel(`Type the site name ${gone} to confirm`);
      expect(await confirm.isDisabled()).toBe(true);
      for (const wrong of ['gone', gone.toUpperCase(), gone + 'x', `${blog}`]) {
        await field.fill(wrong);
        expect(await confirm.isDisabled(), `typed ${wrong}`).toBe(true);
      }
      await field.fill('gone');
      await checkPage(page, 'settings-delete-dialog', width);
      await field.press('Enter'); // submitting with the wrong name does nothing
      expect(await dialog.isVisible()).toBe(true);
      expect((await pier.fetchSite(gone)).status).toBe(200);

      await field.fill(gone);
      expect(await confirm.isEnabled()).toBe(true);
      await confirm.click();

      await page.waitForURL(pier.url + '/sites');
      const notice = page.getByRole('status').filter({ hasText: 'Deleted the site' });
      await notice.waitFor();
      expect(await notice.textContent()).toContain(gone);
      await page.getByRole('link', { name: blog, exact: true }).waitFor();
      expect(await page.getByRole('link', { name: gone, exact: true }).count()).toBe(0);
      await checkPage(page, 'sites-after-delete', width);
    });
    await expect.poll(async () => (await pier.fetchSite(gone)).status).toBe(404);
    expect(await status(`/sites/${gone}`, tenantToken)).toBe(404);
  });

  it('a console signed in with a site token sees only its site and cannot manage tokens', async () => {
    const token = (await pier.api<{ token: string }>('POST', `/sites/${blog}/tokens`, { name: 'console' }, tenantToken)).token;
    await inBrowser('settings-site-session', width, async ({ page }) => {
      await signIn(page, token);
      await page.getByRole('link', { name: blog, exact: true }).waitFor();
      expect(await page.locator('tbody th .site-name').allTextContents()).toEqual([blog]);
      expect(await page.locator('.who').textContent()).toContain(`acme / ${blog}`);
      await checkPage(page, 'sites-site-token', width);

      await openSettings(page, blog);
      await expect.poll(() => page.locator('.settings').textContent()).toContain('signed in with a deploy token');
      expect(await page.getByRole('button', { name: 'Delete site', exact: true }).count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Create token' }).count()).toBe(0);
      await checkPage(page, 'settings-site-token', width);

      await page.goto(`${pier.url}/sites/${shop}/settings`);
      await page.getByRole('heading', { name: 'Site not found' }).waitFor();
      expect(await status(`/sites/${shop}`, token)).toBe(404);
    });
  });
});
