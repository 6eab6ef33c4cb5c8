import { describe, expect, it } from 'vitest';
import { ApiError, type Domain } from './api';
import {
  addErrorText,
  certTimeline,
  domainsChanged,
  inProgress,
  nextPollDelay,
  nextCheckText,
  nextRetryText,
  POLL_MAX,
  POLL_MIN,
  rateLimitText,
  recordRows,
  retryAfter,
} from './domains';
import { domainStatusLabel } from './format';

const now = new Date('2026-12-05T12:00:00Z');

function domain(over: Partial<Domain> = {}): Domain {
  return {
    hostname: 'www.example.com',
    site: 'blog',
    site_id: 's_1',
    tenant_id: 't_1',
    status: 'pending',
    token: 'pier-abc',
    cert_status: 'pending_validation',
    records: [],
    http_proof: 'http://www.example.com/.well-known/pier-challenge/pier-abc',
    created_at: '2026-12-05T11:00:00Z',
    ...over,
  };
}

const states = (d: Partial<Domain>) => certTimeline(domain(d), now)?.map((s) => `${s.key}:${s.state}`);

describe('certTimeline', () => {
  it.each([
    ['pending claim', { status: 'pending', cert_status: 'pending_validation' }, ['validation:current', 'issuance:upcoming', 'active:upcoming']],
    ['issuing', { status: 'active', cert_status: 'pending_issuance' }, ['validation:done', 'issuance:current', 'active:upcoming']],
    ['issued', { status: 'active', cert_status: 'active' }, ['validation:done', 'issuance:done', 'active:done']],
    ['failed', { status: 'active', cert_status: 'failed' }, ['validation:done', 'issuance:failed', 'active:upcoming']],
  ] as [string, Partial<Domain>, string[]][])('%s', (_, d, want) => expect(states(d)).toEqual(want));

  it('has no timeline when the platform obtains no certificates', () => {
    expect(certTimeline(domain({ cert_status: 'none' }), now)).toBeUndefined();
  });

  it('says why validation waits', () => {
    const detail = (status: Domain['status']) => certTimeline(domain({ status }), now)![0].detail;
    expect(detail('pending')).toMatch(/verified/);
    expect(detail('moved')).toMatch(/moved away/);
    expect(detail('blocked')).toMatch(/Blocked by the platform operator/);
  });

  it('shows a failure with its reason and the next retry', () => {
    const steps = certTimeline(
      domain({ status: 'active', cert_status: 'failed', cert_error: 'the CA refused the order: rate limited.', cert_next_retry: '2026-12-05T12:05:00Z' }),
      now,
    )!;
    expect(steps[1].detail).toBe('Failed: the CA refused the order: rate limited. Next retry in 5 minutes (2026-12-05 12:05 UTC).');
  });

  it('shows a failure without a reason or a retry in words', () => {
    const steps = certTimeline(domain({ status: 'active', cert_status: 'failed' }), now)!;
    expect(steps[1].detail).toBe('Failed: the certificate authority gave no reason.');
  });

  it('shows a failed renewal beside an active certificate', () => {
    const steps = certTimeline(domain({ status: 'active', cert_status: 'active', cert_error: 'renewal failed' }), now)!;
    expect(steps[2].detail).toContain('renewal failed');
  });
});

describe('nextRetryText', () => {
  it('is empty without a time', () => expect(nextRetryText(undefined, now)).toBe(''));
  it('says when, relative and absolute', () =>
    expect(nextRetryText('2026-12-05T14:00:00Z', now)).toBe('Next retry in 2 hours (2026-12-05 14:00 UTC).'));
});

describe('nextCheckText', () => {
  it.each([
    ['2026-12-05T11:59:00Z', 'due now'],
    ['2026-12-05T12:00:00Z', 'due now'],
    ['2026-12-05T12:00:30Z', 'in less than a minute'],
    ['2026-12-05T12:05:00Z', 'in 5 minutes'],
    ['not a time', ''],
  ])('%s → %s', (iso, want) => expect(nextCheckText(iso, now)).toBe(want));
});

describe('inProgress', () => {
  it.each([
    ['pending', { status: 'pending' }, true],
    ['active, validating', { status: 'active', cert_status: 'pending_validation' }, true],
    ['active, issuing', { status: 'active', cert_status: 'pending_issuance' }, true],
    ['active, failed with a retry', { status: 'active', cert_status: 'failed', cert_next_retry: '2026-12-05T12:05:00Z' }, true],
    ['active, failed for good', { status: 'active', cert_status: 'failed' }, false],
    ['active, issued', { status: 'active', cert_status: 'active' }, false],
    ['active, TLS off', { status: 'active', cert_status: 'none' }, false],
    ['moved', { status: 'moved' }, false],
    ['blocked', { status: 'blocked' }, false],
  ] as [string, Partial<Domain>, boolean][])('%s → %s', (_, d, want) => expect(inProgress(domain(d))).toBe(want));
});

describe('nextPollDelay', () => {
  it('starts at the minimum', () => expect(nextPollDelay(undefined, false)).toBe(POLL_MIN));
  it('grows while nothing changes', () => expect(nextPollDelay(3000, false)).toBe(4500));
  it('stops growing at the maximum', () => expect(nextPollDelay(25000, false)).toBe(POLL_MAX));
  it('starts over after a change', () => expect(nextPollDelay(POLL_MAX, true)).toBe(POLL_MIN));
  it('reaches the maximum after a few quiet polls', () => {
    let d: number | undefined;
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) seen.push((d = nextPollDelay(d, false)));
    expect(seen).toEqual([3000, 4500, 6750, 10125, 15188, 22782, 30000, 30000]);
  });
});

describe('domainsChanged', () => {
  it('is false for the same state', () => expect(domainsChanged([domain()], [domain()])).toBe(false));
  it.each([
    ['status', { status: 'active' }],
    ['error', { error: 'no TXT record' }],
    ['check time', { checked_at: '2026-12-05T12:00:00Z' }],
    ['certificate', { cert_status: 'pending_issuance' }],
  ] as [string, Partial<Domain>][])('is true when the %s changes', (_, over) => expect(domainsChanged([domain()], [domain(over)])).toBe(true));
  it('is true when a domain appears', () => expect(domainsChanged([], [domain()])).toBe(true));
});

describe('recordRows', () => {
  it('names each Copy button by its record type', () => {
    const rows = recordRows([
      { type: 'TXT', name: '_pier-challenge.www.example.com', value: 'pier-abc' },
      { type: 'CNAME', name: 'www.example.com', value: 'blog.sites.example.net' },
    ]);
    expect(rows.map((r) => r.copyLabel)).toEqual(['Copy TXT value', 'Copy CNAME value']);
    expect(rows[0]).toMatchObject({ type: 'TXT', name: '_pier-challenge.www.example.com', value: 'pier-abc', purpose: 'Proves you own the name' });
    expect(rows[1].purpose).toBe('Points the name at the site');
  });
  it('numbers records that share a type (an apex with several addresses)', () => {
    const rows = recordRows([
      { type: 'TXT', name: '_pier-challenge.example.com', value: 'pier-abc' },
      { type: 'A', name: 'example.com', value: '203.0.113.10' },
      { type: 'A', name: 'example.com', value: '203.0.113.11' },
      { type: 'AAAA', name: 'example.com', value: '2001:db8::1' },
    ]);
    expect(rows.map((r) => r.copyLabel)).toEqual(['Copy TXT value', 'Copy A value 1', 'Copy A value 2', 'Copy AAAA value']);
    expect(rows[1].purpose).toBe('Points the name at the platform');
  });
  it('is empty without records', () => expect(recordRows(undefined)).toEqual([]));
});

describe('errors in words', () => {
  it('names the Hostname field of an invalid name', () => {
    const err = new ApiError(400, 'invalid', 'hostname "bad host" is not a valid DNS name', { field: 'hostname' });
    expect(addErrorText(err)).toBe('Hostname: "bad host" is not a valid DNS name');
  });
  it('names the Hostname field of a name the site has already, without the CLI hint', () => {
    const err = new ApiError(409, 'conflict', 'www.example.com is already a domain of site blog; `pier domains list --site blog` shows its status and records', { field: 'hostname' });
    expect(addErrorText(err)).toBe('Hostname: www.example.com is already a domain of site blog.');
  });
  it('passes other errors through', () => {
    expect(addErrorText(new ApiError(0, 'network', 'The server could not be reached.'))).toBe('The server could not be reached.');
    expect(addErrorText(new Error('boom'))).toBe('boom');
  });
  it('reads retry_after of a 429', () => {
    expect(retryAfter(new ApiError(429, 'rate_limited', 'checked just now', { retry_after: 7 }))).toBe(7);
    expect(retryAfter(new ApiError(429, 'rate_limited', 'checked just now'))).toBe(1);
    expect(retryAfter(new ApiError(400, 'invalid', 'x'))).toBeUndefined();
    expect(retryAfter(new Error('x'))).toBeUndefined();
  });
  it('says when to verify again', () => {
    expect(rateLimitText(5)).toContain('again in 5 seconds');
    expect(rateLimitText(1)).toContain('again in 1 second;');
  });
});

describe('status labels', () => {
  it.each([
    ['pending', 'Pending verification'],
    ['active', 'Active'],
    ['moved', 'Moved away'],
    ['blocked', 'Blocked'],
  ])('%s → %s', (s, want) => expect(domainStatusLabel(s)).toBe(want));
});
