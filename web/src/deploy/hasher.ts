// A small pool of hashing Web Workers (hash.worker.ts): the UI thread only
// hands them File handles and hears back hashes and byte counts.
import type { HashReply, HashRequest } from './hash.worker';

/** Hashes one blob with the salt; onBytes hears of each chunk read. */
export type HashFn = (salt: Uint8Array, blob: Blob, onBytes: (n: number) => void) => Promise<{ hash: string; size: number }>;

interface Pending {
  ok: (r: { hash: string; size: number }) => void;
  fail: (err: Error) => void;
  onBytes: (n: number) => void;
}

export class HashPool {
  private workers: Worker[] = [];
  private idle: Worker[] = [];
  private queue: (() => void)[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly size = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1))) {}

  readonly hash: HashFn = (salt, blob, onBytes) =>
    new Promise((ok, fail) => {
      const run = () => {
        const w = this.idle.pop()!;
        const id = this.nextId++;
        this.pending.set(id, {
          ok: (r) => {
            this.release(w);
            ok(r);
          },
          fail: (err) => {
            this.release(w);
            fail(err);
          },
          onBytes,
        });
        w.postMessage({ id, salt, blob } satisfies HashRequest);
      };
      if (this.idle.length === 0 && this.workers.length < this.size) this.spawn();
      if (this.idle.length > 0) run();
      else this.queue.push(run);
    });

  private spawn() {
    const w = new Worker(new URL('./hash.worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (e: MessageEvent<HashReply>) => {
      const m = e.data;
      const p = this.pending.get(m.id);
      if (!p) return;
      if ('bytes' in m) p.onBytes(m.bytes);
      else {
        this.pending.delete(m.id);
        if ('error' in m) p.fail(new Error(m.error));
        else p.ok({ hash: m.hash, size: m.size });
      }
    };
    w.onerror = (e) => {
      e.preventDefault();
      const err = new Error('the hashing worker failed: ' + (e.message || 'it could not start'));
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.fail(err);
      }
    };
    this.workers.push(w);
    this.idle.push(w);
  }

  private release(w: Worker) {
    this.idle.push(w);
    const next = this.queue.shift();
    if (next) next();
  }

  /** Stops the workers. */
  close() {
    for (const w of this.workers) w.terminate();
    this.workers = [];
    this.idle = [];
    for (const p of this.pending.values()) p.fail(new Error('hashing stopped'));
    this.pending.clear();
    this.queue = [];
  }
}
