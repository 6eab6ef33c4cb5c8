// Deploy by drag and drop, in a real browser against the real `pier
// serve`: a tenant drops a folder (a real DataTransfer dispatched on the
// drop zone) and picks one (the webkitdirectory input), sees what was
// uploaded, and the edge serves it; a redeploy with one changed file
// uploads one blob; a bad _redirects line names the file and line and the
// live site stays as it was; "Publish when done" unticked leaves it live
// as it was too. Blobs are the tenant's, shared by its sites: each width
// deploys its own content. Each state passes checkPage at 375 and 1440 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser, signIn, widths } from './browser';

let pier: Pier;
let token: string;
let scratch: string;

beforeAll(async () => {
  pier = await startPier();
  scratch = await mkdtemp(join(tmpdir(), 'pier-web-deploy-'));
  await pier.api('POST', '/tenants', { name: 'acme' });
  for (const w of widths) await pier.api('POST', '/sites', { name: `drop-${w}`, tenant: 'acme' });
  token = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'deploy-test' })).token;
});

afterAll(async () => {
  await pier?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Writes files into a new directory named name under the scratch directory. */
async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(scratch, name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/** Records every aria-valuenow the progress bar shows, from before the deploy starts. */
function watchProgress(page: Page): Promise<void> {
  return page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { progressSeen: number[] }).progressSeen = seen;
    new MutationObserver(() => {
      const bar = document.querySelector('[role="progressbar"]');
      const v = bar?.getAttribute('aria-valuenow');
      if (v !== null && v !== undefined) seen.push(Number(v));
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
}

function progressSeen(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
}

/** Drops files (name → content) on the drop zone as a real DataTransfer. */
async function drop(page: Page, files: Record<string, string>): Promise<void> {
  const dt = await page.evaluateHandle((entries) => {
    const dt = new DataTransfer();
    for (const [name, text] of entries) dt.items.add(new File([text], name, { type: name.endsWith('.html') ? 'text/html' : 'text/plain' }));
    return dt;
  }, Object.entries(files));
  const zone = page.getByRole('region', { name: 'Drop zone' });
  await zone.dispatchEvent('dragenter', { dataTransfer: dt });
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
}

async function result(page: Page): Promise<string> {
  const done = page.getByRole('region', { name: /^Deployed/ });
  await done.waitFor({ timeout: 30_000 });
  return (await done.textContent()) ?? '';
}

describe.each(widths)('at %d px', (width) => {
  const site = `drop-${width}`;

  it('a tenant drops a folder, redeploys with one file changed, and a bad _redirects line changes nothing', async () => {
    await inBrowser(pier.url, `deploy-${width}`, width, async ({ page }) => {
      await signIn(page, pier.url, token);
      await page.goto(`${pier.url}/sites/${site}/deployments`);
      await page.getByRole('link', { name: 'Deploy a folder' }).click();
      await page.getByRole('heading', { name: 'Deploy a folder' }).waitFor();
      expect(page.url()).toBe(`${pier.url}/sites/${site}/deploy`);
      await expect.poll(() => page.getByRole('checkbox', { name: 'Publish when done' }).isChecked()).toBe(true);
      await checkPage(page, 'deploy-empty', width);

      // Drop three files.
      await watchProgress(page);
      await drop(page, {
        'index.html': `<!doctype html><title>v1</title><h1>Dropped v1 ${width}</h1>`,
        'about.html': `<!doctype html><title>About</title><p>About us at ${width}</p>`,
        'site.css': `body { width: ${width}px; }`,
      });
      let text = await result(page);
      expect(text).toContain('3 files, 3 uploaded, 0 reused');
      expect(text).toContain(`${site}.localhost`);
      expect(await page.getByRole('link', { name: new RegExp(`^[a-z0-9]+--${site}\\.localhost`) }).count()).toBe(1);
      const seen = await progressSeen(page);
      expect(seen.length, 'the progress bar showed').toBeGreaterThan(0);
      expect(Math.max(...seen)).toBe(100);
      await checkPage(page, 'deploy-done', width);
      expect((await pier.fetchSite(site, '/')).body).toContain(`Dropped v1 ${width}`);

      // Pick a folder (with a subdirectory) where one file changed: one blob.
      const v2 = await folder(`v2-${width}`, {
        'index.html': `<!doctype html><title>v2</title><h1>Picked v2 ${width}</h1>`,
        'about.html': `<!doctype html><title>About</title><p>About us at ${width}</p>`,
        'site.css': `body { width: ${width}px; }`,
        '.env': 'SECRET=1',
      });
      await page.getByLabel('Choose a folder').setInputFiles(v2);
      await expect.poll(() => page.getByRole('region', { name: /^Deployed/ }).textContent(), { timeout: 30_000 }).toContain('1 uploaded');
      text = await result(page);
      expect(text).toContain('3 files, 1 uploaded, 2 reused');
      expect(text).toContain('/.env');
      await expect.poll(async () => (await pier.fetchSite(site, '/')).body).toContain(`Picked v2 ${width}`);
      expect((await pier.fetchSite(site, '/.env')).status).toBe(404);

      // A bad _redirects line: the file and line are named, the live site stays.
      await drop(page, {
        'index.html': `<!doctype html><title>v3</title><h1>Broken v3 ${width}</h1>`,
        _redirects: '/old /new 301\n/broken\n',
      });
      const alert = page.getByRole('alert');
      await alert.waitFor({ timeout: 30_000 });
      const msg = (await alert.textContent()) ?? '';
      expect(msg).toContain('_redirects');
      expect(msg).toMatch(/line\s*2/i);
      expect(msg).toContain('live site is as it was');
      await checkPage(page, 'deploy-error', width);
      expect((await pier.fetchSite(site, '/')).body).toContain(`Picked v2 ${width}`);
    });
  });
});

describe('publishing and pier.toml', () => {
  it('"Publish when done" unticked creates a preview only; pier.toml picks the directory and a bad one is named; a file over the limit is named', async () => {
    const site = `drop-${widths[1]}`;
    await inBrowser(pier.url, 'deploy-options', widths[1], async ({ page }) => {
      await signIn(page, pier.url, token);
      await page.goto(`${pier.url}/sites/${site}/deploy`);
      await page.getByRole('checkbox', { name: 'Publish when done' }).uncheck();
      const proj = await folder('project', {
        'pier.toml': '[assets]\ndirectory = "public"\nnot_found_handling = "404-page"\n',
        'public/index.html': '<!doctype html><title>Preview</title><h1>Preview only</h1>',
        'public/404.html': 'Not here',
        'src/app.ts': 'console.log(1)',
      });
      await page.getByLabel('Choose a folder').setInputFiles(proj);
      const text = await result(page);
      expect(text).toContain('Deployed (not published)');
      expect(text).toContain('2 files');
      expect((await pier.fetchSite(site, '/')).body).toContain(`Picked v2 ${widths[1]}`);
      const deps = await pier.api<{ deployments: { active: boolean; source: { type: string }; config: { not_found_handling: string } }[] }>(
        'GET',
        `/sites/${site}/deployments`,
      );
      expect(deps.deployments[0]).toMatchObject({ active: false, source: { type: 'ui' } });

      const bad = await folder('bad-toml', { 'pier.toml': '[assets]\ndirectry = "public"\n', 'index.html': 'x' });
      await page.getByLabel('Choose a folder').setInputFiles(bad);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('bad-toml/pier.toml: unknown key assets.directry');

      // A file over the server's limit (25 MiB by default): the file and the limit are named.
      const big = join(scratch, 'big');
      await mkdir(big, { recursive: true });
      await writeFile(join(big, 'index.html'), 'small');
      await writeFile(join(big, 'big.bin'), Buffer.alloc((25 << 20) + 1, 7));
      await page.getByLabel('Choose a folder').setInputFiles(big);
      await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 30_000 }).toContain('/big.bin');
      const alert = (await page.getByRole('alert').textContent()) ?? '';
      expect(alert).toContain('larger than the limit');
      expect(alert).toContain('25 MiB (26,214,400 bytes)');
      expect((await pier.fetchSite(site, '/')).body).toContain(`Picked v2 ${widths[1]}`);
    });
  });
});
