// Logic of the deployment detail, site creation and attention views:
// the file list (sorting, filtering, paging), the config in words, site
// name rules and the attention list's reasons. No DOM here: unit-tested.
import type { Domain, Limits } from './api';
import type { DeploymentConfig, ManifestEntry } from './api-detail';
import { bytes, count, plural } from './format';

/** Files a deployment's list shows at first, and adds per "Show more". */
export const FILES_PAGE = 200;

/** One row of a deployment's file list. */
export interface FileRow extends ManifestEntry {
  path: string;
}

/** The manifest's files as rows, sorted by path. */
export function fileRows(manifest: Record<string, ManifestEntry> | undefined): FileRow[] {
  const rows = Object.entries(manifest ?? {}).map(([path, e]) => ({ ...e, path }));
  return rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The rows whose path (or content type) contains every word of the filter, case-insensitively. */
export function filterFiles(rows: FileRow[], filter: string): FileRow[] {
  const words = filter.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return rows;
  return rows.filter((r) => {
    const text = (r.path + ' ' + (r.content_type ?? '')).toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** The window of a filtered list shown: the first `shown` rows, and what a summary line says. */
export function visibleFiles(
  rows: FileRow[],
  shown: number,
  total: number,
  filter: string,
): { rows: FileRow[]; more: number; summary: string } {
  const visible = rows.slice(0, Math.max(0, shown));
  const more = rows.length - visible.length;
  const f = filter.trim();
  let summary: string;
  if (f) {
    summary = `${plural(rows.length, 'file')} of ${count(total)} match “${f}”`;
  } else {
    summary = plural(total, 'file');
  }
  if (more > 0) summary += `; showing the first ${count(visible.length)}`;
  return { rows: visible, more, summary };
}

/** The sum of the rows' sizes. */
export function totalBytes(rows: FileRow[]): number {
  return rows.reduce((a, r) => a + (r.size || 0), 0);
}

/** A file's size, with its compressed variants when there are any: "12 KiB (br 3 KiB, gzip 4 KiB)". */
export function fileSize(r: ManifestEntry): string {
  const variants: string[] = [];
  if (r.br_size) variants.push('br ' + bytes(r.br_size));
  if (r.gz_size) variants.push('gzip ' + bytes(r.gz_size));
  return bytes(r.size) + (variants.length ? ` (${variants.join(', ')})` : '');
}

const htmlHandling: Record<string, string> = {
  'auto-trailing-slash': 'Automatic trailing slash',
  'force-trailing-slash': 'Always add a trailing slash',
  'drop-trailing-slash': 'Always drop the trailing slash',
  none: 'Paths served as they are',
};

const notFoundHandling: Record<string, string> = {
  none: 'Plain 404 answer',
  '404-page': 'The nearest 404.html',
  'single-page-application': 'Single-page application: /index.html with 200',
};

/** One term of the config's definition list: a label, the value in words, and the raw value (shown as code) when it differs. */
export interface ConfigItem {
  term: string;
  value: string;
  code?: string;
  /** Several values, one per line (patterns, variables). */
  list?: string[];
}

/** The worker's limits in words: "10 ms CPU · 5 subrequests · 64 MB memory per request". */
export function limitsText(l: Limits | undefined): string {
  if (!l) return '';
  const parts: string[] = [];
  if (l.cpuMs) parts.push(`${count(l.cpuMs)} ms CPU`);
  if (l.subRequests) parts.push(plural(l.subRequests, 'subrequest'));
  if (l.memoryMB) parts.push(`${count(l.memoryMB)} MB memory`);
  return parts.length ? parts.join(' · ') + ' per request' : '';
}

/** The deployment's config as a readable definition list. */
export function configItems(
  config: DeploymentConfig | undefined,
  worker: { hash?: string; size?: number; limits?: Limits },
): ConfigItem[] {
  const c = config ?? { html_handling: 'auto-trailing-slash', not_found_handling: 'none' };
  const items: ConfigItem[] = [
    { term: 'HTML handling', value: htmlHandling[c.html_handling] ?? c.html_handling, code: c.html_handling },
    {
      term: 'Not-found handling',
      value: notFoundHandling[c.not_found_handling] ?? c.not_found_handling,
      code: c.not_found_handling,
    },
  ];
  const rwf = c.run_worker_first ?? [];
  if (rwf.length === 0) {
    items.push({ term: 'Run worker first', value: 'No: static files answer first, the worker the rest' });
  } else if (rwf.length === 1 && rwf[0] === '*') {
    items.push({ term: 'Run worker first', value: 'Every request', code: '*' });
  } else {
    const ex = rwf.filter((p) => p.startsWith('!')).length;
    items.push({
      term: 'Run worker first',
      value: `Paths matching ${plural(rwf.length - ex, 'pattern')}${ex ? `, except ${plural(ex, 'exclusion')}` : ''}`,
      list: rwf,
    });
  }
  const vars = Object.entries(c.vars ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  items.push(
    vars.length === 0
      ? { term: 'Variables', value: 'None' }
      : { term: 'Variables', value: plural(vars.length, 'variable'), list: vars.map(([k, v]) => `${k} = ${v}`) },
  );
  if (!worker.hash) {
    items.push({ term: 'Worker', value: 'None: static files only' });
  } else {
    const facts = [worker.size !== undefined ? bytes(worker.size) + ' WebAssembly' : 'WebAssembly module'];
    const limits = limitsText(worker.limits);
    if (limits) facts.push(limits);
    items.push({ term: 'Worker', value: facts.join(' · '), code: worker.hash });
  }
  return items;
}

/** The rules of a site name (internal/dnsname.ValidSiteName and tenants.MaxSiteNameLen). */
export const MAX_SITE_NAME = 53;

/** Why name cannot name a site, in words ('' when it can): the API's rules, checked before asking. */
export function siteNameError(name: string): string {
  if (name === '') return 'Enter a site name.';
  if (name.length > MAX_SITE_NAME) return `A site name has at most ${MAX_SITE_NAME} characters (this one has ${name.length}).`;
  if (/[A-Z]/.test(name) && /^[a-zA-Z0-9-]+$/.test(name)) return 'Use lowercase letters: site names are DNS labels.';
  if (!/^[a-z0-9-]+$/.test(name)) return "Use only lowercase letters a–z, digits and '-'.";
  if (name.startsWith('-') || name.endsWith('-')) return "A site name cannot start or end with '-'.";
  if (name.includes('--')) return "A site name cannot contain '--' (it separates preview addresses).";
  return '';
}

/** Why a domain is on the attention list. */
export type AttentionKind = 'cert_failed' | 'blocked' | 'verification_failing';

export interface AttentionItem {
  kind: AttentionKind;
  /** The kind in words. */
  label: string;
  /** The reason in words. */
  reason: string;
  /** When it was last checked, or else created (ISO), for a relative time. */
  when?: string;
  /** What `when` is: "checked" or "added". */
  whenLabel: 'checked' | 'added';
  /** The next retry or check (ISO), when one is planned. */
  next?: string;
}

/** Why a claim needs attention, in words, and when. */
export function attentionItem(d: Domain): AttentionItem {
  if (d.status === 'blocked') {
    return {
      kind: 'blocked',
      label: 'Blocked',
      reason: sentence(d.error || 'Blocked by the platform operator') + ' It is not checked or served.',
      ...when(d),
    };
  }
  if (d.cert_status === 'failed') {
    return {
      kind: 'cert_failed',
      label: 'Certificate failed',
      reason: sentence(d.cert_error || 'The certificate could not be obtained'),
      ...when(d),
      next: d.cert_next_retry,
    };
  }
  return {
    kind: 'verification_failing',
    label: 'Verification failing',
    reason: sentence(d.error || 'Ownership is not proven yet'),
    ...when(d),
    next: d.next_check,
  };
}

function when(d: Domain): { when: string; whenLabel: 'checked' | 'added' } {
  return d.checked_at ? { when: d.checked_at, whenLabel: 'checked' } : { when: d.created_at, whenLabel: 'added' };
}

/** The text with a capital first letter and a final full stop. */
export function sentence(s: string): string {
  const t = s.trim();
  if (!t) return '';
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** The certificate order budget: how full it is, 0 to 1, and in words. */
export function budget(orders: { last_hour: number; cap: number }): { ratio: number; text: string; level: 'ok' | 'warn' | 'full' } {
  if (orders.cap <= 0) return { ratio: 0, text: `${plural(orders.last_hour, 'order')} this hour, no cap`, level: 'ok' };
  const ratio = Math.min(1, Math.max(0, orders.last_hour / orders.cap));
  const level = ratio >= 1 ? 'full' : ratio >= 0.8 ? 'warn' : 'ok';
  return { ratio, text: `${count(orders.last_hour)} of ${count(orders.cap)} orders used this hour`, level };
}
