// The Web Worker that hashes files off the UI thread: one request at a
// time, { id, salt, blob } in; { id, bytes } as chunks are read, then
// { id, hash, size } or { id, error } out. xxhash-wasm compiles its
// WebAssembly once, when the first request arrives.
import xxhash from 'xxhash-wasm';
import { hashBlob } from './hash';

export interface HashRequest {
  id: number;
  salt: Uint8Array;
  blob: Blob;
}
export type HashReply =
  | { id: number; bytes: number }
  | { id: number; hash: string; size: number }
  | { id: number; error: string };

const ready = xxhash();
const post = (m: HashReply) => (self as unknown as { postMessage(m: HashReply): void }).postMessage(m);

self.onmessage = async (e: MessageEvent<HashRequest>) => {
  const { id, salt, blob } = e.data;
  try {
    const { create64 } = await ready;
    const r = await hashBlob(() => create64(), salt, blob, undefined, (bytes) => post({ id, bytes }));
    post({ id, hash: r.hash, size: r.size });
  } catch (err) {
    post({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
