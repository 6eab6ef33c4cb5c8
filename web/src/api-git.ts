// The API calls of a site's git side (docs/api.md): its remote and
// branches, and setting its production branch. They go through the shared
// client, so the session cookie and the CSRF header come with them.
import { api, type Site } from './api';

/** One branch of a site's repository, as GET /sites/{site}/git lists it. */
export interface GitBranch {
  /** The branch, without refs/heads/. */
  name: string;
  /** The commit it points at (40 hex digits). */
  commit: string;
  /** The deployment its latest push made or reused. */
  deployment: string;
  /** The branch alias label: `<alias>--<site>.<domain>` serves the branch's latest push. */
  alias?: string;
  /** The alias host's URL; null for a branch without one (the production branch). */
  url: string | null;
  production: boolean;
}

/** GET /sites/{site}/git: how to push, and what was pushed. */
export interface SiteGit {
  /** The clone URL; absent when the server does not accept git pushes. */
  remote?: string;
  production_branch: string;
  /** The production branch first, then by name. */
  branches: GitBranch[];
}

const sitePart = (site: string) => '/sites/' + encodeURIComponent(site);

/** A site's git remote, production branch and branches. */
export async function siteGit(site: string): Promise<SiteGit> {
  const g = await api.request<SiteGit>('GET', sitePart(site) + '/git');
  return { ...g, branches: g.branches ?? [] };
}

/** Sets the git branch whose pushes go live (400 `invalid` with field `production_branch` for a bad name). */
export function setProductionBranch(site: string, branch: string): Promise<Site> {
  return api.request<Site>('PATCH', sitePart(site), { production_branch: branch });
}
