// The operator's admin tokens (the console's `pier tokens create --admin`,
// `pier tokens list --admin`, `pier tokens delete`): the API calls, and
// what revoking one means for the session, kept apart from the markup so
// it can be unit tested. Admin only: the API answers a tenant 403.
import { api, query, type Page, type PageOptions } from './api';
import type { NewSiteToken, SiteToken } from './api-settings';

/** An admin token as the API lists it: never its secret. */
export type AdminToken = SiteToken;

/** The answer that creates an admin token: the only one that carries its secret. */
export type NewAdminToken = NewSiteToken;

/** One page of the admin tokens, oldest first (GET /api/v1/tokens). */
export async function adminTokens(options: PageOptions = {}): Promise<Page<AdminToken>> {
  const res = await api.request<{ tokens: AdminToken[]; next_cursor?: string }>(
    'GET',
    '/tokens' + query({ limit: options.limit, cursor: options.cursor }),
  );
  return { items: res.tokens ?? [], next_cursor: res.next_cursor || undefined };
}

/** Creates a platform-wide admin token (POST /api/v1/tokens). */
export function createAdminToken(name: string): Promise<NewAdminToken> {
  return api.request<NewAdminToken>('POST', '/tokens', { name });
}

/** What revoking a token does beyond the token itself. */
export interface RevokeRisk {
  /** The console is signed in with it: the session ends with it. */
  current: boolean;
  /** No other admin token is known to remain (the whole list is loaded and it is the only one). */
  last: boolean;
}

/**
 * What revoking target risks, given the session's token and the tokens
 * loaded so far (complete when there is no next page).
 */
export function revokeRisk(targetId: string, sessionTokenId: string | undefined, loaded: { id: string }[], complete: boolean): RevokeRisk {
  const others = loaded.filter((t) => t.id !== targetId).length;
  return { current: targetId === sessionTokenId, last: complete && others === 0 };
}

/** The revoke confirmation's sentences, most serious first. */
export function revokeLines(name: string, risk: RevokeRisk): string[] {
  const lines: string[] = [];
  if (risk.current) {
    lines.push(`You are signed in with “${name}”: revoking it signs this console out at once, and you need another admin token to sign in again.`);
  }
  if (risk.last) {
    lines.push(
      'It is the last admin token. Without one, nobody can manage the platform until pier serve restarts and writes a new bootstrap token to admin.token in its data directory.',
    );
  }
  lines.push('Every CLI, script and console session that uses it gets “unauthorized” from now on. This cannot be undone.');
  return lines;
}

/** The confirm button's label: says so when it ends the session. */
export function revokeLabel(risk: RevokeRisk): string {
  return risk.current ? 'Revoke and sign out' : 'Revoke token';
}
