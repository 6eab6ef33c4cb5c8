import { afterEach, describe, expect, it, vi } from 'vitest';
import { adminTokens, createAdminToken, revokeLabel, revokeLines, revokeRisk } from './admintokens';

const list = [{ id: 'tok_a' }, { id: 'tok_b' }];

describe('revokeRisk', () => {
  it.each([
    ['another token, more left', 'tok_b', 'tok_a', list, true, { current: false, last: false }],
    ['the session’s own token', 'tok_a', 'tok_a', list, true, { current: true, last: false }],
    ['the only token, list complete', 'tok_a', 'tok_x', [{ id: 'tok_a' }], true, { current: false, last: true }],
    ['the only token loaded, more pages', 'tok_a', 'tok_x', [{ id: 'tok_a' }], false, { current: false, last: false }],
    ['own and last', 'tok_a', 'tok_a', [{ id: 'tok_a' }], true, { current: true, last: true }],
    ['a session without a token id', 'tok_a', undefined, list, true, { current: false, last: false }],
  ])('%s', (_, target, session, loaded, complete, want) => expect(revokeRisk(target, session, loaded, complete)).toEqual(want));
});

describe('revokeLines and revokeLabel', () => {
  it('warns first that the session ends when it is its own token', () => {
    const lines = revokeLines('laptop', { current: true, last: false });
    expect(lines[0]).toContain('signs this console out');
    expect(lines.join(' ')).not.toContain('last admin token');
    expect(revokeLabel({ current: true, last: false })).toBe('Revoke and sign out');
  });
  it('says how to get a token back when it is the last one', () => {
    const lines = revokeLines('laptop', { current: false, last: true });
    expect(lines[0]).toContain('last admin token');
    expect(lines[0]).toContain('bootstrap token');
    expect(revokeLabel({ current: false, last: true })).toBe('Revoke token');
  });
  it('always says it cannot be undone', () => {
    expect(revokeLines('ci', { current: false, last: false })).toEqual([
      'Every CLI, script and console session that uses it gets “unauthorized” from now on. This cannot be undone.',
    ]);
  });
});

describe('the admin token calls', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('lists a page with limit and cursor, and reads next_cursor', async () => {
    const urls: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      urls.push(url);
      return new Response(JSON.stringify({ tokens: [{ id: 'tok_a', name: 'a', created_at: '2026-12-05T10:00:00Z' }], next_cursor: 'c2' }));
    });
    const page = await adminTokens({ limit: 100, cursor: 'c1' });
    expect(urls).toEqual(['/api/v1/tokens?limit=100&cursor=c1']);
    expect(page.items.map((t) => t.id)).toEqual(['tok_a']);
    expect(page.next_cursor).toBe('c2');
  });

  it('answers an empty last page without next_cursor', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ tokens: null, next_cursor: '' })));
    expect(await adminTokens()).toEqual({ items: [], next_cursor: undefined });
  });

  it('creates with the name in the body', async () => {
    const calls: RequestInit[] = [];
    vi.stubGlobal('fetch', async (_: string, init: RequestInit) => {
      calls.push(init);
      return new Response(JSON.stringify({ id: 'tok_n', name: 'ci', created_at: '2026-12-05T10:00:00Z', token: 'pier_x' }), { status: 201 });
    });
    const t = await createAdminToken('ci');
    expect(t.token).toBe('pier_x');
    expect(calls[0].method).toBe('POST');
    expect(JSON.parse(calls[0].body as string)).toEqual({ name: 'ci' });
  });
});
