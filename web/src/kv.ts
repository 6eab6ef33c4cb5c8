// The logic of the KV pages: names, keys and TTLs checked before asking
// (the server checks again), values shown as text or as bytes, and the
// API's refusals put next to the field they are about. Pure functions,
// unit-tested in kv.test.ts.
import { ApiError } from './api';
import { bytes, plural, relativeTime } from './format';

/** The most bytes of UTF-8 a key may have (tenants.MaxKVKeyBytes). */
export const MAX_KV_KEY_BYTES = 512;

/** Keys per page of the key browser. */
export const KEYS_PAGE = 100;

/** The largest text value shown on the page; a larger one is offered as a download. */
export const MAX_SHOWN_TEXT = 256 * 1024;

/** Why name cannot name a namespace, or '' (a DNS label, as site names are). */
export function namespaceNameError(name: string): string {
  if (name === '') return 'Give the namespace a name, such as blog-data.';
  if (name.length > 63) return `A namespace name has at most 63 characters (this one has ${name.length}).`;
  if (!/^[a-z0-9-]+$/.test(name)) return "Use only lowercase letters a–z, digits and '-'.";
  if (name.startsWith('-') || name.endsWith('-')) return "A namespace name cannot start or end with '-'.";
  return '';
}

/** Why key cannot be a KV key, or '' (tenants.ValidKVKey): 1 to 512 bytes of UTF-8 without NUL. */
export function kvKeyError(key: string): string {
  if (key === '') return 'Give the key a name.';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(key)) return 'The key is not valid UTF-8.';
  if (key.includes('\0')) return 'A key cannot contain a NUL character.';
  const n = new TextEncoder().encode(key).length;
  if (n > MAX_KV_KEY_BYTES) return `A key has at most ${MAX_KV_KEY_BYTES} bytes (this one has ${n}).`;
  return '';
}

/** A TTL typed in seconds: '' is none (the key never expires), else a whole number above 0. */
export function parseTTL(text: string): { ttl: number; error: string } {
  const t = text.trim();
  if (t === '') return { ttl: 0, error: '' };
  if (!/^\d+$/.test(t) || Number(t) <= 0 || !Number.isSafeInteger(Number(t))) {
    return { ttl: 0, error: 'Write a whole number of seconds above 0, or leave it empty for a key that never expires.' };
  }
  return { ttl: Number(t), error: '' };
}

/** A value as the page shows it: UTF-8 text, or bytes that are not (or text too long to show). */
export type ShownValue = { kind: 'text'; text: string } | { kind: 'binary'; reason: 'binary' | 'large' };

/** How to show value: as text when it is valid UTF-8 without NUL and at most max bytes, else as a size and a download. */
export function showValue(value: Uint8Array, max = MAX_SHOWN_TEXT): ShownValue {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(value);
  } catch {
    return { kind: 'binary', reason: 'binary' };
  }
  if (text.includes('\0')) return { kind: 'binary', reason: 'binary' };
  if (value.length > max) return { kind: 'binary', reason: 'large' };
  return { kind: 'text', text };
}

/** When a key expires, in words: "Never", "in 5 minutes" ("expired" once past). */
export function expiryText(expires: string | undefined, now: Date = new Date()): string {
  if (!expires) return 'Never';
  const t = Date.parse(expires);
  if (Number.isNaN(t)) return 'Never';
  if (t <= now.getTime()) return 'Expired';
  return relativeTime(expires, now);
}

/** A namespace's contents in words ("3 keys · 1.2 KiB"), '' when the server did not say. */
export function namespaceSummary(ns: { keys?: number; bytes?: number }): string {
  const parts: string[] = [];
  if (typeof ns.keys === 'number') parts.push(plural(ns.keys, 'key'));
  if (typeof ns.bytes === 'number') parts.push(bytes(ns.bytes));
  return parts.join(' · ');
}

/** A file name for downloading key's value: the key with what a file name cannot hold replaced. */
export function downloadName(key: string): string {
  const name = key.replace(/[/\\:*?"<>|\u0000-\u001f]+/g, '_').replace(/^\.+/, '_').slice(0, 120);
  return name || 'value';
}

/**
 * Which of fields a refusal of the API is about: the envelope's field
 * when it names one of them, the value for a value over kvValueKB, else
 * fallback (the form's main field).
 */
export function fieldOf<F extends string>(err: unknown, fields: readonly F[], fallback: F): F {
  if (!(err instanceof ApiError)) return fallback;
  const d = err.details;
  const named = typeof d.field === 'string' ? d.field : '';
  const match = fields.find((f) => f === named || named.endsWith('.' + f));
  if (match) return match;
  const limit = [d.quota, d.limit, d.name].find((v) => typeof v === 'string');
  if (fields.includes('value' as F) && (limit === 'kvValueKB' || err.code === 'value_too_large' || err.status === 413)) return 'value' as F;
  if (fields.includes('ttl' as F) && /\bttl\b/i.test(err.message)) return 'ttl' as F;
  return fallback;
}
