// The operator's tenant pages' own logic: tags, plans and limits, typed
// confirmations. Pure functions, unit-tested in tenants.test.ts.
import type { Limits } from './api';
import type { QuotaUsage } from './api-tenants';

/** The plans, smallest first (tenants/model.go: plans). */
export const PLAN_NAMES = ['free', 'pro', 'enterprise'] as const;

/**
 * Each plan's limits, as tenants/model.go defines them. Used only to preview
 * a plan not saved yet: the saved plan's values come from the API's
 * effective_limits (the browser test checks the two agree).
 */
export const PLAN_LIMITS: Record<string, Required<Limits>> = {
  free: {
    cpuMs: 10, cpuMsPerSecond: 250, subRequests: 5, memoryMB: 64, kvOps: 50, kvValueKB: 1024, gitRepoMB: 1024, gitPushMB: 256,
    requestsPerSecond: 100, requestBurst: 200, sites: 10, domains: 10,
    uploadSessions: 10, uploadEntries: 200_000, storageMB: 2048, workerMB: 16, kvNamespaces: 10,
    deployments: 100, keepDeployments: 20, keepDays: 30,
  },
  pro: {
    cpuMs: 20, cpuMsPerSecond: 1000, subRequests: 20, memoryMB: 128, kvOps: 1000, kvValueKB: 1024, gitRepoMB: 4096, gitPushMB: 1024,
    requestsPerSecond: 1000, requestBurst: 2000, sites: 100, domains: 100,
    uploadSessions: 25, uploadEntries: 1_000_000, storageMB: 20480, workerMB: 24, kvNamespaces: 100,
    deployments: 500, keepDeployments: 50, keepDays: 90,
  },
  enterprise: {
    cpuMs: 50, cpuMsPerSecond: 4000, subRequests: 50, memoryMB: 256, kvOps: 1000, kvValueKB: 4096, gitRepoMB: 16384, gitPushMB: 2048,
    requestsPerSecond: 10000, requestBurst: 20000, sites: 1000, domains: 1000,
    uploadSessions: 100, uploadEntries: 5_000_000, storageMB: 204800, workerMB: 32, kvNamespaces: 1000,
    deployments: 2000, keepDeployments: 100, keepDays: 365,
  },
};

/** "free" → "Free". */
export function planLabel(plan: string): string {
  return plan ? plan[0].toUpperCase() + plan.slice(1) : plan;
}

/** The most tags a tenant may carry (tenants.MaxTags). */
export const MAX_TAGS = 8;

/** Why tag is not a valid "key:value" tag, or '' when it is (tenants.ValidateTags). */
export function tagError(tag: string): string {
  const i = tag.indexOf(':');
  if (i <= 0 || i === tag.length - 1 || /[\s,]/.test(tag)) {
    return `“${tag}” is not a tag: write key:value, without spaces or commas (e.g. env:prod).`;
  }
  if (new TextEncoder().encode(tag).length > 128) return `“${tag.slice(0, 24)}…” is longer than 128 bytes.`;
  return '';
}

/** The tag of a filter box, trimmed; and why it is not a tag ('' when it is, or when empty). */
export function normalizeTag(text: string): { tag: string; error: string } {
  const tag = text.trim();
  return { tag, error: tag ? tagError(tag) : '' };
}

/**
 * Parses tags typed as text, separated by commas, spaces or new lines:
 * trimmed, duplicates dropped (first kept), each checked, at most MAX_TAGS
 * (counting those in `existing`, which are kept first).
 */
export function parseTags(text: string, existing: string[] = []): { tags: string[]; error: string } {
  const tags = [...existing];
  for (const t of text.split(/[\s,]+/)) {
    if (t === '' || tags.includes(t)) continue;
    const err = tagError(t);
    if (err) return { tags: existing, error: err };
    tags.push(t);
  }
  if (tags.length > MAX_TAGS) {
    return { tags: existing, error: `A tenant carries at most ${MAX_TAGS} tags (this would be ${tags.length}).` };
  }
  return { tags, error: '' };
}

/** Why name cannot be a tenant's name, or '' (tenants.ValidateName; the server checks again). */
export function tenantNameError(name: string): string {
  if (name === '') return 'Give the tenant a name.';
  if (name.length > 63 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) || name.includes('--')) {
    return 'Use lowercase letters, digits and single hyphens (1–63 characters, not starting or ending with a hyphen).';
  }
  return '';
}

/** True when the typed confirmation names exactly the thing to delete (surrounding spaces forgiven). */
export function typedMatches(typed: string, name: string): boolean {
  return name !== '' && typed.trim() === name;
}

/** The limits a tenant's workers run under, in the order the console shows them. */
export const LIMIT_FIELDS: LimitField[] = [
  { key: 'cpuMs', label: 'CPU time per request', unit: 'ms' },
  { key: 'cpuMsPerSecond', label: 'CPU time per second, all workers (per node)', unit: 'ms' },
  { key: 'subRequests', label: 'Subrequests per request', unit: '' },
  { key: 'memoryMB', label: 'Memory', unit: 'MB' },
  { key: 'kvOps', label: 'KV operations per request', unit: '' },
  { key: 'kvValueKB', label: 'Largest KV value', unit: 'KB' },
];

/** The sizes a tenant's git repositories and pushes may reach, in the order the console shows them. */
export const GIT_LIMIT_FIELDS: LimitField[] = [
  { key: 'gitRepoMB', label: 'Git repository size', unit: 'MB' },
  { key: 'gitPushMB', label: 'Git push size', unit: 'MB' },
];

/** What a tenant may hold (docs/api.md#quotas), in the order the console shows them. */
export const QUOTA_FIELDS: LimitField[] = [
  { key: 'sites', label: 'Sites', unit: '' },
  { key: 'domains', label: 'Custom domains', unit: '' },
  { key: 'uploadSessions', label: 'Open upload sessions', unit: '' },
  { key: 'uploadEntries', label: 'Entries in open uploads', unit: '' },
  { key: 'storageMB', label: 'Storage', unit: 'MB' },
  { key: 'workerMB', label: 'Worker size', unit: 'MB' },
  { key: 'kvNamespaces', label: 'KV namespaces', unit: '' },
];

/** Each site's visitor request rate at the edge, per node. */
export const RATE_LIMIT_FIELDS: LimitField[] = [
  { key: 'requestsPerSecond', label: 'Requests per second per site', unit: '' },
  { key: 'requestBurst', label: 'Request burst per site', unit: '' },
];

/** How many deployments a site holds and which retention keeps. */
export const RETENTION_LIMIT_FIELDS: LimitField[] = [
  { key: 'deployments', label: 'Deployments per site', unit: '' },
  { key: 'keepDeployments', label: 'Newest deployments kept', unit: '' },
  { key: 'keepDays', label: 'Deployments younger than this kept', unit: 'days' },
];

/** Every limit a tenant's overrides may set. */
export const ALL_LIMIT_FIELDS: LimitField[] = [
  ...LIMIT_FIELDS,
  ...GIT_LIMIT_FIELDS,
  ...QUOTA_FIELDS,
  ...RATE_LIMIT_FIELDS,
  ...RETENTION_LIMIT_FIELDS,
];

export interface QuotaRow {
  key: keyof Limits;
  label: string;
  /** What is used, in the limit's unit (MB for storage), and the limit in effect. */
  used: number;
  limit: number;
  /** "3 of 10", "12.5 of 2,048 MB". */
  text: string;
  /** used / limit, at most 1 (0 when there is no limit). */
  ratio: number;
  /** ok below 80 %, warn from 80 %, full at the limit. */
  level: 'ok' | 'warn' | 'full';
}

/**
 * The quotas a tenant's usage can be shown against (all but workerMB,
 * which bounds each worker, not a total): what it uses of each.
 */
export function quotaRows(limits: Limits, usage: QuotaUsage): QuotaRow[] {
  const used: Partial<Record<keyof Limits, number>> = {
    sites: usage.sites,
    domains: usage.domains,
    uploadSessions: usage.uploadSessions,
    uploadEntries: usage.uploadEntries,
    storageMB: usage.storageBytes / (1 << 20),
    kvNamespaces: usage.kvNamespaces,
  };
  return QUOTA_FIELDS.filter((f) => used[f.key] !== undefined).map(({ key, label, unit }) => {
    const u = used[key] ?? 0;
    const limit = limits[key] ?? 0;
    const ratio = limit > 0 ? Math.min(u / limit, 1) : 0;
    const shown = unit === 'MB' ? formatMB(u) : u.toLocaleString('en');
    return {
      key,
      label,
      used: u,
      limit,
      text: `${shown} of ${limit.toLocaleString('en')}${unit ? ' ' + unit : ''}`,
      ratio,
      level: limit > 0 && u >= limit ? 'full' : ratio >= 0.8 ? 'warn' : 'ok',
    };
  });
}

/** MB with one decimal below 100 ("0.7", "12.5"), whole above ("2,041"). */
function formatMB(mb: number): string {
  return mb < 100 ? mb.toFixed(1) : Math.round(mb).toLocaleString('en');
}

export interface LimitField {
  key: keyof Limits;
  label: string;
  unit: string;
}

export interface LimitRow {
  key: keyof Limits;
  label: string;
  unit: string;
  /** The plan's value. */
  planValue: number;
  /** The tenant's override, 0 when it has none. */
  override: number;
  /** What applies: the override, else the plan's value. */
  effective: number;
  overridden: boolean;
}

/**
 * The limits (fields, the workers' by default) of a tenant on plan with
 * overrides: each the plan's value (inherited) or the override. saved, the
 * tenant as the API answered it, supplies the plan's values when plan is
 * its saved plan (the server's truth), else PLAN_LIMITS does.
 */
export function limitRows(
  plan: string,
  overrides: Limits,
  saved?: { plan: string; limits: Limits; effective_limits?: Limits },
  fields: LimitField[] = LIMIT_FIELDS,
): LimitRow[] {
  return fields.map(({ key, label, unit }) => {
    let planValue = PLAN_LIMITS[plan]?.[key] ?? 0;
    const savedOverride = saved?.limits?.[key] ?? 0;
    const fromServer = saved?.effective_limits?.[key];
    if (saved && saved.plan === plan && !(savedOverride > 0) && fromServer !== undefined) planValue = fromServer;
    const override = overrides[key] ?? 0;
    const overridden = override > 0;
    return { key, label, unit, planValue, override: overridden ? override : 0, effective: overridden ? override : planValue, overridden };
  });
}

/** An override typed in a limit's field: '' is none (0, the plan's value); else a whole number above 0. */
export function parseLimit(text: string): { value: number; error: string } {
  const t = text.trim();
  if (t === '') return { value: 0, error: '' };
  if (!/^\d+$/.test(t) || Number(t) <= 0 || !Number.isSafeInteger(Number(t))) {
    return { value: 0, error: 'Write a whole number above 0, or leave it empty to use the plan’s value.' };
  }
  return { value: Number(t), error: '' };
}

/** The override fields as JSON sends them: only the overridden ones. */
export function limitsBody(overrides: Limits): Limits {
  const out: Limits = {};
  for (const { key } of ALL_LIMIT_FIELDS) {
    const v = overrides[key] ?? 0;
    if (v > 0) out[key] = v;
  }
  return out;
}

/**
 * The form's texts once the saved values move from was to now: a field the
 * user left as it was shows the new value, one they changed keeps their
 * text (typed while a save was in flight, or before another card saved).
 */
export function keepEdits(cur: Record<string, string>, was: Record<string, string>, now: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of new Set([...Object.keys(now), ...Object.keys(cur)])) {
    out[key] = (cur[key] ?? '') === (was[key] ?? '') ? (now[key] ?? '') : cur[key];
  }
  return out;
}

/** Do two sets of overrides differ (missing = 0)? */
export function limitsDiffer(a: Limits, b: Limits): boolean {
  return ALL_LIMIT_FIELDS.some(({ key }) => (a[key] ?? 0) !== (b[key] ?? 0));
}

/** The tag filter a /tenants URL's query names ('' for none). */
export function tagFromSearch(search: string): string {
  return new URLSearchParams(search).get('tag')?.trim() ?? '';
}

/** The /tenants URL for a tag filter. */
export function tenantsURL(tag: string): string {
  return tag ? '/tenants?' + new URLSearchParams({ tag }).toString() : '/tenants';
}

let flash = '';

/** Leaves a message for the next page to show once (e.g. "Deleted tenant acme."). */
export function setFlash(message: string): void {
  flash = message;
}

/** The message left by setFlash, once. */
export function takeFlash(): string {
  const m = flash;
  flash = '';
  return m;
}
