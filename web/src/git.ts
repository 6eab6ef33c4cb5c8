// The logic of a site's git side in the console: branch names (the
// server's rules, tenants.ValidBranchName, checked before asking) and the
// commands that publish with git push. Pure functions, unit-tested in
// git.test.ts.
import { shellQuote } from './settings';

/** The longest branch name Pier accepts (tenants.MaxBranchName). */
export const MAX_BRANCH_NAME = 200;

/** The name of the remote the console's commands add. */
export const REMOTE_NAME = 'pier';

/**
 * Why name cannot be a site's production branch, or '' when it can: what
 * git check-ref-format allows, narrowed to printable ASCII without spaces,
 * at most MAX_BRANCH_NAME characters (tenants.ValidBranchName; the server
 * checks again).
 */
export function branchNameError(name: string): string {
  if (name === '') return 'Name the branch whose pushes go live, such as main.';
  if (name.length > MAX_BRANCH_NAME) return `A branch name may be at most ${MAX_BRANCH_NAME} characters long.`;
  for (const c of name) {
    const code = c.codePointAt(0)!;
    if (code <= 0x20 || code >= 0x7f) return 'A branch name may not contain spaces, control characters or non-ASCII letters.';
    if ('~^:?*[\\'.includes(c)) return `A branch name may not contain “${c}”.`;
  }
  const rules: [boolean, string][] = [
    [name === '@', 'A branch may not be named “@”.'],
    [name.startsWith('-'), 'A branch name may not start with “-”.'],
    [name.startsWith('/') || name.endsWith('/') || name.includes('//'), 'A branch name may not start or end with “/”, or contain “//”.'],
    [name.includes('..'), 'A branch name may not contain “..”.'],
    [name.includes('@{'), 'A branch name may not contain “@{”.'],
    [name.endsWith('.'), 'A branch name may not end with “.”.'],
    [name.split('/').some((part) => part.startsWith('.')), 'No part of a branch name may start with “.”.'],
    [name.split('/').some((part) => part.endsWith('.lock')), 'No part of a branch name may end with “.lock”.'],
  ];
  return rules.find(([bad]) => bad)?.[1] ?? '';
}

/** The commands that add the site's remote and publish its production branch, ready to paste. */
export function gitCommands(remote: string, branch: string): string[] {
  return [`git remote add ${REMOTE_NAME} ${shellQuote(remote)}`, `git push ${REMOTE_NAME} ${shellQuote(branch)}`];
}
