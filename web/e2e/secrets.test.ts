// A site's secrets in a real browser against the real `pier serve`: a
// tenant adds a secret through a password field that is cleared once
// saved, sees only names and update times (the value is in no answer the
// browser gets and nowhere on the page), replaces it, and deletes it
// behind a confirmation; bad names are refused on the field. Every page
// passes checkPage at 375 and 1440 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser as inBrowserAt, signIn as signInAt, widths, type Session } from './browser';

/** These tests walk many steps each: more than the config's 60 s on a loaded machine. */
const SLOW = 180_000;

type Secret = { name: string; created_at: string; updated_at: string };

let pier: Pier;
let tenantToken: string;

beforeAll(async () => {
  pier = await startPier();
  await pier.api('POST', '/tenants', { name: 'acme' });
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'secrets-test' })).token;
  for (const w of widths) {
    await pier.api('POST', '/sites', { name: `blog-${w}`, tenant: 'acme' });
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

/** The error shown for the field id: it is invalid and described by its alert. */
async function fieldError(page: Page, id: string): Promise<string> {
  await expect.poll(() => page.locator('#' + id).getAttribute('aria-invalid')).toBe('true');
  const alert = page.locator(`#${id}-error`);
  await alert.waitFor();
  expect(await page.locator('#' + id).getAttribute('aria-describedby')).toContain(`${id}-error`);
  return (await alert.textContent()) ?? '';
}

describe.each(widths)('at %d px', (width) => {
  const site = `blog-${width}`;

  it(
    'a tenant adds, replaces and deletes a secret whose value is never shown',
    async () => {
      const value = 'sk_live_' + randomBytes(12).toString('hex');
      const value2 = 'sk_live_' + randomBytes(12).toString('hex');
      await inBrowser('secrets', width, async ({ page }) => {
        // Every answer of the API the browser gets, to look for the values in.
        const answers: Promise<string>[] = [];
        page.on('response', (r) => {
          if (r.url().includes('/api/')) answers.push(r.text().catch(() => ''));
        });

        await signIn(page, tenantToken);
        await page.goto(`${pier.url}/sites/${site}/settings`);
        const section = page.getByRole('region', { name: 'Secrets' });
        await section.getByRole('heading', { name: 'No secrets yet' }).waitFor();
        expect(await section.textContent()).toContain('A change applies from the site’s next request');
        expect(await page.getByLabel('Secret value').getAttribute('type')).toBe('password');
        await checkPage(page, 'secrets-empty', width);

        // Names and values are checked on their fields before asking.
        await section.getByRole('button', { name: 'Save secret' }).click();
        expect(await fieldError(page, 'site-secret-name')).toContain('name');
        expect(await fieldError(page, 'site-secret-value')).toContain('value');
        await page.getByLabel('Secret name').fill('2FA');
        await page.getByLabel('Secret value').fill(value);
        await section.getByRole('button', { name: 'Save secret' }).click();
        expect(await fieldError(page, 'site-secret-name')).toContain('digit');
        expect((await pier.api<{ secrets: Secret[] }>('GET', `/sites/${site}/secrets`)).secrets ?? []).toEqual([]);
        await checkPage(page, 'secrets-error', width);

        await page.getByLabel('Secret name').fill('API_KEY');
        await section.getByRole('button', { name: 'Save secret' }).click();
        await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Added the secret API_KEY');
        await section.getByRole('row', { name: /API_KEY/ }).waitFor();
        expect(await page.getByLabel('Secret value').inputValue()).toBe('');
        expect(await page.getByLabel('Secret name').inputValue()).toBe('');
        const listed = await pier.api<{ secrets: Secret[] }>('GET', `/sites/${site}/secrets`);
        expect(listed.secrets.map((s) => s.name)).toEqual(['API_KEY']);
        expect(JSON.stringify(listed)).not.toContain(value);
        expect(await page.content()).not.toContain(value);
        await checkPage(page, 'secrets', width);

        // Reloaded: the name and its time, no value.
        await page.reload();
        await section.getByRole('row', { name: /API_KEY/ }).waitFor();
        expect(await page.content()).not.toContain(value);

        // Replace: the name is filled in, the value field is focused and empty.
        const firstUpdate = listed.secrets[0].updated_at;
        await section.getByRole('button', { name: 'Replace secret API_KEY' }).click();
        await expect.poll(() => page.getByLabel('Secret name').inputValue()).toBe('API_KEY');
        await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('site-secret-value');
        await page.keyboard.type(value2);
        await page.keyboard.press('Enter');
        await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Replaced the secret API_KEY');
        expect(await page.getByLabel('Secret value').inputValue()).toBe('');
        const replaced = await pier.api<{ secrets: Secret[] }>('GET', `/sites/${site}/secrets`);
        expect(replaced.secrets.map((s) => s.name)).toEqual(['API_KEY']);
        expect(Date.parse(replaced.secrets[0].updated_at)).toBeGreaterThanOrEqual(Date.parse(firstUpdate));
        expect(await page.content()).not.toContain(value2);

        // Delete behind a confirmation.
        await section.getByRole('button', { name: 'Delete secret API_KEY' }).click();
        const dialog = page.getByRole('dialog', { name: 'Delete the secret API_KEY?' });
        await dialog.waitFor();
        await checkPage(page, 'secrets-delete', width);
        await dialog.getByRole('button', { name: 'Delete secret' }).click();
        await section.getByRole('heading', { name: 'No secrets yet' }).waitFor();
        await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('secrets-title');
        expect((await pier.api<{ secrets: Secret[] }>('GET', `/sites/${site}/secrets`)).secrets ?? []).toEqual([]);

        // No answer the browser got carried either value.
        for (const text of await Promise.all(answers)) {
          expect(text).not.toContain(value);
          expect(text).not.toContain(value2);
        }
      });
    },
    SLOW,
  );
});
