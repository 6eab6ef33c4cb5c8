// The operator's tenant endpoints (docs/api.md: tenants, bulk, tenant
// tokens), on the shared client.
import { api, query, type Limits, type Page, type PageOptions, type Tenant } from './api';

/** A tenant as the API answers it, with the limits that apply. */
export interface TenantInfo extends Tenant {
  /** The plan's limits with the tenant's overrides applied. */
  effective_limits: Limits;
  /** What the tenant uses of its quotas now: only in GET and PATCH of one tenant, not in listings. */
  usage?: QuotaUsage;
}

/** A tenant's use of its quotas (docs/api.md#quotas). */
export interface QuotaUsage {
  sites: number;
  /** Custom-domain claims of all its sites, whatever their status. */
  domains: number;
  /** Open (not deployed, not expired) upload sessions, and their manifests' entries together. */
  uploadSessions: number;
  uploadEntries: number;
  /** The raw size of its unique blobs, bytes (compare with storageMB × 1,048,576). */
  storageBytes: number;
  /** KV namespaces, when the server counts them. */
  kvNamespaces?: number;
}

/** An API token (the secret only in CreatedToken). */
export interface Token {
  id: string;
  tenant_id?: string;
  name: string;
  created_at: string;
}

/** A token just created: `token` is its secret, shown this once. */
export interface CreatedToken extends Token {
  token: string;
}

/** The answer of POST /tenants/bulk. */
export interface BulkResult {
  tag: string;
  /** Tenants carrying the tag. */
  matched: number;
  /** Those that changed (the others already were in the asked state), as they are now. */
  changed: TenantInfo[];
}

/** One page of tenants by name, only those carrying tag when given. */
export async function listTenants(options: PageOptions & { tag?: string } = {}): Promise<Page<TenantInfo>> {
  const res = await api.request<{ tenants: TenantInfo[]; next_cursor?: string }>(
    'GET',
    '/tenants' + query({ tag: options.tag, limit: options.limit, cursor: options.cursor }),
  );
  return { items: res.tenants ?? [], next_cursor: res.next_cursor || undefined };
}

/** Every tenant carrying tag, following next_cursor. */
export async function allTenantsTagged(tag: string): Promise<TenantInfo[]> {
  let all: TenantInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await listTenants({ tag, limit: 1000, cursor });
    all = all.concat(page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}

export function getTenant(ref: string): Promise<TenantInfo> {
  return api.request<TenantInfo>('GET', '/tenants/' + encodeURIComponent(ref));
}

export function createTenant(body: { name: string; plan?: string; tags?: string[]; limits?: Limits }): Promise<TenantInfo> {
  return api.request<TenantInfo>('POST', '/tenants', body);
}

/** Changes what is given: plan, limits (all overrides at once), tags (all at once), disabled. */
export function updateTenant(
  ref: string,
  body: { plan?: string; limits?: Limits; tags?: string[]; disabled?: boolean },
): Promise<TenantInfo> {
  return api.request<TenantInfo>('PATCH', '/tenants/' + encodeURIComponent(ref), body);
}

/** Deletes the tenant and everything it owns (sites, deployments, domains, tokens). */
export async function deleteTenant(ref: string): Promise<void> {
  await api.request<void>('DELETE', '/tenants/' + encodeURIComponent(ref));
}

/** Changes every tenant carrying tag at once, or none. */
export function bulkTenants(body: { tag: string; plan?: string; disabled?: boolean }): Promise<BulkResult> {
  return api.request<BulkResult>('POST', '/tenants/bulk', body);
}

/** One page of a tenant's tokens, oldest first. */
export async function tenantTokens(ref: string, options: PageOptions = {}): Promise<Page<Token>> {
  const res = await api.request<{ tokens: Token[]; next_cursor?: string }>(
    'GET',
    `/tenants/${encodeURIComponent(ref)}/tokens` + query({ limit: options.limit, cursor: options.cursor }),
  );
  return { items: res.tokens ?? [], next_cursor: res.next_cursor || undefined };
}

export function createTenantToken(ref: string, name: string): Promise<CreatedToken> {
  return api.request<CreatedToken>('POST', `/tenants/${encodeURIComponent(ref)}/tokens`, { name });
}

/** Revokes a token: it, and every console session signed in with it, stops working at once. */
export async function revokeToken(id: string): Promise<void> {
  await api.request<void>('DELETE', '/tokens/' + encodeURIComponent(id));
}
