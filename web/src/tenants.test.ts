import { describe, expect, it } from 'vitest';
import {
  keepEdits,
  limitRows,
  GIT_LIMIT_FIELDS,
  QUOTA_FIELDS,
  quotaRows,
  limitsBody,
  limitsDiffer,
  normalizeTag,
  parseLimit,
  parseTags,
  planLabel,
  setFlash,
  tagError,
  tagFromSearch,
  takeFlash,
  tenantNameError,
  tenantsURL,
  typedMatches,
} from './tenants';

describe('tagError', () => {
  it.each([
    ['env:prod', true],
    ['a:b:c', true], // the value may hold a colon (split at the first)
    ['région:eu', true],
    ['env', false],
    [':prod', false],
    ['env:', false],
    ['env: prod', false],
    ['env:a,b', false],
    ['k:' + 'v'.repeat(126), true],
    ['k:' + 'v'.repeat(127), false],
    ['k:' + 'é'.repeat(63), true], // 2 + 126 bytes
    ['k:' + 'é'.repeat(64), false], // bytes count, not characters
  ])('%s valid=%s', (tag, ok) => expect(tagError(tag) === '').toBe(ok));
});

describe('normalizeTag', () => {
  it.each([
    ['  env:prod ', 'env:prod', false],
    ['', '', false],
    ['   ', '', false],
    ['nocolon', 'nocolon', true],
  ])('%j → %j (error %s)', (text, tag, bad) => {
    const r = normalizeTag(text);
    expect(r.tag).toBe(tag);
    expect(r.error !== '').toBe(bad);
  });
});

describe('parseTags', () => {
  it('splits on commas, spaces and new lines, trims and drops duplicates', () => {
    expect(parseTags(' env:prod,region:eu\nenv:prod  tier:a ,, ')).toEqual({ tags: ['env:prod', 'region:eu', 'tier:a'], error: '' });
  });
  it('keeps existing tags first and does not repeat them', () => {
    expect(parseTags('b:2, a:1', ['a:1'])).toEqual({ tags: ['a:1', 'b:2'], error: '' });
  });
  it('empty text is no tags', () => {
    expect(parseTags('   ')).toEqual({ tags: [], error: '' });
  });
  it('names the bad tag and keeps the existing ones', () => {
    const r = parseTags('ok:1 broken', ['a:1']);
    expect(r.tags).toEqual(['a:1']);
    expect(r.error).toContain('broken');
  });
  it('refuses more than 8 tags, counting the existing ones', () => {
    const existing = Array.from({ length: 7 }, (_, i) => `k${i}:v`);
    expect(parseTags('x:1', existing).error).toBe('');
    const r = parseTags('x:1 y:2', existing);
    expect(r.error).toContain('at most 8');
    expect(r.tags).toEqual(existing);
  });
});

describe('tenantNameError', () => {
  it.each([
    ['acme', true],
    ['a', true],
    ['acme-2', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['', false],
    ['Acme', false],
    ['-acme', false],
    ['acme-', false],
    ['ac--me', false],
    ['ac me', false],
  ])('%j valid=%s', (name, ok) => expect(tenantNameError(name) === '').toBe(ok));
});

describe('typedMatches', () => {
  it.each([
    ['acme', 'acme', true],
    [' acme  ', 'acme', true],
    ['acm', 'acme', false],
    ['ACME', 'acme', false],
    ['acme2', 'acme', false],
    ['', '', false],
  ])('%j vs %j → %s', (typed, name, want) => expect(typedMatches(typed, name)).toBe(want));
});

describe('limitRows', () => {
  it('inherits every limit from the plan without overrides', () => {
    const rows = limitRows('free', {});
    expect(rows.map((r) => [r.key, r.planValue, r.effective, r.overridden])).toEqual([
      ['cpuMs', 10, 10, false],
      ['cpuMsPerSecond', 250, 250, false],
      ['subRequests', 5, 5, false],
      ['memoryMB', 64, 64, false],
      ['kvOps', 50, 50, false],
      ['kvValueKB', 1024, 1024, false],
    ]);
  });
  it('an override replaces only its own limit', () => {
    const rows = limitRows('pro', { cpuMs: 33 });
    expect(rows.map((r) => [r.key, r.planValue, r.override, r.effective, r.overridden])).toEqual([
      ['cpuMs', 20, 33, 33, true],
      ['cpuMsPerSecond', 1000, 0, 1000, false],
      ['subRequests', 20, 0, 20, false],
      ['memoryMB', 128, 0, 128, false],
      ['kvOps', 1000, 0, 1000, false],
      ['kvValueKB', 1024, 0, 1024, false],
    ]);
  });
  it('zero and negative overrides are no override', () => {
    const rows = limitRows('enterprise', { cpuMs: 0, memoryMB: -1 });
    expect(rows.every((r) => !r.overridden && r.effective === r.planValue)).toBe(true);
  });
  it('takes the saved plan’s values from the server’s effective limits', () => {
    const saved = {
      plan: 'free',
      limits: { memoryMB: 100 },
      effective_limits: { cpuMs: 11, cpuMsPerSecond: 300, subRequests: 6, memoryMB: 100, kvOps: 60, kvValueKB: 2048 },
    };
    const rows = limitRows('free', { memoryMB: 100 }, saved);
    expect(rows.map((r) => [r.key, r.planValue, r.effective])).toEqual([
      ['cpuMs', 11, 11],
      ['cpuMsPerSecond', 300, 300],
      ['subRequests', 6, 6],
      ['memoryMB', 64, 100], // overridden on the server: the plan's own value is the table's
      ['kvOps', 60, 60],
      ['kvValueKB', 2048, 2048],
    ]);
  });
  it('previews another plan from the table', () => {
    const saved = { plan: 'free', limits: {}, effective_limits: { cpuMs: 10, cpuMsPerSecond: 250, subRequests: 5, memoryMB: 64 } };
    expect(limitRows('enterprise', {}, saved).map((r) => r.effective)).toEqual([50, 4000, 50, 256, 1000, 4096]);
  });
});

describe('parseLimit', () => {
  it.each([
    ['', 0, false],
    ['  ', 0, false],
    ['25', 25, false],
    [' 7 ', 7, false],
    ['0', 0, true],
    ['-3', 0, true],
    ['1.5', 0, true],
    ['abc', 0, true],
    ['99999999999999999999', 0, true],
  ])('%j → %d (error %s)', (text, value, bad) => {
    const r = parseLimit(text);
    expect(r.value).toBe(value);
    expect(r.error !== '').toBe(bad);
  });
});

describe('limitsBody and limitsDiffer', () => {
  it('sends only the overridden limits', () => {
    expect(limitsBody({ cpuMs: 30, subRequests: 0 })).toEqual({ cpuMs: 30 });
    expect(limitsBody({})).toEqual({});
  });
  it('missing and 0 are the same', () => {
    expect(limitsDiffer({ cpuMs: 0 }, {})).toBe(false);
    expect(limitsDiffer({ cpuMs: 5 }, {})).toBe(true);
    expect(limitsDiffer({ memoryMB: 64 }, { memoryMB: 65 })).toBe(true);
  });
});

describe('git limits', () => {
  it('inherit the plan’s repository and push sizes (tenants/model.go)', () => {
    expect(limitRows('free', {}, undefined, GIT_LIMIT_FIELDS).map((r) => [r.key, r.planValue, r.unit])).toEqual([
      ['gitRepoMB', 1024, 'MB'],
      ['gitPushMB', 256, 'MB'],
    ]);
    expect(limitRows('pro', {}, undefined, GIT_LIMIT_FIELDS).map((r) => r.effective)).toEqual([4096, 1024]);
    expect(limitRows('enterprise', {}, undefined, GIT_LIMIT_FIELDS).map((r) => r.effective)).toEqual([16384, 2048]);
  });
  it('an override replaces only its own limit, and the saved plan’s values come from the server', () => {
    const saved = { plan: 'free', limits: { gitPushMB: 50 }, effective_limits: { gitRepoMB: 2000, gitPushMB: 50 } };
    const rows = limitRows('free', { gitPushMB: 50 }, saved, GIT_LIMIT_FIELDS);
    expect(rows.map((r) => [r.key, r.planValue, r.effective, r.overridden])).toEqual([
      ['gitRepoMB', 2000, 2000, false],
      ['gitPushMB', 256, 50, true],
    ]);
  });
  it('are sent and compared like the workers’ limits', () => {
    expect(limitsBody({ cpuMs: 30, gitRepoMB: 300, gitPushMB: 0 })).toEqual({ cpuMs: 30, gitRepoMB: 300 });
    expect(limitsDiffer({ gitPushMB: 10 }, {})).toBe(true);
    expect(limitsDiffer({ gitRepoMB: 0 }, {})).toBe(false);
  });
});

describe('KV limits', () => {
  it('each plan’s KV operations per request and largest value (workers) and namespaces (quotas), as tenants/model.go defines them', () => {
    const kv = (plan: string) => [
      ...limitRows(plan, {})
        .filter((r) => r.key.startsWith('kv'))
        .map((r) => [r.key, r.planValue, r.unit]),
      ...limitRows(plan, {}, undefined, QUOTA_FIELDS)
        .filter((r) => r.key.startsWith('kv'))
        .map((r) => [r.key, r.planValue, r.unit]),
    ];
    expect(kv('free')).toEqual([
      ['kvOps', 50, ''],
      ['kvValueKB', 1024, 'KB'],
      ['kvNamespaces', 10, ''],
    ]);
    expect(kv('pro').map((r) => r[1])).toEqual([1000, 1024, 100]);
    expect(kv('enterprise').map((r) => r[1])).toEqual([1000, 4096, 1000]);
  });
  it('are overridden, sent and compared like the others', () => {
    expect(limitRows('free', { kvValueKB: 2048 }).find((r) => r.key === 'kvValueKB')).toMatchObject({ planValue: 1024, effective: 2048, overridden: true });
    expect(limitsBody({ kvOps: 200, kvValueKB: 0, kvNamespaces: 3 })).toEqual({ kvOps: 200, kvNamespaces: 3 });
    expect(limitsDiffer({ kvNamespaces: 5 }, {})).toBe(true);
    expect(limitsDiffer({ kvOps: 0 }, {})).toBe(false);
  });
  it('namespaces in use are shown against their quota when the server counts them', () => {
    const usage = { sites: 0, domains: 0, uploadSessions: 0, uploadEntries: 0, storageBytes: 0 };
    expect(quotaRows({ kvNamespaces: 10 }, usage).map((r) => r.key)).not.toContain('kvNamespaces');
    const row = quotaRows({ kvNamespaces: 10 }, { ...usage, kvNamespaces: 9 }).find((r) => r.key === 'kvNamespaces');
    expect(row).toMatchObject({ text: '9 of 10', level: 'warn' });
  });
});

describe('quotas', () => {
  it('inherit the plan’s quotas (tenants/model.go)', () => {
    expect(limitRows('free', {}, undefined, QUOTA_FIELDS).map((r) => [r.key, r.planValue])).toEqual([
      ['sites', 10],
      ['domains', 10],
      ['uploadSessions', 10],
      ['uploadEntries', 200_000],
      ['storageMB', 2048],
      ['workerMB', 16],
      ['kvNamespaces', 10],
    ]);
    expect(limitRows('pro', { sites: 3 }, undefined, QUOTA_FIELDS)[0]).toMatchObject({ planValue: 100, effective: 3, overridden: true });
  });
  it('are sent with the other overrides, and overrides the console does not show are kept', () => {
    expect(limitsBody({ cpuMs: 30, sites: 20, storageMB: 0, requestsPerSecond: 5, keepDays: 7 })).toEqual({
      cpuMs: 30,
      sites: 20,
      requestsPerSecond: 5,
      keepDays: 7,
    });
    expect(limitsDiffer({ uploadEntries: 10 }, {})).toBe(true);
  });
  it('show the use against the limit in effect, storage in MB', () => {
    const rows = quotaRows(
      { sites: 10, domains: 10, uploadSessions: 4, uploadEntries: 200_000, storageMB: 2048, workerMB: 16 },
      { sites: 10, domains: 8, uploadSessions: 0, uploadEntries: 150_000, storageBytes: 700 << 10 },
    );
    expect(rows.map((r) => [r.key, r.text, r.level])).toEqual([
      ['sites', '10 of 10', 'full'],
      ['domains', '8 of 10', 'warn'],
      ['uploadSessions', '0 of 4', 'ok'],
      ['uploadEntries', '150,000 of 200,000', 'ok'],
      ['storageMB', '0.7 of 2,048 MB', 'ok'],
    ]);
    expect(rows[0].ratio).toBe(1);
    expect(rows[3].ratio).toBe(0.75);
  });
  it('a use past the limit (the limit was lowered) is full, its bar no longer than the track', () => {
    const [r] = quotaRows({ sites: 2 }, { sites: 5, domains: 0, uploadSessions: 0, uploadEntries: 0, storageBytes: 0 });
    expect([r.text, r.level, r.ratio]).toEqual(['5 of 2', 'full', 1]);
  });
});

describe('the tag filter in the URL', () => {
  it.each([
    ['', ''],
    ['?tag=env%3Aprod', 'env:prod'],
    ['?tag=env:prod&x=1', 'env:prod'],
    ['?tag=%20env%3Aprod%20', 'env:prod'],
    ['?other=1', ''],
  ])('%j → %j', (search, tag) => expect(tagFromSearch(search)).toBe(tag));
  it('round-trips through tenantsURL', () => {
    for (const tag of ['env:prod', 'a:b&c=d', 'k:v?x']) {
      const url = tenantsURL(tag);
      expect(url.startsWith('/tenants?tag=')).toBe(true);
      expect(tagFromSearch(url.slice(url.indexOf('?')))).toBe(tag);
    }
    expect(tenantsURL('')).toBe('/tenants');
  });
});

describe('flash', () => {
  it('is shown once', () => {
    setFlash('Deleted tenant acme.');
    expect(takeFlash()).toBe('Deleted tenant acme.');
    expect(takeFlash()).toBe('');
  });
});

it('planLabel capitalises', () => {
  expect(planLabel('enterprise')).toBe('Enterprise');
  expect(planLabel('')).toBe('');
});

describe('keepEdits', () => {
  it('shows the new saved value where the user changed nothing, and keeps what they typed elsewhere', () => {
    const was = { cpuMs: '', gitPushMB: '', sites: '5' };
    const now = { cpuMs: '42', gitPushMB: '', sites: '5' };
    // cpuMs was saved as typed; gitPushMB typed while the save was in flight; sites untouched.
    expect(keepEdits({ cpuMs: '42', gitPushMB: '300', sites: '5' }, was, now)).toEqual({ cpuMs: '42', gitPushMB: '300', sites: '5' });
    // Another card saved: a value changed on the server where the user typed nothing.
    expect(keepEdits({ cpuMs: '', gitPushMB: '', sites: '5' }, was, { cpuMs: '', gitPushMB: '', sites: '9' })).toEqual({ cpuMs: '', gitPushMB: '', sites: '9' });
    // A cleared override the server still has is the user's edit, kept.
    expect(keepEdits({ cpuMs: '', gitPushMB: '', sites: '' }, was, now)).toEqual({ cpuMs: '42', gitPushMB: '', sites: '' });
  });
});
