import { describe, expect, it } from 'vitest';
import { Api, ApiError, CSRF_HEADER, errorFrom, query } from './api';

type Call = { url: string; init: RequestInit };

function fake(status: number, body: string, calls: Call[] = []) {
  return new Api({
    fetch: async (url, init) => {
      calls.push({ url, init: init ?? {} });
      return new Response(status === 204 ? null : body, { status, statusText: status === 200 ? 'OK' : 'Error' });
    },
  });
}

describe('Api.request', () => {
  it('decodes a JSON answer', async () => {
    const api = fake(200, '{"kind":"admin","token_id":"tok_1","auth":"cookie"}');
    await expect(api.session()).resolves.toMatchObject({ kind: 'admin', token_id: 'tok_1' });
  });

  it('turns the error envelope into an ApiError with its code, message and details', async () => {
    const api = fake(400, '{"error":{"code":"invalid","message":"bad limit","field":"limit"}}');
    const err = await api.sites({ limit: 5000 }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid', message: 'bad limit', details: { field: 'limit' } });
    expect(err.unauthorized).toBe(false);
  });

  it('marks a 401 as unauthorized', async () => {
    const err = await fake(401, '{"error":{"code":"unauthorized","message":"sign in"}}').session().catch((e) => e);
    expect(err.unauthorized).toBe(true);
    expect(err.code).toBe('unauthorized');
  });

  it('reports an answer that is not JSON by its status', async () => {
    const err = await fake(502, '<html>Bad gateway</html>').session().catch((e) => e);
    expect(err).toMatchObject({ status: 502, code: 'http_502' });
    expect(err.message).toContain('502');
  });

  it('reports a success without JSON as bad_response', async () => {
    const err = await fake(200, 'not json').session().catch((e) => e);
    expect(err).toMatchObject({ status: 200, code: 'bad_response' });
  });

  it('reports a network failure with status 0', async () => {
    const api = new Api({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const err = await api.session().catch((e) => e);
    expect(err).toMatchObject({ status: 0, code: 'network', details: { cause: 'Failed to fetch' } });
  });

  it('answers undefined for 204', async () => {
    await expect(fake(204, '').signOut()).resolves.toBeUndefined();
  });
});

describe('requests', () => {
  it('signs in with the token as JSON and the CSRF header', async () => {
    const calls: Call[] = [];
    await fake(201, '{"kind":"tenant","token_id":"t","auth":"cookie"}', calls).signIn('secret');
    const { url, init } = calls[0];
    expect(url).toBe('/api/v1/session');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect((init.headers as Record<string, string>)[CSRF_HEADER]).toBe('1');
    expect(JSON.parse(init.body as string)).toEqual({ token: 'secret' });
  });

  it('sends the CSRF header on DELETE but not on GET', async () => {
    const calls: Call[] = [];
    const api = fake(204, '', calls);
    await api.signOut();
    expect((calls[0].init.headers as Record<string, string>)[CSRF_HEADER]).toBe('1');
    await fake(200, '{"sites":[]}', calls).sites();
    expect((calls[1].init.headers as Record<string, string>)[CSRF_HEADER]).toBeUndefined();
  });

  it('asks for a page of sites and returns its cursor', async () => {
    const calls: Call[] = [];
    const page = await fake(200, '{"sites":[{"id":"s_1","name":"blog"}],"next_cursor":"c2"}', calls).sites({
      limit: 100,
      cursor: 'c1',
    });
    expect(calls[0].url).toBe('/api/v1/sites?limit=100&cursor=c1');
    expect(page.items.map((s) => s.name)).toEqual(['blog']);
    expect(page.next_cursor).toBe('c2');
  });

  it('treats an answer without next_cursor as the last page', async () => {
    const page = await fake(200, '{"sites":[]}').sites();
    expect(page.next_cursor).toBeUndefined();
  });

  it('escapes a tenant reference in the path', async () => {
    const calls: Call[] = [];
    await fake(200, '{"id":"t_1","name":"a b"}', calls).tenant('a b/c');
    expect(calls[0].url).toBe('/api/v1/tenants/a%20b%2Fc');
  });
});

describe('site endpoints', () => {
  it('asks for a page of deployments and returns its cursor', async () => {
    const calls: Call[] = [];
    const page = await fake(200, '{"deployments":[{"id":"d_1","active":true}],"next_cursor":"n"}', calls).deployments('my site', {
      limit: 20,
      cursor: 'c',
    });
    expect(calls[0].url).toBe('/api/v1/sites/my%20site/deployments?limit=20&cursor=c');
    expect(page).toEqual({ items: [{ id: 'd_1', active: true }], next_cursor: 'n' });
  });

  it('activates a deployment with POST and the CSRF header', async () => {
    const calls: Call[] = [];
    const dep = await fake(200, '{"id":"d_1","active":true}', calls).activateDeployment('blog', 'd_1');
    expect(calls[0].url).toBe('/api/v1/sites/blog/deployments/d_1/activate');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>)[CSRF_HEADER]).toBe('1');
    expect(calls[0].init.body).toBeUndefined();
    expect(dep.active).toBe(true);
  });

  it('reads a site, its domains and its usage', async () => {
    const calls: Call[] = [];
    await fake(200, '{"name":"blog"}', calls).site('blog');
    const doms = await fake(200, '{"domains":[{"hostname":"www.example.com"}]}', calls).domains('blog');
    await fake(200, '{"points":[],"totals":{}}', calls).usage('blog');
    await fake(200, '{"points":[],"totals":{}}', calls).usage('blog', { from: '2026-12-04T00:00:00Z', step: '1h' });
    expect(calls.map((c) => c.url)).toEqual([
      '/api/v1/sites/blog',
      '/api/v1/sites/blog/domains',
      '/api/v1/sites/blog/usage',
      '/api/v1/sites/blog/usage?from=2026-12-04T00%3A00%3A00Z&step=1h',
    ]);
    expect(doms.items[0].hostname).toBe('www.example.com');
    expect(doms.next_cursor).toBeUndefined();
  });

  it('reports another tenant\'s site as not found', async () => {
    const err = await fake(404, '{"error":{"code":"not_found","message":"no such site"}}').site('news').catch((e) => e);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
  });
});

describe('query', () => {
  it.each([
    [{}, ''],
    [{ limit: 10 }, '?limit=10'],
    [{ tenant: undefined, cursor: '' }, ''],
    [{ cursor: 'a+b=' }, '?cursor=a%2Bb%3D'],
  ])('%j → %s', (params, want) => {
    expect(query(params)).toBe(want);
  });
});

describe('errorFrom', () => {
  it('uses the code as the message when the envelope has none', () => {
    expect(errorFrom(403, 'Forbidden', { error: { code: 'forbidden' } }).message).toBe('forbidden');
  });
  it('names an unexplained 401 unauthorized', () => {
    expect(errorFrom(401, 'Unauthorized', undefined).code).toBe('unauthorized');
  });
});
