// Formatting of values the API returns, for display.

/** The host (and port) of a URL, for showing a link compactly: "https://blog.example.com/" → "blog.example.com". */
export function displayURL(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname === '/' ? '' : u.pathname;
    return u.host + path;
  } catch {
    return url;
  }
}

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "3 hours ago", "just now", "in 2 days"; '' for a missing or invalid time. */
export function relativeTime(iso: string | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const secs = Math.round((t - now.getTime()) / 1000);
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(secs) >= size) return rtf.format(Math.trunc(secs / size), unit);
  }
  return 'just now';
}

/** An absolute UTC time, for a tooltip: "2026-12-05 08:15 UTC". */
export function absoluteTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** "1 site", "2 sites". */
export function plural(n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/** Does the site match a search: a case-insensitive substring of its name, tenant or URL. */
export function matches(query: string, ...fields: (string | undefined)[]): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return fields.some((f) => f !== undefined && f.toLowerCase().includes(q));
}

/** A byte count in binary units: "0 B", "512 B", "1.5 KiB", "23 MiB". */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v} B`;
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, '') : Math.round(v)} ${units[i]}`;
}

/** "1,234". */
export function count(n: number): string {
  return (Number.isFinite(n) ? n : 0).toLocaleString('en');
}

/** The status classes a traffic summary shows, in order. */
export const statusClasses = ['2xx', '3xx', '4xx', '5xx', '1xx'] as const;

/** Requests by status class, every class present (0 when missing), and their total. */
export function requestTotals(requests: Record<string, number> | undefined): { total: number; byClass: [string, number][] } {
  const byClass = statusClasses.map((c) => [c, requests?.[c] ?? 0] as [string, number]);
  return { total: byClass.reduce((a, [, n]) => a + n, 0), byClass };
}

/** Where a deployment came from, in words: "CLI", "git · main · 1a2b3c4". */
export function sourceLabel(source: { type?: string; branch?: string; commit?: string } | undefined): string {
  const names: Record<string, string> = { cli: 'CLI', api: 'API', ui: 'Console', git: 'git' };
  const type = source?.type ? (names[source.type] ?? source.type) : 'API';
  const parts = [type];
  if (source?.branch) parts.push(source.branch);
  if (source?.commit) parts.push(shortCommit(source.commit));
  return parts.join(' · ');
}

/** A commit id cut to 7 characters when it is a hex hash; other labels as they are. */
export function shortCommit(commit: string): string {
  return /^[0-9a-f]{8,}$/i.test(commit) ? commit.slice(0, 7) : commit;
}

/** A domain's status in words. */
export function domainStatusLabel(status: string): string {
  const words: Record<string, string> = {
    pending: 'Pending verification',
    active: 'Active',
    moved: 'Moved away',
    blocked: 'Blocked',
  };
  return words[status] ?? status;
}

/** A certificate status in words. */
export function certStatusLabel(status: string): string {
  const words: Record<string, string> = {
    none: 'No certificate (TLS off)',
    pending_validation: 'Awaiting validation',
    pending_issuance: 'Being issued',
    active: 'Active',
    failed: 'Failed',
  };
  return words[status] ?? status;
}

/** The tabs of a site's pages, in the order the site's navigation shows them. */
export const siteTabs = ['overview', 'deployments', 'deploy', 'domains', 'logs', 'analytics', 'settings'] as const;
export type SiteTab = (typeof siteTabs)[number];

/** The tabs of a tenant's pages (operator only, but for KV, which a tenant has too). */
export const tenantTabs = ['overview', 'kv', 'analytics'] as const;
export type TenantTab = (typeof tenantTabs)[number];

/** The view a console path names. */
export type Route =
  | { page: 'sites' }
  | { page: 'site'; site: string; tab: SiteTab }
  | { page: 'deployment'; site: string; id: string }
  | { page: 'tenants' }
  | { page: 'tenant'; tenant: string; tab: TenantTab }
  | { page: 'kv-namespace'; tenant: string; namespace: string }
  | { page: 'attention' }
  | { page: 'tokens' };

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The view path names, or undefined for an unknown path. */
export function route(path: string): Route | undefined {
  if (path === '/' || path === '/sites' || path === '/sign-in') return { page: 'sites' };
  if (path === '/tenants' || path === '/tenants/') return { page: 'tenants' };
  if (path === '/attention' || path === '/attention/') return { page: 'attention' };
  if (path === '/tokens' || path === '/tokens/') return { page: 'tokens' };
  let m = /^\/sites\/([^/]+)\/deployments\/([^/]+)\/?$/.exec(path);
  if (m) {
    const site = decode(m[1]);
    const id = decode(m[2]);
    return site !== undefined && id !== undefined ? { page: 'deployment', site, id } : undefined;
  }
  m = /^\/sites\/([^/]+)(?:\/([a-z]+))?\/?$/.exec(path);
  if (m) {
    const site = decode(m[1]);
    const tab = (m[2] ?? 'overview') as SiteTab;
    if (site === undefined || !siteTabs.includes(tab) || m[2] === 'overview') return undefined;
    return { page: 'site', site, tab };
  }
  m = /^\/tenants\/([^/]+)\/kv\/([^/]+)\/?$/.exec(path);
  if (m) {
    const tenant = decode(m[1]);
    const namespace = decode(m[2]);
    return tenant !== undefined && namespace !== undefined ? { page: 'kv-namespace', tenant, namespace } : undefined;
  }
  m = /^\/tenants\/([^/]+)(?:\/([a-z]+))?\/?$/.exec(path);
  if (m) {
    const tenant = decode(m[1]);
    const tab = (m[2] ?? 'overview') as TenantTab;
    if (tenant === undefined || !tenantTabs.includes(tab) || m[2] === 'overview') return undefined;
    return { page: 'tenant', tenant, tab };
  }
  return undefined;
}

/** The path of a site's page (its overview without a tab). */
export function sitePath(site: string, tab?: SiteTab): string {
  return '/sites/' + encodeURIComponent(site) + (tab && tab !== 'overview' ? '/' + tab : '');
}

/** The path of one deployment's detail page. */
export function deploymentPath(site: string, id: string): string {
  return sitePath(site, 'deployments') + '/' + encodeURIComponent(id);
}

/** The path of a tenant's page (operator only). */
export function tenantPath(tenant: string, tab?: TenantTab): string {
  return '/tenants/' + encodeURIComponent(tenant) + (tab && tab !== 'overview' ? '/' + tab : '');
}

/** The path of a tenant's KV namespaces, or of one namespace's keys. */
export function kvPath(tenant: string, namespace?: string): string {
  return tenantPath(tenant, 'kv') + (namespace ? '/' + encodeURIComponent(namespace) : '');
}
