import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, CSRF_HEADER } from './api';
import { deleteSecret, listSecrets, putSecret } from './api-secrets';
import { secretNameError, secretValueError } from './secrets';

describe('secretNameError', () => {
  it.each([
    ['API_KEY', true],
    ['_private', true],
    ['a', true],
    ['stripeKey2', true],
    ['A'.repeat(64), true],
    ['', false],
    ['A'.repeat(65), false],
    ['2FA', false],
    ['API-KEY', false],
    ['API KEY', false],
    ['clé', false],
    ['a.b', false],
  ])('%j valid=%s', (name, ok) => expect(secretNameError(name) === '').toBe(ok));
});

describe('secretValueError', () => {
  it.each([
    ['s3cr3t', true],
    ['x'.repeat(5120), true],
    ['é'.repeat(2560), true], // 5,120 bytes
    ['', false],
    ['x'.repeat(5121), false],
    ['é'.repeat(2561), false], // bytes count, not characters
  ])('%j valid=%s', (value, ok) => expect(secretValueError(value) === '').toBe(ok));
  it('never repeats the value it refuses', () => {
    const value = 'hunter2'.repeat(800);
    expect(secretValueError(value)).not.toContain('hunter2');
  });
});

describe('the secrets calls', () => {
  afterEach(() => vi.unstubAllGlobals());

  type Call = { url: string; init: RequestInit };
  function stub(respond: (url: string, init: RequestInit) => Response): Call[] {
    const calls: Call[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return respond(url, init);
    });
    return calls;
  }
  const s = { name: 'API_KEY', created_at: '2026-12-05T10:00:00Z', updated_at: '2026-12-05T11:00:00Z' };

  it('lists names and times', async () => {
    const calls = stub(() => new Response(JSON.stringify({ secrets: [s] })));
    expect(await listSecrets('blog')).toEqual([s]);
    expect(calls[0].url).toBe('/api/v1/sites/blog/secrets');
    stub(() => new Response(JSON.stringify({ secrets: null })));
    expect(await listSecrets('blog')).toEqual([]);
  });

  it('puts the value as JSON with the CSRF header', async () => {
    const calls = stub(() => new Response(JSON.stringify(s), { status: 201 }));
    expect(await putSecret('blog', 'API_KEY', 'hunter2')).toEqual(s);
    expect(`${calls[0].init.method} ${calls[0].url}`).toBe('PUT /api/v1/sites/blog/secrets/API_KEY');
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ value: 'hunter2' });
    expect((calls[0].init.headers as Record<string, string>)[CSRF_HEADER]).toBe('1');
  });

  it('reports a refusal with its field', async () => {
    stub(() => new Response(JSON.stringify({ error: { code: 'invalid', message: 'name must match …', field: 'name' } }), { status: 400 }));
    const err = await putSecret('blog', '2FA', 'x').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, details: { field: 'name' } });
  });

  it('deletes by name', async () => {
    const calls = stub(() => new Response(null, { status: 204 }));
    await deleteSecret('my-site', 'API_KEY');
    expect(`${calls[0].init.method} ${calls[0].url}`).toBe('DELETE /api/v1/sites/my-site/secrets/API_KEY');
    expect((calls[0].init.headers as Record<string, string>)[CSRF_HEADER]).toBe('1');
  });
});
