import { describe, expect, it } from 'vitest';
import {
  absoluteTime,
  bytes,
  certStatusLabel,
  displayURL,
  domainStatusLabel,
  matches,
  plural,
  relativeTime,
  requestTotals,
  route,
  sitePath,
  deploymentPath,
  tenantPath,
  kvPath,
  sourceLabel,
} from './format';

describe('displayURL', () => {
  it.each([
    ['https://blog.example.com/', 'blog.example.com'],
    ['http://blog.localhost:8080/', 'blog.localhost:8080'],
    ['https://example.com/docs/', 'example.com/docs/'],
    ['not a url', 'not a url'],
  ])('%s → %s', (url, want) => expect(displayURL(url)).toBe(want));
});

describe('relativeTime', () => {
  const now = new Date('2026-12-05T12:00:00Z');
  it.each([
    ['2026-12-05T11:59:50Z', 'just now'],
    ['2026-12-05T11:55:00Z', '5 minutes ago'],
    ['2026-12-05T09:00:00Z', '3 hours ago'],
    ['2026-12-04T12:00:00Z', 'yesterday'],
    ['2026-11-20T12:00:00Z', '2 weeks ago'],
    ['2026-12-07T12:00:00Z', 'in 2 days'],
    ['garbage', ''],
    [undefined, ''],
  ])('%s → %s', (iso, want) => expect(relativeTime(iso, now)).toBe(want));
});

describe('absoluteTime', () => {
  it('shows UTC to the minute', () => expect(absoluteTime('2026-12-05T08:15:42.123Z')).toBe('2026-12-05 08:15 UTC'));
  it('is empty for an invalid time', () => expect(absoluteTime('x')).toBe(''));
});

describe('plural', () => {
  it.each([
    [0, '0 sites'],
    [1, '1 site'],
    [1200, '1,200 sites'],
  ])('%d → %s', (n, want) => expect(plural(n, 'site')).toBe(want));
});

describe('matches', () => {
  it('matches any field, ignoring case and surrounding space', () => {
    expect(matches('  BLOG ', 'my-blog', 'acme')).toBe(true);
    expect(matches('acme', 'my-blog', 'acme')).toBe(true);
    expect(matches('shop', 'my-blog', undefined)).toBe(false);
  });
  it('matches everything for an empty search', () => expect(matches('', 'x')).toBe(true));
});

describe('bytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024 * 1024, '10 MiB'],
    [23.6 * 1024 * 1024, '24 MiB'],
    [-1, ''],
  ])('%d → %s', (n, want) => expect(bytes(n)).toBe(want));
});

describe('requestTotals', () => {
  it('lists every class in order, zero when missing, with the total', () => {
    expect(requestTotals({ '2xx': 41, '3xx': 2, '4xx': 1 })).toEqual({
      total: 44,
      byClass: [
        ['2xx', 41],
        ['3xx', 2],
        ['4xx', 1],
        ['5xx', 0],
        ['1xx', 0],
      ],
    });
  });
  it('counts nothing for a missing map', () => expect(requestTotals(undefined).total).toBe(0));
});

describe('sourceLabel', () => {
  it.each([
    [{ type: 'cli' }, 'CLI'],
    [{ type: 'git', branch: 'main', commit: '1a2b3c4d5e6f' }, 'git · main · 1a2b3c4'],
    [{ type: 'api', commit: 'v1.2' }, 'API · v1.2'],
    [{}, 'API'],
    [undefined, 'API'],
  ])('%j → %s', (source, want) => expect(sourceLabel(source)).toBe(want));
});

describe('status labels', () => {
  it('names domain and certificate states in words', () => {
    expect(domainStatusLabel('pending')).toBe('Pending verification');
    expect(domainStatusLabel('weird')).toBe('weird');
    expect(certStatusLabel('pending_issuance')).toBe('Being issued');
    expect(certStatusLabel('failed')).toBe('Failed');
  });
});

describe('route', () => {
  it.each([
    ['/sites', { page: 'sites' }],
    ['/', { page: 'sites' }],
    ['/sites/blog', { page: 'site', site: 'blog', tab: 'overview' }],
    ['/sites/blog/', { page: 'site', site: 'blog', tab: 'overview' }],
    ['/sites/blog/deployments', { page: 'site', site: 'blog', tab: 'deployments' }],
    ['/sites/blog/domains', { page: 'site', site: 'blog', tab: 'domains' }],
    ['/sites/blog/deploy', { page: 'site', site: 'blog', tab: 'deploy' }],
    ['/sites/blog/settings/', { page: 'site', site: 'blog', tab: 'settings' }],
    ['/sites/blog/deployments/k3v9x2ab', { page: 'deployment', site: 'blog', id: 'k3v9x2ab' }],
    ['/sites/blog/overview', undefined],
    ['/sites/blog/other', undefined],
    ['/sites/%E0%A4%A', undefined],
    ['/sites/blog/deployments/%E0%A4%A', undefined],
    ['/tenants', { page: 'tenants' }],
    ['/tenants/acme', { page: 'tenant', tenant: 'acme', tab: 'overview' }],
    ['/tenants/acme/analytics', { page: 'tenant', tenant: 'acme', tab: 'analytics' }],
    ['/tenants/acme/sites', undefined],
    ['/tenants/acme/kv', { page: 'tenant', tenant: 'acme', tab: 'kv' }],
    ['/tenants/acme/kv/', { page: 'tenant', tenant: 'acme', tab: 'kv' }],
    ['/tenants/acme/kv/blog-data', { page: 'kv-namespace', tenant: 'acme', namespace: 'blog-data' }],
    ['/tenants/acme/kv/blog-data/', { page: 'kv-namespace', tenant: 'acme', namespace: 'blog-data' }],
    ['/tenants/acme/kv/%E0%A4%A', undefined],
    ['/tenants/acme/kv/a/b', undefined],
    ['/tenants/acme/analytics/x', undefined],
    ['/attention', { page: 'attention' }],
    ['/tokens', { page: 'tokens' }],
    ['/tokens/', { page: 'tokens' }],
    ['/tokens/tok_abc', undefined],
    ['/nope', undefined],
  ])('%s', (path, want) => expect(route(path)).toEqual(want));
  it('builds paths the router reads back', () => {
    expect(sitePath('blog', 'deployments')).toBe('/sites/blog/deployments');
    expect(sitePath('blog', 'overview')).toBe('/sites/blog');
    expect(route(sitePath('a b'))).toEqual({ page: 'site', site: 'a b', tab: 'overview' });
    expect(route(deploymentPath('a b', 'x/y'))).toEqual({ page: 'deployment', site: 'a b', id: 'x/y' });
    expect(route(tenantPath('a b', 'analytics'))).toEqual({ page: 'tenant', tenant: 'a b', tab: 'analytics' });
    expect(kvPath('acme')).toBe('/tenants/acme/kv');
    expect(kvPath('acme', 'blog-data')).toBe('/tenants/acme/kv/blog-data');
    expect(route(kvPath('a b'))).toEqual({ page: 'tenant', tenant: 'a b', tab: 'kv' });
    expect(route(kvPath('a b', 'x/y'))).toEqual({ page: 'kv-namespace', tenant: 'a b', namespace: 'x/y' });
  });
});
