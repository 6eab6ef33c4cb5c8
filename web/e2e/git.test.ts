// Publishing with git push, as the console shows it, in a real browser
// against the real `pier serve`: the real git client pushes the
// production branch and a feature branch with a tenant token; the site's
// overview lists both branches (the feature's alias address links to the
// edge, which serves the branch), and the deployments list says each came
// from git with its branch and commit. Every page passes checkPage at 375
// and 1440 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request as httpRequest } from 'node:http';
import { startPier, type Pier } from './pier';
import { checkPage, inBrowser, signIn, widths } from './browser';

let pier: Pier;
let tenantToken: string;
const repos: string[] = [];

/** Runs git in dir with an isolated configuration. */
async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout, stderr } = await promisify(execFile)(
    'git',
    ['-c', 'user.name=Console Test', '-c', 'user.email=test@example.test', '-c', 'init.defaultBranch=main', ...args],
    { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } },
  );
  return stdout + stderr;
}

/** GETs / of host over the edge; the body. */
function fetchHost(host: string): Promise<string> {
  const i = pier.edge.lastIndexOf(':');
  const [addr, port] = [pier.edge.slice(0, i), pier.edge.slice(i + 1)];
  return new Promise((ok, fail) => {
    const req = httpRequest({ host: addr, port, path: '/', headers: { Host: `${host}:${port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => ok(body));
    });
    req.on('error', fail);
    req.end();
  });
}

beforeAll(async () => {
  pier = await startPier();
  await pier.api('POST', '/tenants', { name: 'acme' });
  tenantToken = (await pier.api<{ token: string }>('POST', '/tenants/acme/tokens', { name: 'git-test' })).token;
});

afterAll(async () => {
  await pier?.stop();
  await Promise.all(repos.map((r) => rm(r, { recursive: true, force: true })));
});

describe.each(widths)('at %d px', (width) => {
  const site = `pushed-${width}`;

  it('a pushed branch shows on the overview with its address, and deployments say they came from git', async () => {
    await pier.api('POST', '/sites', { name: site, tenant: 'acme' });
    const { remote } = await pier.api<{ remote?: string }>('GET', `/sites/${site}/git`);
    expect(remote).toMatch(new RegExp(`/git/${site}\\.git$`));
    const withToken = remote!.replace('http://', `http://x:${tenantToken}@`);

    const repo = await mkdtemp(join(tmpdir(), 'pier-web-git-'));
    repos.push(repo);
    await git(repo, 'init', '-q');
    await writeFile(join(repo, 'index.html'), '<!doctype html><title>main</title><h1>From main</h1>');
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-qm', 'first');
    expect(await git(repo, 'push', withToken, 'main')).toContain('is live');
    await git(repo, 'switch', '-qc', 'feature/Dark-Mode');
    await writeFile(join(repo, 'index.html'), '<!doctype html><title>dark</title><h1>Dark mode</h1>');
    await git(repo, 'commit', '-qam', 'dark mode');
    const out = await git(repo, 'push', withToken, 'feature/Dark-Mode');
    expect(out).toContain(`feature-dark-mode--${site}.localhost`);
    const mainCommit = (await git(repo, 'rev-parse', '--short=7', 'main')).trim();
    const featureCommit = (await git(repo, 'rev-parse', '--short=7', 'HEAD')).trim();

    await inBrowser(pier.url, 'git-branches', width, async ({ page }) => {
      await signIn(page, pier.url, tenantToken);
      await page.goto(`${pier.url}/sites/${site}`);
      const panel = page.getByRole('region', { name: 'Git' });
      const feature = panel.getByRole('row', { name: /feature\/Dark-Mode/ });
      await feature.waitFor();
      expect(await feature.textContent()).toContain(featureCommit);
      const production = panel.getByRole('row', { name: /main/ }).filter({ hasText: 'Production' });
      expect(await production.textContent()).toContain(mainCommit);
      const alias = feature.getByRole('link', { name: /feature-dark-mode--/ });
      const href = await alias.getAttribute('href');
      expect(href).toContain(`feature-dark-mode--${site}.localhost`);
      expect(await fetchHost(new URL(href!).hostname)).toContain('Dark mode');
      expect((await pier.fetchSite(site)).body).toContain('From main');
      await panel.scrollIntoViewIfNeeded();
      await checkPage(page, 'overview-git-branches', width);

      await page.goto(`${pier.url}/sites/${site}/deployments`);
      const text = () => page.locator('main').textContent();
      await expect.poll(text).toContain(`git · branch feature/Dark-Mode · commit ${featureCommit}`);
      expect(await text()).toContain(`git · branch main · commit ${mainCommit}`);
      await checkPage(page, 'deployments-git', width);
    });
  });
});
