// The upload plan and the retry policy of a deploy, as pure functions:
// the CLI's buildManifest, uploadMissing's choice of blobs, countUploads
// and retryPolicy (cmd/pier/deploy.go, retry.go), so that the console
// and `pier deploy` send the same things and retry the same failures.
import { ApiError } from '../api';
import type { LocalFile } from './tree';

/** How many blobs are uploaded at once (the CLI sends 8; a browser keeps 6 connections per host). */
export const UPLOAD_PARALLELISM = 5;

/** Root files read by the server as configuration, not published. */
export const RULES_FILES = ['/_headers', '/_redirects'];

export interface ManifestEntry {
  hash: string;
  size: number;
}

/** A file with its salted content hash. */
export interface HashedFile extends LocalFile {
  hash: string;
}

/** The manifest of the hashed files, the worker's entry, and the first file of each hash (what to send when it is missing). */
export function buildManifest(
  files: readonly HashedFile[],
  worker?: HashedFile,
): { manifest: Record<string, ManifestEntry>; worker?: ManifestEntry; byHash: Map<string, HashedFile> } {
  const manifest: Record<string, ManifestEntry> = {};
  const byHash = new Map<string, HashedFile>();
  for (const f of files) {
    manifest[f.path] = { hash: f.hash, size: f.size };
    if (!byHash.has(f.hash)) byHash.set(f.hash, f);
  }
  if (!worker) return { manifest, byHash };
  if (!byHash.has(worker.hash)) byHash.set(worker.hash, worker);
  return { manifest, worker: { hash: worker.hash, size: worker.size }, byHash };
}

/** The blobs to send for the hashes the server lacks, each once, and their bytes. Throws when the server asks for a hash not in the manifest. */
export function planUploads(missing: readonly string[], byHash: ReadonlyMap<string, HashedFile>): { todo: HashedFile[]; bytes: number } {
  const todo: HashedFile[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  for (const h of missing) {
    const f = byHash.get(h);
    if (!f) throw new Error(`the server asked for blob ${h}, which is not in the manifest`);
    if (seen.has(h)) continue;
    seen.add(h);
    todo.push(f);
    bytes += f.size;
  }
  return { todo, bytes };
}

/** Which published files had content this deploy sent (uploaded) and which the server had (reused); rules files are listed apart. */
export function countUploads(
  files: readonly HashedFile[],
  worker: ManifestEntry | undefined,
  sent: readonly string[],
): { uploaded: number; reused: number; rules: string[]; workerUploaded: boolean } {
  const missing = new Set(sent);
  const out = { uploaded: 0, reused: 0, rules: [] as string[], workerUploaded: false };
  for (const f of files) {
    if (RULES_FILES.includes(f.path)) out.rules.push(f.path);
    else if (missing.has(f.hash)) out.uploaded++;
    else out.reused++;
  }
  out.workerUploaded = worker !== undefined && missing.has(worker.hash);
  return out;
}

/** Tries in all, the first wait (doubled each time) and the longest wait, also capping Retry-After: the CLI's defaults. */
export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}
export const defaultRetry: RetryPolicy = { attempts: 5, baseMs: 250, maxMs: 10_000 };

/** May the call succeed if repeated unchanged: a network failure, a 5xx or a 429 (never another 4xx). */
export function retryable(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  return err.status === 0 || err.status >= 500 || err.status === 429;
}

/** Only 5xx and 429 answers: for the first call, where no answer more likely means a wrong address. */
export function retryServerErrors(err: unknown): boolean {
  return err instanceof ApiError && (err.status >= 500 || err.status === 429);
}

/** Only answers saying the call did not happen (429, 503): for creating a deployment, which is not idempotent. */
export function retryUnavailable(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 429 || err.status === 503);
}

/** The wait before try attempt+1 (attempt ≥ 1): full jitter in [w/2, w] of w = base·2^(attempt-1) capped at max, at least Retry-After (capped). */
export function backoffMs(attempt: number, policy: RetryPolicy = defaultRetry, random = Math.random, retryAfterMs = 0): number {
  const wait = Math.min(policy.baseMs * 2 ** (attempt - 1), policy.maxMs);
  let d = wait / 2 + Math.floor(random() * (wait / 2 + 1));
  if (retryAfterMs > d) d = Math.min(retryAfterMs, policy.maxMs);
  return d;
}

/** The Retry-After hint an error carries (ApiError details.retry_after_ms), or 0. */
export function retryAfterMs(err: unknown): number {
  const v = err instanceof ApiError ? err.details.retry_after_ms : undefined;
  return typeof v === 'number' && v > 0 ? v : 0;
}

export interface RetryOptions {
  policy?: RetryPolicy;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  signal?: AbortSignal;
  /** Called before each wait, with the failed try's number and the error. */
  onRetry?: (attempt: number, err: unknown, waitMs: number) => void;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((ok, fail) => {
    if (signal?.aborted) return fail(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      ok();
    }, ms);
    const abort = () => {
      clearTimeout(t);
      fail(signal!.reason);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** Calls fn until it succeeds, fails with an error `canRetry` rejects, or the tries are spent; throws fn's last error. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, canRetry: (err: unknown) => boolean, o: RetryOptions = {}): Promise<T> {
  const policy = o.policy ?? defaultRetry;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !canRetry(err) || o.signal?.aborted) throw err;
      const wait = backoffMs(attempt, policy, o.random, retryAfterMs(err));
      o.onRetry?.(attempt, err, wait);
      await (o.sleep ?? sleep)(wait, o.signal);
    }
  }
}

/** Runs task on every item, at most `limit` at once; the first failure stops new tasks and is thrown once the running ones settle. */
export async function runPool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.err;
}
