// A tenant's KV namespaces and their keys (docs/api.md: KV): the API calls
// of the console's KV pages, on the shared client. Namespaces are listed
// under their tenant; keys under /kv/{namespace id}, values as raw bytes.
import { api, query, type Page } from './api';

/** A tenant's KV namespace. keys and bytes come with the answer about one namespace (and in lists, when the server gives them). */
export interface KVNamespace {
  id: string;
  tenant_id: string;
  name: string;
  created_at: string;
  /** Unexpired keys stored. */
  keys?: number;
  /** Bytes stored: each unexpired key's name and value. */
  bytes?: number;
}

/** A key in a listing: never its value. */
export interface KVKey {
  name: string;
  /** The value's bytes. */
  size: number;
  /** When it stops being visible; absent when it never expires. */
  expires_at?: string;
  updated_at: string;
}

/** A value read: its bytes, and when it expires (absent: never). */
export interface KVValue {
  bytes: Uint8Array;
  expires_at?: string;
}

const tenantKV = (tenant: string) => '/tenants/' + encodeURIComponent(tenant) + '/kv';
/** The path of a key: the key path-escaped, so a "/" in it is %2F. */
export const keyPath = (ns: string, key: string) => `/kv/${encodeURIComponent(ns)}/keys/${encodeURIComponent(key)}`;

/** The tenant's namespaces, by name. */
export async function listNamespaces(tenant: string): Promise<KVNamespace[]> {
  const res = await api.request<{ namespaces: KVNamespace[] | null }>('GET', tenantKV(tenant));
  return res.namespaces ?? [];
}

/** One namespace of the tenant, by id or name, with its keys count and bytes. */
export function getNamespace(tenant: string, ns: string): Promise<KVNamespace> {
  return api.request<KVNamespace>('GET', tenantKV(tenant) + '/' + encodeURIComponent(ns));
}

/** Creates a namespace (409 conflict: the tenant has one of that name; 403 quota_exceeded: kvNamespaces). */
export function createNamespace(tenant: string, name: string): Promise<KVNamespace> {
  return api.request<KVNamespace>('POST', tenantKV(tenant), { name });
}

/** Deletes a namespace and every key in it. */
export async function deleteNamespace(tenant: string, ns: string): Promise<void> {
  await api.request<void>('DELETE', tenantKV(tenant) + '/' + encodeURIComponent(ns));
}

export interface KeysOptions {
  prefix?: string;
  cursor?: string;
  limit?: number;
}

/** One page of a namespace's keys (ns: its id), in key order, only those starting with prefix. */
export async function listKeys(ns: string, options: KeysOptions = {}): Promise<Page<KVKey>> {
  const res = await api.request<{ keys: KVKey[] | null; next_cursor?: string }>(
    'GET',
    `/kv/${encodeURIComponent(ns)}/keys` + query({ prefix: options.prefix, cursor: options.cursor, limit: options.limit }),
  );
  return { items: res.keys ?? [], next_cursor: res.next_cursor || undefined };
}

/** A key's value (404 not_found when it is absent or expired). */
export async function getValue(ns: string, key: string): Promise<KVValue> {
  const res = await api.requestRaw('GET', keyPath(ns, key));
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { bytes, expires_at: res.headers.get('Pier-KV-Expires') || undefined };
}

/** Writes a key; ttl (seconds, > 0) makes it expire that long from now, else it never expires. */
export async function putValue(ns: string, key: string, value: string | Blob, ttl?: number): Promise<void> {
  await api.requestRaw('PUT', keyPath(ns, key) + query({ ttl: ttl && ttl > 0 ? ttl : undefined }), value);
}

/** Deletes a key (absent is fine). */
export async function deleteKey(ns: string, key: string): Promise<void> {
  await api.requestRaw('DELETE', keyPath(ns, key));
}
