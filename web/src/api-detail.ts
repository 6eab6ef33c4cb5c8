// API calls of the deployment detail, site creation and attention views
// (docs/api.md), on the shared client `api`.
import { api, query, type Deployment, type Domain, type Limits, type Page, type PageOptions, type Site, type Tenant } from './api';

/** One file of a deployment's manifest. */
export interface ManifestEntry {
  hash: string;
  size: number;
  content_type?: string;
  br_size?: number;
  gz_size?: number;
}

/** A deployment's configuration, normalized by the server. */
export interface DeploymentConfig {
  html_handling: string;
  not_found_handling: string;
  run_worker_first?: string[];
  vars?: Record<string, string>;
  /** The raw text of the deployment's `_headers` file, when it had one. */
  headers?: string;
  /** The raw text of the deployment's `_redirects` file, when it had one. */
  redirects?: string;
}

/** A deployment with its config and manifest (GET …/deployments/{id}). */
export interface DeploymentDetail extends Deployment {
  config: DeploymentConfig;
  manifest: Record<string, ManifestEntry>;
  /** The worker module's size in bytes, when the deployment has a worker. */
  worker_size?: number;
}

/** A tenant as GET /tenants/{tenant} answers it, with its plan's limits applied. */
export interface TenantWithLimits extends Tenant {
  effective_limits?: Limits;
}

/** The operator's attention list (GET /api/v1/attention). */
export interface Attention {
  /** Claims with a failed certificate, blocked claims, pending claims whose last check failed; newest first. */
  domains: Domain[];
  /** New certificate orders in the last hour against the cap (0: none); absent when TLS is off. */
  cert_orders?: { last_hour: number; cap: number };
}

/** One deployment with its files and config. */
export function deploymentDetail(site: string, id: string): Promise<DeploymentDetail> {
  return api.request<DeploymentDetail>('GET', `/sites/${encodeURIComponent(site)}/deployments/${encodeURIComponent(id)}`);
}

/** A tenant with its effective limits (a tenant may read itself). */
export function tenantLimits(ref: string): Promise<TenantWithLimits> {
  return api.request<TenantWithLimits>('GET', '/tenants/' + encodeURIComponent(ref));
}

/** Creates a site; `tenant` (id or name) is required of an operator, optional for a tenant. */
export function createSite(name: string, tenant?: string): Promise<Site> {
  return api.request<Site>('POST', '/sites', tenant ? { name, tenant } : { name });
}

/** One page of tenants by name (an operator sees every tenant). */
export async function tenantsPage(options: PageOptions = {}): Promise<Page<Tenant>> {
  const res = await api.request<{ tenants: Tenant[]; next_cursor?: string }>(
    'GET',
    '/tenants' + query({ limit: options.limit, cursor: options.cursor }),
  );
  return { items: res.tenants ?? [], next_cursor: res.next_cursor || undefined };
}

/** What needs the operator's attention (admin only: 403 for a tenant). */
export async function attention(): Promise<Attention> {
  const res = await api.request<Attention>('GET', '/attention');
  return { domains: res.domains ?? [], cert_orders: res.cert_orders };
}
