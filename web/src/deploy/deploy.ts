// The publishing protocol of `pier deploy` (cmd/pier/deploy.go), run from
// the browser: look the site up (its salt), hash every file, open an
// upload session with the manifest, upload only the blobs the server
// lacks (a few at a time, each retried on its own), create the deployment
// with source "ui", and count what was uploaded and what reused.
import { ApiError, errorFrom, CSRF_HEADER } from '../api';
import type { FolderPlan } from './folder';
import { decodeSalt } from './hash';
import type { HashFn } from './hasher';
import {
  buildManifest,
  countUploads,
  planUploads,
  retryable,
  retryServerErrors,
  retryUnavailable,
  runPool,
  UPLOAD_PARALLELISM,
  withRetry,
  type HashedFile,
  type RetryOptions,
} from './upload';
import type { SkippedFile } from './tree';

/** Uploads one blob; onSent hears the bytes sent so far by this try. Throws an ApiError. */
export type PutBlobFn = (upload: string, hash: string, blob: Blob, onSent: (sent: number) => void, signal?: AbortSignal) => Promise<void>;

export interface DeployDeps {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  putBlob: PutBlobFn;
  hash: HashFn;
  retry?: RetryOptions;
  parallel?: number;
}

export type Phase = 'hashing' | 'uploading' | 'creating';

export interface Progress {
  phase: Phase;
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface DeployResult {
  deployment: string;
  url: string;
  preview_url: string;
  active: boolean;
  /** Files published, as the server counts them (no rules file, no worker). */
  files: number;
  uploaded: number;
  reused: number;
  rules: string[];
  bytesUploaded: number;
  worker?: string;
  workerUploaded: boolean;
  skipped: SkippedFile[];
}

/** A deploy that failed at one stage; `api` is the server's answer when there was one. */
export class DeployError extends Error {
  readonly api?: ApiError;
  constructor(stage: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(stage ? `${stage}: ${msg}` : msg);
    this.name = 'DeployError';
    if (cause instanceof ApiError) this.api = cause;
    else if (cause instanceof DeployError) this.api = cause.api;
  }
}

interface SiteAnswer {
  name: string;
  hash_salt: string;
}
interface UploadAnswer {
  id: string;
  missing: string[] | null;
}
interface DeploymentAnswer {
  id: string;
  url: string;
  preview_url: string;
  files: number;
  worker?: string;
  active: boolean;
}

const enc = encodeURIComponent;

export async function deployFolder(
  site: string,
  plan: FolderPlan,
  activate: boolean,
  deps: DeployDeps,
  onProgress: (p: Progress) => void = () => {},
  signal?: AbortSignal,
): Promise<DeployResult> {
  const retry = { ...deps.retry, signal };
  const siteInfo = await withRetry(() => deps.request<SiteAnswer>('GET', '/sites/' + enc(site)), retryServerErrors, retry).catch((err) => {
    throw new DeployError('', err);
  });
  let salt: Uint8Array;
  try {
    salt = decodeSalt(siteInfo.hash_salt ?? '', siteInfo.name);
  } catch (err) {
    throw new DeployError('', err);
  }

  // Hash: progress in files and bytes; the files in the plan's order.
  const all = plan.worker ? [...plan.files, plan.worker] : plan.files;
  const totalBytes = all.reduce((n, f) => n + f.size, 0);
  const p: Progress = { phase: 'hashing', files: 0, totalFiles: all.length, bytes: 0, totalBytes };
  const tick = () => onProgress({ ...p });
  tick();
  const hashed: HashedFile[] = new Array(all.length);
  await runPool(
    all.map((f, i) => [f, i] as const),
    8, // requests in flight; the HashPool runs a few at once
    async ([f, i]) => {
      if (signal?.aborted) throw signal.reason;
      const r = await deps.hash(salt, f.blob, (n) => {
        p.bytes += n;
        tick();
      });
      if (r.size !== f.size) throw new Error(`${f.path} changed while it was read (now ${r.size} bytes, was ${f.size}); deploy again`);
      hashed[i] = { ...f, hash: r.hash };
      p.files++;
      tick();
    },
  ).catch((err) => {
    throw new DeployError('hashing', err);
  });
  const files = plan.worker ? hashed.slice(0, -1) : hashed;
  const workerFile = plan.worker ? hashed[hashed.length - 1] : undefined;

  const { manifest, worker, byHash } = buildManifest(files, workerFile);
  const session = await withRetry(
    () => deps.request<UploadAnswer>('POST', `/sites/${enc(site)}/uploads`, worker ? { manifest, worker } : { manifest }),
    retryable,
    retry,
  ).catch((err) => {
    throw new DeployError('creating upload session', err);
  });
  const missing = session.missing ?? [];

  let todo: HashedFile[];
  let upBytes: number;
  try {
    ({ todo, bytes: upBytes } = planUploads(missing, byHash));
  } catch (err) {
    throw new DeployError('', err);
  }
  Object.assign(p, { phase: 'uploading', files: 0, totalFiles: todo.length, bytes: 0, totalBytes: upBytes });
  tick();
  await runPool(todo, deps.parallel ?? UPLOAD_PARALLELISM, async (f) => {
    await withRetry(
      async () => {
        let sent = 0;
        try {
          await deps.putBlob(session.id, f.hash, f.blob, (n) => {
            p.bytes += n - sent;
            sent = n;
            tick();
          }, signal);
        } catch (err) {
          // Progress takes back what a failed try had counted.
          p.bytes -= sent;
          tick();
          if (err instanceof ApiError && err.code === 'hash_mismatch') {
            throw new ApiError(err.status, err.code, err.message + '; did the file change during the deploy?', err.details);
          }
          throw err;
        }
        p.bytes += f.size - sent;
      },
      retryable,
      retry,
    ).catch((err) => {
      throw new DeployError(`uploading ${f.path}`, err);
    });
    p.files++;
    tick();
  });

  Object.assign(p, { phase: 'creating' });
  tick();
  const body = { upload: session.id, config: plan.config, source: { type: 'ui' }, activate };
  // Creating a deployment is not idempotent: retried only when the server said it did nothing.
  const dep = await withRetry(() => deps.request<DeploymentAnswer>('POST', `/sites/${enc(site)}/deployments`, body), retryUnavailable, retry).catch(
    (err) => {
      throw new DeployError('creating deployment', err);
    },
  );
  const counts = countUploads(files, worker, missing);
  return {
    deployment: dep.id,
    url: dep.url,
    preview_url: dep.preview_url,
    active: dep.active ?? activate,
    files: dep.files,
    uploaded: counts.uploaded,
    reused: counts.reused,
    rules: counts.rules,
    bytesUploaded: upBytes,
    worker: dep.worker,
    workerUploaded: counts.workerUploaded,
    skipped: plan.skipped,
  };
}

/** Uploads a blob with XMLHttpRequest (for upload progress), with the session cookie and the CSRF header. */
export const xhrPutBlob: PutBlobFn = (upload, hash, blob, onSent, signal) =>
  new Promise((ok, fail) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/v1/uploads/${enc(upload)}/blobs/${enc(hash)}`);
    xhr.setRequestHeader(CSRF_HEADER, '1');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return ok();
      let data: unknown;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = undefined;
      }
      const e = errorFrom(xhr.status, xhr.statusText, data);
      const ra = Number(xhr.getResponseHeader('Retry-After'));
      fail(ra > 0 ? new ApiError(e.status, e.code, e.message, { ...e.details, retry_after_ms: ra * 1000 }) : e);
    };
    xhr.onerror = () => fail(new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.'));
    xhr.onabort = () => fail(signal?.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
