// The typed client of Pier's admin REST API (docs/api.md), the console's
// only way to talk to the server. Requests go to the console's own
// origin with the session cookie; requests that change state carry the
// CSRF header the API requires of cookie-authenticated callers.

/** The header cookie-authenticated requests that change state must carry. */
export const CSRF_HEADER = 'X-Pier-CSRF';

/** An answer of the API that is not a success, or a request that failed. */
export class ApiError extends Error {
  /** HTTP status, or 0 when no answer arrived (network failure). */
  readonly status: number;
  /** The API's stable snake_case code (`unauthorized`, `not_found`, …), or `network` / `bad_response`. */
  readonly code: string;
  /** Extra fields of the error envelope (`field`, `limit`, `path`, …). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** True when the session is missing, expired or signed out. */
  get unauthorized(): boolean {
    return this.status === 401;
  }
}

export interface TenantRef {
  id: string;
  name: string;
  disabled: boolean;
}

/** Who is signed in (GET /api/v1/session). */
export interface Session {
  kind: 'admin' | 'tenant';
  tenant?: TenantRef;
  /** The one site a site token acts on (kind is 'tenant'); absent for other tokens. */
  site?: { id: string; name: string };
  token_id: string;
  auth: 'cookie' | 'bearer';
  idle_expires_at?: string;
  expires_at?: string;
}

export interface Limits {
  cpuMs?: number;
  /** CPU time per second the tenant's workers may use together on each node, ms. */
  cpuMsPerSecond?: number;
  subRequests?: number;
  memoryMB?: number;
  /** KV operations (get, put, delete, list) per worker request. */
  kvOps?: number;
  /** The largest KV value, KB. */
  kvValueKB?: number;
  /** Bound of a site's git repository, MB. */
  gitRepoMB?: number;
  /** Bound of one git push, MB. */
  gitPushMB?: number;
  /** A site's visitor request bucket: refill per second and size. */
  requestsPerSecond?: number;
  requestBurst?: number;
  /** Quotas (docs/api.md#quotas): the tenant's sites, custom domains, open upload sessions and their entries, stored MB, one worker's MB, KV namespaces. */
  sites?: number;
  domains?: number;
  uploadSessions?: number;
  uploadEntries?: number;
  storageMB?: number;
  workerMB?: number;
  /** KV namespaces the tenant may hold. */
  kvNamespaces?: number;
  /** Deployments a site holds; retention keeps the newest keepDeployments and those younger than keepDays. */
  deployments?: number;
  keepDeployments?: number;
  keepDays?: number;
}

export interface Tenant {
  id: string;
  name: string;
  plan: string;
  limits: Limits;
  tags: string[] | null;
  disabled: boolean;
  created_at: string;
}

export interface Site {
  id: string;
  tenant_id: string;
  name: string;
  active_deployment?: string;
  /** The git branch whose pushes go live (default main). */
  production_branch?: string;
  created_at: string;
  url: string;
  hash_salt: string;
}

/** Where a deployment came from (a label only). */
export interface DeploymentSource {
  type?: 'cli' | 'api' | 'ui' | 'git';
  commit?: string;
  branch?: string;
}

/** A deployment as the lists give it (`config` and `manifest` left out). */
export interface Deployment {
  id: string;
  site_id: string;
  /** Files published (the manifest's entries). */
  files: number;
  /** Bytes of those files. */
  bytes: number;
  /** The worker's hash, when the deployment has one. */
  worker?: string;
  source: DeploymentSource;
  /** True for the site's live deployment. */
  active: boolean;
  url: string;
  /** This deployment's own address, `<id>--<site>.<domain>`. */
  preview_url: string;
  created_at: string;
}

export type DomainStatus = 'pending' | 'active' | 'moved' | 'blocked';
export type CertStatus = 'none' | 'pending_validation' | 'pending_issuance' | 'active' | 'failed';

/** A custom hostname of a site. */
export interface Domain {
  hostname: string;
  site: string;
  site_id: string;
  tenant_id: string;
  status: DomainStatus;
  token: string;
  verified_at?: string;
  checked_at?: string;
  next_check?: string;
  /** Why the last check failed. */
  error?: string;
  cert_status: CertStatus;
  cert_error?: string;
  cert_next_retry?: string;
  records: { type: string; name: string; value: string }[];
  http_proof: string;
  created_at: string;
}

/** What the edge served in one bucket (or in total). */
export interface UsageCounters {
  /** Answered requests by status class: `1xx` … `5xx`. */
  requests: Record<string, number>;
  bytes_out: number;
  invocations: Record<string, number>;
  violations: Record<string, number>;
  cpu_ms: number;
  subrequests: number;
}

/** A site's usage series (GET /api/v1/sites/{site}/usage). */
export interface Usage {
  site?: string;
  from: string;
  to: string;
  step: string;
  points: (UsageCounters & { time: string })[];
  totals: UsageCounters;
}

/** One page of a list endpoint: `next_cursor` is absent on the last page. */
export interface Page<T> {
  items: T[];
  next_cursor?: string;
}

export interface PageOptions {
  /** Page size (the API defaults to 100, at most 1,000). */
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** The client; `fetch` is injectable for tests. */
export class Api {
  private readonly fetch: Fetch;
  private readonly base: string;

  constructor(options: { fetch?: Fetch; base?: string } = {}) {
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.base = options.base ?? '/api/v1';
  }

  /** Sends one request and decodes the JSON answer (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] = '1';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.', {
        cause: err instanceof Error ? err.message : String(err),
      });
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let data: unknown;
    try {
      data = text === '' ? undefined : JSON.parse(text);
    } catch {
      data = undefined;
    }
    if (!res.ok) throw errorFrom(res.status, res.statusText, data);
    if (data === undefined) {
      throw new ApiError(res.status, 'bad_response', `The server answered ${res.status} without the expected JSON.`);
    }
    return data as T;
  }

  /**
   * Sends one request whose body or answer is not JSON (a KV value): body
   * as it is, as application/octet-stream (a string as UTF-8), the answer
   * returned as the Response once it is a success; a failure throws the
   * same ApiError as request.
   */
  async requestRaw(method: string, path: string, body?: string | Blob): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/octet-stream, application/json' };
    if (method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] = '1';
    if (body !== undefined) headers['Content-Type'] = 'application/octet-stream';
    let res: Response;
    try {
      res = await this.fetch(this.base + path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.', {
        cause: err instanceof Error ? err.message : String(err),
      });
    }
    if (res.ok) return res;
    const text = await res.text();
    let data: unknown;
    try {
      data = text === '' ? undefined : JSON.parse(text);
    } catch {
      data = undefined;
    }
    throw errorFrom(res.status, res.statusText, data);
  }

  /** Signs in with an admin or tenant token; the server sets the session cookie. */
  signIn(token: string): Promise<Session> {
    return this.request<Session>('POST', '/session', { token });
  }

  /** Who is signed in; an ApiError with status 401 when nobody is. */
  session(): Promise<Session> {
    return this.request<Session>('GET', '/session');
  }

  /** Ends the session: its cookie stops working at once. */
  async signOut(): Promise<void> {
    await this.request<void>('DELETE', '/session');
  }

  /** One page of sites: all of them for an operator, its own for a tenant. */
  async sites(options: PageOptions & { tenant?: string } = {}): Promise<Page<Site>> {
    const res = await this.request<{ sites: Site[]; next_cursor?: string }>(
      'GET',
      '/sites' + query({ tenant: options.tenant, limit: options.limit, cursor: options.cursor }),
    );
    return { items: res.sites ?? [], next_cursor: res.next_cursor || undefined };
  }

  /** One site by name (404 `not_found` for another tenant's site). */
  site(name: string): Promise<Site> {
    return this.request<Site>('GET', '/sites/' + encodeURIComponent(name));
  }

  /** One page of a site's deployments, newest first. */
  async deployments(site: string, options: PageOptions = {}): Promise<Page<Deployment>> {
    const res = await this.request<{ deployments: Deployment[]; next_cursor?: string }>(
      'GET',
      `/sites/${encodeURIComponent(site)}/deployments` + query({ limit: options.limit, cursor: options.cursor }),
    );
    return { items: res.deployments ?? [], next_cursor: res.next_cursor || undefined };
  }

  /** Makes a deployment the live one (publish, or roll back to an older one). */
  activateDeployment(site: string, id: string): Promise<Deployment> {
    return this.request<Deployment>(
      'POST',
      `/sites/${encodeURIComponent(site)}/deployments/${encodeURIComponent(id)}/activate`,
    );
  }

  /** One page of a site's domains, by hostname. */
  async domains(site: string, options: PageOptions = {}): Promise<Page<Domain>> {
    const res = await this.request<{ domains: Domain[]; next_cursor?: string }>(
      'GET',
      `/sites/${encodeURIComponent(site)}/domains` + query({ limit: options.limit, cursor: options.cursor }),
    );
    return { items: res.domains ?? [], next_cursor: res.next_cursor || undefined };
  }

  /** A site's usage series; the API's defaults (the last 24 h) when from/to are left out. */
  usage(site: string, options: { from?: string; to?: string; step?: string } = {}): Promise<Usage> {
    return this.request<Usage>(
      'GET',
      `/sites/${encodeURIComponent(site)}/usage` + query({ from: options.from, to: options.to, step: options.step }),
    );
  }

  /** One tenant by id or name. */
  tenant(ref: string): Promise<Tenant> {
    return this.request<Tenant>('GET', '/tenants/' + encodeURIComponent(ref));
  }
}

/** Builds `?a=1&b=2` from the defined values, or '' when there are none. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

/** Turns a failed answer into an ApiError, from the API's error envelope when there is one. */
export function errorFrom(status: number, statusText: string, data: unknown): ApiError {
  const env = (data as { error?: Record<string, unknown> } | undefined)?.error;
  if (env && typeof env === 'object' && typeof env.code === 'string') {
    const { code, message, ...details } = env;
    return new ApiError(status, code, typeof message === 'string' && message ? message : code, details);
  }
  const text = statusText ? `${status} ${statusText}` : String(status);
  return new ApiError(status, status === 401 ? 'unauthorized' : 'http_' + status, `The server answered ${text}.`);
}

/** The one client the pages share. */
export const api = new Api();
