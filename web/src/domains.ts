// The Domains view's logic, kept apart from the markup so it can be unit
// tested: the certificate timeline of a domain, when to poll, the DNS
// records as rows with their copy buttons' names, and API errors in words.
import { ApiError, api, type Domain } from './api';
import { errorMessage } from './errors';
import { absoluteTime, relativeTime } from './format';

/** A step of the certificate timeline. */
export interface TimelineStep {
  key: 'validation' | 'issuance' | 'active';
  label: string;
  state: 'done' | 'current' | 'upcoming' | 'failed';
  /** What the step says now, in words. */
  detail: string;
}

type CertFields = Pick<Domain, 'status' | 'cert_status' | 'cert_error' | 'cert_next_retry'>;

/** Why a claim that is not active waits at the validation step. */
function waitingFor(status: string): string {
  switch (status) {
    case 'moved':
      return 'Waiting: the domain moved away. Point it here again and verify it.';
    case 'blocked':
      return 'Blocked by the platform operator: no certificate is ordered.';
    default:
      return 'Waiting for the domain to be verified.';
  }
}

/** "Next retry in 5 minutes (2026-12-05 10:05 UTC)."; '' without a time. */
export function nextRetryText(iso: string | undefined, now: Date = new Date()): string {
  const rel = relativeTime(iso, now);
  if (!rel) return '';
  return `Next retry ${rel} (${absoluteTime(iso)}).`;
}

/** When the next automatic check runs: "due now", "in less than a minute", "in 5 minutes". */
export function nextCheckText(iso: string, now: Date = new Date()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  if (t <= now.getTime()) return 'due now';
  if (t - now.getTime() < 60_000) return 'in less than a minute';
  return relativeTime(iso, now);
}

/**
 * The certificate timeline of a domain: validation → issuance → active,
 * or failed at issuance with the reason and the next retry. Undefined when
 * the platform obtains no certificates (cert_status `none`).
 */
export function certTimeline(d: CertFields, now: Date = new Date()): TimelineStep[] | undefined {
  const s = d.cert_status;
  if (s === 'none' || !s) return undefined;
  const validation: TimelineStep = { key: 'validation', label: 'Validation', state: 'done', detail: 'Domain verified.' };
  const issuance: TimelineStep = { key: 'issuance', label: 'Issuance', state: 'upcoming', detail: 'The certificate is ordered once the domain is verified.' };
  const active: TimelineStep = { key: 'active', label: 'Certificate active', state: 'upcoming', detail: 'HTTPS is served with it.' };
  switch (s) {
    case 'pending_validation':
      validation.state = 'current';
      validation.detail = waitingFor(d.status);
      break;
    case 'pending_issuance':
      issuance.state = 'current';
      issuance.detail = 'Ordering the certificate from the certificate authority.';
      break;
    case 'active':
      issuance.state = 'done';
      issuance.detail = 'Certificate issued.';
      active.state = 'done';
      active.detail = d.cert_error ? `HTTPS is served. The last renewal failed: ${d.cert_error}` : 'HTTPS is served.';
      break;
    case 'failed': {
      issuance.state = 'failed';
      const retry = nextRetryText(d.cert_next_retry, now);
      const reason = (d.cert_error || 'the certificate authority gave no reason').replace(/\.+$/, '');
      issuance.detail = `Failed: ${reason}.${retry ? ' ' + retry : ''}`;
      break;
    }
    default:
      validation.state = 'current';
      validation.detail = `Unknown certificate status "${s}".`;
  }
  return [validation, issuance, active];
}

/** Words screen readers hear after a step's label. */
export const stepStateWords: Record<TimelineStep['state'], string> = {
  done: 'done',
  current: 'in progress',
  upcoming: 'not started',
  failed: 'failed',
};

/**
 * Whether a domain may still change on its own soon, so the page polls it:
 * pending verification (the background verifier re-checks it), or active
 * with a certificate not issued yet or failed with a retry scheduled.
 * Moved and blocked claims, and settled certificates, are not polled.
 */
export function inProgress(d: CertFields): boolean {
  if (d.status === 'pending') return true;
  if (d.status !== 'active') return false;
  return d.cert_status === 'pending_validation' || d.cert_status === 'pending_issuance' || (d.cert_status === 'failed' && !!d.cert_next_retry);
}

/** First and longest delay between two polls, in ms. */
export const POLL_MIN = 3000;
export const POLL_MAX = 30000;

/** The delay after one of prev ms: ×1.5 while nothing changed (at most POLL_MAX), POLL_MIN again after a change. */
export function nextPollDelay(prev: number | undefined, changed: boolean): number {
  if (prev === undefined || changed) return POLL_MIN;
  return Math.min(POLL_MAX, Math.round(prev * 1.5));
}

/** Whether two lists of domains differ in anything the page shows. */
export function domainsChanged(a: Domain[], b: Domain[]): boolean {
  if (a.length !== b.length) return true;
  const key = (d: Domain) =>
    [d.hostname, d.status, d.error, d.checked_at, d.cert_status, d.cert_error, d.cert_next_retry].join('\u0000');
  return a.some((d, i) => key(d) !== key(b[i]));
}

/** A DNS record as the page shows it: with the accessible name of its Copy button. */
export interface RecordRow {
  type: string;
  name: string;
  value: string;
  /** "Copy TXT value"; with a number when several records share the type ("Copy A value 2"). */
  copyLabel: string;
  /** What the record is for. */
  purpose: string;
}

/** The records to create, in the API's order, ready for the table. */
export function recordRows(records: Domain['records'] | undefined): RecordRow[] {
  const list = records ?? [];
  const total: Record<string, number> = {};
  for (const r of list) total[r.type] = (total[r.type] ?? 0) + 1;
  const seen: Record<string, number> = {};
  return list.map((r) => {
    seen[r.type] = (seen[r.type] ?? 0) + 1;
    const n = total[r.type] > 1 ? ` ${seen[r.type]}` : '';
    const purpose =
      r.type === 'TXT' ? 'Proves you own the name' : r.type === 'CNAME' ? 'Points the name at the site' : 'Points the name at the platform';
    return { type: r.type, name: r.name, value: r.value, copyLabel: `Copy ${r.type} value${n}`, purpose };
  });
}

/** "in 1 second", "in 5 seconds". */
function seconds(n: number): string {
  return `${n} second${n === 1 ? '' : 's'}`;
}

/** The seconds a 429 asks to wait (its `retry_after`), or undefined for another error. */
export function retryAfter(err: unknown): number | undefined {
  if (!(err instanceof ApiError) || err.status !== 429) return undefined;
  const n = Number(err.details.retry_after);
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 1;
}

/** A verify refused by the rate limit, in words. */
export function rateLimitText(secs: number): string {
  return `This domain was checked just now. You can check it again in ${seconds(secs)}; meanwhile the background verifier keeps checking it.`;
}

/** An error of adding a domain in words, naming the field it is about: "Hostname: …". */
export function addErrorText(err: unknown): string {
  if (!(err instanceof ApiError)) return errorMessage(err);
  const field = typeof err.details.field === 'string' ? err.details.field : '';
  const msg = err.message.replace(/^hostname /, '');
  if (field === 'hostname' || err.code === 'conflict') {
    const m = err.code === 'conflict' ? err.message.replace(/; `pier domains list[^`]*` shows its status and records$/, '.') : msg;
    return `Hostname: ${m}`;
  }
  if (err.status === 429) return `Too many requests: ${err.message}`;
  return err.message;
}

/** The client calls of the view (docs/api.md, Custom domains). */
const path = (site: string, host?: string) =>
  `/sites/${encodeURIComponent(site)}/domains` + (host === undefined ? '' : '/' + encodeURIComponent(host));

export const domainsApi = {
  /** POST …/domains: the new domain, pending, with its records. */
  add: (site: string, hostname: string) => api.request<Domain>('POST', path(site), { hostname }),
  /** GET …/domains/{host}. */
  get: (site: string, host: string) => api.request<Domain>('GET', path(site, host)),
  /** POST …/verify: checks now; 429 `rate_limited` with `retry_after` when checked too often. */
  verify: (site: string, host: string) => api.request<Domain>('POST', path(site, host) + '/verify'),
  /** DELETE …/domains/{host}: the edge stops serving it at once. */
  remove: (site: string, host: string) => api.request<void>('DELETE', path(site, host)),
};
