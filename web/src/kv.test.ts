import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, CSRF_HEADER } from './api';
import { createNamespace, deleteKey, deleteNamespace, getNamespace, getValue, keyPath, listKeys, listNamespaces, putValue } from './api-kv';
import { downloadName, expiryText, fieldOf, kvKeyError, namespaceNameError, namespaceSummary, parseTTL, showValue } from './kv';

describe('namespaceNameError', () => {
  it.each([
    ['blog-data', true],
    ['a', true],
    ['a'.repeat(63), true],
    ['counter2', true],
    ['', false],
    ['a'.repeat(64), false],
    ['Blog', false],
    ['blog_data', false],
    ['-blog', false],
    ['blog-', false],
    ['blog data', false],
  ])('%j valid=%s', (name, ok) => expect(namespaceNameError(name) === '').toBe(ok));
});

describe('kvKeyError', () => {
  it.each([
    ['count', true],
    ['posts/2026/hello world', true],
    ['ü', true],
    ['a'.repeat(512), true],
    ['é'.repeat(256), true], // 512 bytes
    ['', false],
    ['a'.repeat(513), false],
    ['é'.repeat(257), false], // bytes count, not characters
    ['a\0b', false],
    ['bad\uD800', false], // a lone surrogate is not UTF-8
    ['\uDC00x', false],
    ['😀', true], // a pair is
  ])('%j valid=%s', (key, ok) => expect(kvKeyError(key) === '').toBe(ok));
  it('says how long a long key is', () => {
    expect(kvKeyError('a'.repeat(600))).toContain('600');
  });
});

describe('parseTTL', () => {
  it.each([
    ['', 0, false],
    ['  ', 0, false],
    ['60', 60, false],
    [' 3600 ', 3600, false],
    ['0', 0, true],
    ['-5', 0, true],
    ['1.5', 0, true],
    ['1h', 0, true],
    ['99999999999999999999', 0, true],
  ])('%j → %d (error %s)', (text, ttl, bad) => {
    const r = parseTTL(text);
    expect(r.ttl).toBe(ttl);
    expect(r.error !== '').toBe(bad);
  });
});

describe('showValue', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it('shows UTF-8 as text', () => {
    expect(showValue(enc('héllo\nwörld'))).toEqual({ kind: 'text', text: 'héllo\nwörld' });
    expect(showValue(enc(''))).toEqual({ kind: 'text', text: '' });
    expect(showValue(enc('{"n":1}'))).toEqual({ kind: 'text', text: '{"n":1}' });
  });
  it('keeps a leading byte-order mark', () => {
    expect(showValue(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toEqual({ kind: 'text', text: '\uFEFFa' });
  });
  it('shows bytes that are not UTF-8, or hold NUL, as binary', () => {
    expect(showValue(new Uint8Array([0xff, 0xfe, 0x00]))).toEqual({ kind: 'binary', reason: 'binary' });
    expect(showValue(new Uint8Array([0xc3]))).toEqual({ kind: 'binary', reason: 'binary' }); // cut in a character
    expect(showValue(new Uint8Array([0x61, 0x00, 0x62]))).toEqual({ kind: 'binary', reason: 'binary' });
    expect(showValue(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toEqual({ kind: 'binary', reason: 'binary' }); // PNG
  });
  it('offers text longer than max as a download', () => {
    expect(showValue(enc('abcd'), 4)).toEqual({ kind: 'text', text: 'abcd' });
    expect(showValue(enc('abcde'), 4)).toEqual({ kind: 'binary', reason: 'large' });
  });
});

describe('expiryText', () => {
  const now = new Date('2026-12-05T12:00:00Z');
  it.each([
    [undefined, 'Never'],
    ['', 'Never'],
    ['garbage', 'Never'],
    ['2026-12-05T12:05:00Z', 'in 5 minutes'],
    ['2026-12-07T12:00:00Z', 'in 2 days'],
    ['2026-12-05T12:00:00Z', 'Expired'],
    ['2026-12-05T11:00:00Z', 'Expired'],
  ])('%j → %s', (expires, want) => expect(expiryText(expires, now)).toBe(want));
});

describe('namespaceSummary', () => {
  it.each([
    [{}, ''],
    [{ keys: 0, bytes: 0 }, '0 keys · 0 B'],
    [{ keys: 1 }, '1 key'],
    [{ keys: 1234, bytes: 1536 }, '1,234 keys · 1.5 KiB'],
    [{ bytes: 2048 }, '2 KiB'],
  ])('%j → %j', (ns, want) => expect(namespaceSummary(ns)).toBe(want));
});

describe('downloadName', () => {
  it.each([
    ['count', 'count'],
    ['posts/2026/hello', 'posts_2026_hello'],
    ['a\\b:c*d?e"f<g>h|i', 'a_b_c_d_e_f_g_h_i'],
    ['..secret', '_secret'],
    ['line\nbreak', 'line_break'],
    ['/', '_'],
  ])('%j → %j', (key, want) => expect(downloadName(key)).toBe(want));
  it('is never empty nor longer than 120 characters', () => {
    expect(downloadName('x'.repeat(500))).toHaveLength(120);
  });
});

describe('fieldOf', () => {
  const fields = ['key', 'value', 'ttl'] as const;
  it.each([
    ['the field the envelope names', new ApiError(400, 'invalid', 'ttl: must be positive', { field: 'ttl' }), 'ttl'],
    ['a dotted field', new ApiError(400, 'invalid', 'bad', { field: 'item.key' }), 'key'],
    ['a value over kvValueKB (quota)', new ApiError(413, 'quota_exceeded', 'kvValueKB exceeded', { quota: 'kvValueKB', limit: 1024 }), 'value'],
    ['a value over kvValueKB (limit named)', new ApiError(413, 'value_too_large', 'too large', { limit: 'kvValueKB' }), 'value'],
    ['any 413', new ApiError(413, 'http_413', 'The server answered 413.'), 'value'],
    ['a TTL named only in the message', new ApiError(400, 'invalid', 'invalid ttl "x"'), 'ttl'],
    ['anything else', new ApiError(400, 'invalid', 'key contains NUL'), 'key'],
    ['a field the form does not have', new ApiError(400, 'invalid', 'bad', { field: 'base64' }), 'key'],
    ['not an ApiError', new Error('boom'), 'key'],
  ])('%s', (_, err, want) => expect(fieldOf(err, fields, 'key')).toBe(want));
  it('never answers a field the form does not have', () => {
    expect(fieldOf(new ApiError(413, 'quota_exceeded', 'x', { quota: 'kvValueKB' }), ['name'] as const, 'name')).toBe('name');
    expect(fieldOf(new ApiError(400, 'invalid', 'name: taken', { field: 'name' }), ['name', 'value'] as const, 'value')).toBe('name');
  });
});

describe('the KV calls', () => {
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
  const header = (c: Call, name: string) => (c.init.headers as Record<string, string>)[name];

  it('lists, reads, creates and deletes namespaces under the tenant', async () => {
    const ns = { id: 'kv_1', tenant_id: 't_1', name: 'blog-data', created_at: '2026-12-05T10:00:00Z' };
    const calls = stub((url, init) => {
      if (init.method === 'DELETE') return new Response(null, { status: 204 });
      if (init.method === 'POST') return new Response(JSON.stringify(ns), { status: 201 });
      if (url.endsWith('/kv')) return new Response(JSON.stringify({ namespaces: [ns] }));
      return new Response(JSON.stringify({ ...ns, keys: 3, bytes: 120 }));
    });
    expect(await listNamespaces('acme')).toEqual([ns]);
    expect(await getNamespace('acme', 'blog-data')).toMatchObject({ keys: 3, bytes: 120 });
    expect(await createNamespace('acme', 'blog-data')).toEqual(ns);
    await deleteNamespace('acme', 'kv_1');
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      'GET /api/v1/tenants/acme/kv',
      'GET /api/v1/tenants/acme/kv/blog-data',
      'POST /api/v1/tenants/acme/kv',
      'DELETE /api/v1/tenants/acme/kv/kv_1',
    ]);
    expect(JSON.parse(calls[2].init.body as string)).toEqual({ name: 'blog-data' });
    expect(header(calls[2], CSRF_HEADER)).toBe('1');
    expect(header(calls[3], CSRF_HEADER)).toBe('1');
  });

  it('answers no namespaces for a null list', async () => {
    stub(() => new Response(JSON.stringify({ namespaces: null })));
    expect(await listNamespaces('acme')).toEqual([]);
  });

  it('lists keys by prefix a page at a time', async () => {
    const calls = stub(() => new Response(JSON.stringify({ keys: [{ name: 'posts/a', size: 3, updated_at: '2026-12-05T10:00:00Z' }], next_cursor: 'c2' })));
    const page = await listKeys('kv_1', { prefix: 'posts/', cursor: 'c1', limit: 100 });
    expect(calls[0].url).toBe('/api/v1/kv/kv_1/keys?prefix=posts%2F&cursor=c1&limit=100');
    expect(page).toEqual({ items: [{ name: 'posts/a', size: 3, updated_at: '2026-12-05T10:00:00Z' }], next_cursor: 'c2' });
    stub(() => new Response(JSON.stringify({ keys: null })));
    expect(await listKeys('kv_1')).toEqual({ items: [], next_cursor: undefined });
  });

  it('path-escapes keys, "/" included', () => {
    expect(keyPath('kv_1', 'posts/2026 ü?#')).toBe('/kv/kv_1/keys/posts%2F2026%20%C3%BC%3F%23');
  });

  it('reads a value as bytes, with its expiry from Pier-KV-Expires', async () => {
    const calls = stub(
      () =>
        new Response(new Uint8Array([0xff, 0x00, 0x61]), {
          headers: { 'Content-Type': 'application/octet-stream', 'Pier-KV-Expires': '2026-12-06T00:00:00Z' },
        }),
    );
    const v = await getValue('kv_1', 'a/b');
    expect(calls[0].url).toBe('/api/v1/kv/kv_1/keys/a%2Fb');
    expect(calls[0].init.method).toBe('GET');
    expect(header(calls[0], CSRF_HEADER)).toBeUndefined();
    expect([...v.bytes]).toEqual([0xff, 0x00, 0x61]);
    expect(v.expires_at).toBe('2026-12-06T00:00:00Z');
    stub(() => new Response('x'));
    expect((await getValue('kv_1', 'k')).expires_at).toBeUndefined();
  });

  it('turns a missing key into a 404 ApiError from the envelope', async () => {
    stub(() => new Response(JSON.stringify({ error: { code: 'not_found', message: 'key k not found' } }), { status: 404 }));
    const err = await getValue('kv_1', 'k').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: 'key k not found' });
  });

  it('puts the raw value with the CSRF header, and a TTL only when there is one', async () => {
    const calls = stub(() => new Response(null, { status: 204 }));
    await putValue('kv_1', 'count', 'héllo');
    await putValue('kv_1', 'session/1', 'x', 60);
    await putValue('kv_1', 'n', '', 0);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      'PUT /api/v1/kv/kv_1/keys/count',
      'PUT /api/v1/kv/kv_1/keys/session%2F1?ttl=60',
      'PUT /api/v1/kv/kv_1/keys/n',
    ]);
    expect(calls[0].init.body).toBe('héllo');
    expect(header(calls[0], CSRF_HEADER)).toBe('1');
    expect(header(calls[0], 'Content-Type')).toBe('application/octet-stream');
    expect(calls[0].init.credentials).toBe('same-origin');
    expect(calls[2].init.body).toBe('');
  });

  it('reports a refused put with the envelope’s details', async () => {
    stub(
      () =>
        new Response(JSON.stringify({ error: { code: 'quota_exceeded', message: 'value is over kvValueKB', quota: 'kvValueKB', limit: 1024 } }), {
          status: 413,
        }),
    );
    const err = await putValue('kv_1', 'big', 'x').catch((e) => e);
    expect(err).toMatchObject({ status: 413, code: 'quota_exceeded', details: { quota: 'kvValueKB', limit: 1024 } });
    expect(fieldOf(err, ['key', 'value', 'ttl'] as const, 'key')).toBe('value');
  });

  it('deletes a key with the CSRF header', async () => {
    const calls = stub(() => new Response(null, { status: 204 }));
    await deleteKey('kv_1', 'a/b');
    expect(`${calls[0].init.method} ${calls[0].url}`).toBe('DELETE /api/v1/kv/kv_1/keys/a%2Fb');
    expect(header(calls[0], CSRF_HEADER)).toBe('1');
  });

  it('reports a network failure with status 0', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    expect(await getValue('kv_1', 'k').catch((e) => e)).toMatchObject({ status: 0, code: 'network' });
  });
});
