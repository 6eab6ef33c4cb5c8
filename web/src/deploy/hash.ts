// Content addresses as the server computes them (assets.Hash in Go):
// hex(XXH64(salt ‖ content)), seed 0, 16 lowercase hex characters. Files
// are read in File.slice chunks, so a large file is never held in memory
// whole. The hasher is xxhash-wasm's streaming 64-bit one; this module
// only drives it, so it runs the same in the Web Worker and in tests.

/** Bytes read at once from a file. */
export const HASH_CHUNK = 4 << 20;

/** A streaming 64-bit hasher (xxhash-wasm's create64()). */
export interface Hasher64 {
  update(input: Uint8Array): Hasher64;
  digest(): bigint;
}

/** Decodes the site's hash_salt (hex); throws on a bad or empty salt, as the CLI. */
export function decodeSalt(hex: string, site = ''): Uint8Array {
  if (hex.length === 0) throw new Error(`site ${site}: the server sent no hash_salt`);
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`site ${site}: bad hash_salt ${JSON.stringify(hex)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A 64-bit digest as a content hash: 16 lowercase hex characters. */
export function formatSum(sum: bigint): string {
  return sum.toString(16).padStart(16, '0');
}

/** Hashes blob with salt, chunk bytes at a time; onBytes hears of each chunk read. */
export async function hashBlob(
  create: () => Hasher64,
  salt: Uint8Array,
  blob: Blob,
  chunk = HASH_CHUNK,
  onBytes?: (n: number) => void,
): Promise<{ hash: string; size: number }> {
  const h = create();
  h.update(salt);
  let size = 0;
  for (let off = 0; off < blob.size; off += chunk) {
    const buf = new Uint8Array(await blob.slice(off, Math.min(off + chunk, blob.size)).arrayBuffer());
    h.update(buf);
    size += buf.byteLength;
    onBytes?.(buf.byteLength);
  }
  return { hash: formatSum(h.digest()), size };
}
