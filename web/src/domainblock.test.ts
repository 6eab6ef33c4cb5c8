import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Domain } from './api';
import { blockActionFor, blockDoneText, blockWords, setBlocked } from './domainblock';

function domain(over: Partial<Domain> = {}): Domain {
  return {
    hostname: 'www.example.com',
    site: 'blog',
    site_id: 's_1',
    tenant_id: 't_1',
    status: 'active',
    token: 'pier-abc',
    cert_status: 'active',
    records: [],
    http_proof: 'http://www.example.com/.well-known/pier-challenge/pier-abc',
    created_at: '2026-12-05T11:00:00Z',
    ...over,
  };
}

describe('blockActionFor', () => {
  it.each([
    ['pending', 'block'],
    ['active', 'block'],
    ['moved', 'block'],
    ['blocked', 'unblock'],
  ] as const)('%s → %s', (status, want) => expect(blockActionFor({ status })).toBe(want));
});

describe('blockWords', () => {
  it('blocking an active domain says it stops being served and gets no certificate', () => {
    const w = blockWords(domain(), 'block');
    expect(w.title).toBe('Block www.example.com of the site blog?');
    expect(w.confirmLabel).toBe('Block domain');
    expect(w.danger).toBe(true);
    expect(w.lines[0]).toContain('stops being served at once');
    expect(w.lines.join(' ')).toContain('no certificate is ordered');
  });
  it('blocking a pending domain does not claim it was served', () => {
    const w = blockWords(domain({ status: 'pending', cert_status: 'pending_validation' }), 'block');
    expect(w.lines.join(' ')).not.toContain('stops being served');
    expect(w.lines.join(' ')).toContain('never checked');
  });
  it('without TLS it does not mention certificates', () => {
    const w = blockWords(domain({ status: 'pending', cert_status: 'none' }), 'block');
    expect(w.lines.join(' ')).not.toContain('certificate');
  });
  it('unblocking says the claim goes back to pending and needs a fresh proof', () => {
    const w = blockWords(domain({ status: 'blocked', site: '' }), 'unblock');
    expect(w.title).toBe('Unblock www.example.com?');
    expect(w.confirmLabel).toBe('Unblock domain');
    expect(w.danger).toBe(false);
    expect(w.lines.join(' ')).toContain('back to pending');
    expect(w.lines.join(' ')).toContain('proves ownership again');
  });
});

describe('blockDoneText', () => {
  it.each([
    ['blocked', 'block', 'Blocked www.example.com: it is not served, checked or given a certificate.'],
    ['pending', 'unblock', 'Unblocked www.example.com: it is pending verification again.'],
    ['active', 'unblock', 'Unblocked www.example.com: it is active again.'],
  ] as const)('%s after %s', (status, action, want) => expect(blockDoneText({ hostname: 'www.example.com', status }, action)).toBe(want));
});

describe('setBlocked', () => {
  afterEach(() => vi.unstubAllGlobals());

  it.each([
    ['block', { site: 'blog', site_id: 's_1' }, '/api/v1/sites/s_1/domains/www.example.com/block'],
    ['unblock', { site: 'blog', site_id: 's_1' }, '/api/v1/sites/s_1/domains/www.example.com/unblock'],
    ['block', { site: 'my blog', site_id: '' }, '/api/v1/sites/my%20blog/domains/www.example.com/block'],
  ] as const)('%s %j posts to its claim with the CSRF header', async (action, ref, want) => {
    const calls: { url: string; init: RequestInit }[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify(domain({ status: action === 'block' ? 'blocked' : 'pending' })), { status: 200 });
    });
    const d = await setBlocked({ hostname: 'www.example.com', ...ref }, action);
    expect(d.status).toBe(action === 'block' ? 'blocked' : 'pending');
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe(want);
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>)['X-Pier-CSRF']).toBe('1');
  });
});
