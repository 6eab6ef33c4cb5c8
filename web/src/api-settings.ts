// The API calls of a site's settings page (docs/api.md): the site's
// deploy tokens and deleting the site. They go through the shared client,
// so the session cookie and the CSRF header come with them.
import { api, query, type Page, type PageOptions } from './api';

/** A token as the API lists it: never its secret. */
export interface SiteToken {
  id: string;
  tenant_id?: string;
  /** Set for a site token. */
  site_id?: string;
  /** The site's name, in the answers about one site's tokens. */
  site?: string;
  name: string;
  created_at: string;
}

/** The answer that creates a token: the only one that carries its secret. */
export interface NewSiteToken extends SiteToken {
  /** The secret (`pier_…`). Show it once; it cannot be read again. */
  token: string;
}

const sitePart = (site: string) => '/sites/' + encodeURIComponent(site);

/** One page of a site's tokens, oldest first (403 `site_token_forbidden` for a site token). */
export async function siteTokens(site: string, options: PageOptions = {}): Promise<Page<SiteToken>> {
  const res = await api.request<{ tokens: SiteToken[]; next_cursor?: string }>(
    'GET',
    sitePart(site) + '/tokens' + query({ limit: options.limit, cursor: options.cursor }),
  );
  return { items: res.tokens ?? [], next_cursor: res.next_cursor || undefined };
}

/** Creates a site token: the site's tenant restricted to this one site. */
export function createSiteToken(site: string, name: string): Promise<NewSiteToken> {
  return api.request<NewSiteToken>('POST', sitePart(site) + '/tokens', { name });
}

/** Revokes a token by id: it stops working at once. */
export async function revokeToken(id: string): Promise<void> {
  await api.request<void>('DELETE', '/tokens/' + encodeURIComponent(id));
}

/** Deletes a site with its deployments, domains and tokens. */
export async function deleteSite(site: string): Promise<void> {
  await api.request<void>('DELETE', sitePart(site));
}
