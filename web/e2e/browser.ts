// Debian's Chromium driven by playwright-core, each run with a fresh
// profile, and the checks every page gets: axe-core, no horizontal
// scroll, no request to another host, no CSP violation, a screenshot.
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const shots = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'screenshots');
export const widths = [375, 1440] as const;

const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Every URL the browser requested. */
  requests: string[];
  /** Console messages about a Content-Security-Policy violation, and page errors. */
  problems: string[];
  close(): Promise<void>;
}

/** A browser with a fresh user-data-dir, one page, at the given width. */
export async function openBrowser(width: number): Promise<Session> {
  const profile = await mkdtemp(join(tmpdir(), 'pier-web-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args,
    viewport: { width, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  const problems: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  return {
    context,
    page,
    requests,
    problems,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(shots, { recursive: true });
  const path = join(shots, name + '.png');
  await page.screenshot({ path, fullPage: true });
  return path;
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page, as readable lines. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does
  // not govern (an injected <script> would be refused, rightly).
  await page.evaluate(await axeSource);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: Document, o: object) => Promise<any> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
      .map((v: any) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target.join(' ')).join(', ')})`);
  });
}

/** How far the page scrolls sideways (0 when it fits the viewport). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/**
 * Runs fn in a fresh browser at width; afterwards the page must have had no
 * CSP violation or page error and requested nothing outside origin. A
 * failure leaves a screenshot named FAILED-<name>-<width>.
 */
export async function inBrowser(origin: string, name: string, width: number, fn: (s: Session) => Promise<void>): Promise<void> {
  const s = await openBrowser(width);
  try {
    await fn(s);
    expect(s.problems, 'CSP violations or page errors').toEqual([]);
    const foreign = s.requests.filter((u) => !u.startsWith(origin + '/'));
    expect(foreign, 'requests to another host than the console').toEqual([]);
  } catch (err) {
    const path = await screenshot(s.page, `FAILED-${name}-${width}`).catch((e) => `none (${e})`);
    console.log(`screenshot of the failure: ${path}`);
    throw err;
  } finally {
    await s.close();
  }
}

/** The checks every page gets: a screenshot, axe-core, and no sideways scroll. */
export async function checkPage(page: Page, name: string, width: number): Promise<void> {
  await screenshot(page, `${name}-${width}`);
  expect(await axeViolations(page), `axe-core on ${name}`).toEqual([]);
  expect(await horizontalOverflow(page), `horizontal scroll on ${name} at ${width} px`).toBe(0);
}

/**
 * Signs in at origin with token through the sign-in form and waits for the
 * sites list. A test file's sessions all sign in from one address, so on a
 * fast machine they can meet the login rate limit (10 attempts in a row,
 * then one every 6 s per address): a refused attempt is made again once
 * the 429's Retry-After has passed, as a person would.
 */
export async function signIn(page: Page, origin: string, token: string): Promise<void> {
  await page.goto(origin + '/');
  await page.getByLabel('Token', { exact: true }).fill(token);
  for (let attempt = 1; ; attempt++) {
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/session' && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const resp = await answer;
    if (resp.status() !== 429 || attempt === 30) break;
    const wait = Number(resp.headers()['retry-after'] ?? '1');
    await page.waitForTimeout(Math.max(wait, 1) * 1000);
  }
  await page.getByRole('heading', { name: 'Sites' }).waitFor();
}
