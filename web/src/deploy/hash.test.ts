import { describe, expect, it } from 'vitest';
import xxhash from 'xxhash-wasm';
import { decodeSalt, formatSum, hashBlob } from './hash';

// Vectors computed with the server's own code, assets.Hash(salt, content)
// in Go (assets/hash.go), by a throwaway test in cmd/pier that printed
//   fmt.Printf("%s %s %d %s\n", name, saltHex, len(content), assets.Hash(salt, content))
// for these inputs; pattern(n, mul, add)[i] = byte((i*mul + add) % 256).
const vectors: { name: string; salt: string; content: () => Uint8Array<ArrayBuffer>; hash: string }[] = [
  { name: 'empty', salt: '00112233445566778899aabbccddeeff', content: () => new Uint8Array(0), hash: '13c6635f71500f92' },
  { name: 'hello', salt: '00112233445566778899aabbccddeeff', content: () => new TextEncoder().encode('hello, world\n'), hash: '40f22dd29ece00e1' },
  { name: '1000 bytes', salt: 'a1', content: () => pattern(1000, 1, 0), hash: '364461f4c877a89e' },
  {
    name: '3 MiB + 7 bytes',
    salt: '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
    content: () => pattern((3 << 20) + 7, 31, 7),
    hash: '269c660a782bdc6d',
  },
  { name: 'html', salt: 'deadbeefcafef00d', content: () => new TextEncoder().encode('<!doctype html><title>v2</title>'), hash: 'afd6f472763c5dc2' },
];

function pattern(n: number, mul: number, add: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * mul + add) % 256;
  return b;
}

describe('hashBlob matches assets.Hash in Go', async () => {
  const { create64 } = await xxhash();
  for (const v of vectors) {
    const content = v.content();
    const chunks = content.length > 100_000 ? [4093, 65_536, 1 << 20, undefined] : [1, 5, 32, 33, undefined];
    for (const chunk of chunks) {
      it(`${v.name}, read ${chunk ?? 'default'} bytes at a time`, async () => {
        let seen = 0;
        const r = await hashBlob(() => create64(), decodeSalt(v.salt), new Blob([content]), chunk, (n) => (seen += n));
        expect(r).toEqual({ hash: v.hash, size: content.length });
        expect(seen).toBe(content.length);
      });
    }
  }
});

describe('decodeSalt and formatSum', () => {
  it('decodes hex', () => {
    expect(Array.from(decodeSalt('00ff7A'))).toEqual([0, 255, 122]);
  });
  it('refuses a bad or missing salt as the CLI does', () => {
    expect(() => decodeSalt('', 'blog')).toThrow('site blog: the server sent no hash_salt');
    expect(() => decodeSalt('abc', 'blog')).toThrow('site blog: bad hash_salt "abc"');
    expect(() => decodeSalt('zz', 'blog')).toThrow('bad hash_salt');
  });
  it('formats 16 lowercase hex characters', () => {
    expect(formatSum(0n)).toBe('0000000000000000');
    expect(formatSum(0xabcn)).toBe('0000000000000abc');
    expect(formatSum(2n ** 64n - 1n)).toBe('ffffffffffffffff');
  });
});
