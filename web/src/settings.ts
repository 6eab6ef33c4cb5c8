// The logic of a site's settings page: typed confirmations, token names,
// and the CLI line a new deploy token comes with.

/** The most bytes of UTF-8 a token's name may have (the API's limit). */
export const MAX_TOKEN_NAME = 200;

/**
 * Whether what the user typed confirms a destructive action on `expected`
 * (a site's or tenant's name): exactly that name, case and all, with only
 * surrounding spaces forgiven. An empty expected name never matches.
 */
export function typedMatches(typed: string, expected: string): boolean {
  return expected !== '' && typed.trim() === expected;
}

/** Why a token name would be refused, or '' when it is fine. */
export function tokenNameError(name: string): string {
  if (name.trim() === '') return 'Give the token a name that says where it is used, such as “GitHub Actions”.';
  if (new TextEncoder().encode(name).length > MAX_TOKEN_NAME) {
    return `A token name may be at most ${MAX_TOKEN_NAME} bytes long.`;
  }
  return '';
}

/**
 * The command that deploys a folder to site with a new token, ready to
 * paste in a terminal or a CI step: `PIER_TOKEN=… pier deploy ./dist
 * --site S --api ORIGIN`. Values that a shell would split or expand are
 * single-quoted.
 */
export function deployCommand(secret: string, site: string, origin: string, dir = './dist'): string {
  return `PIER_TOKEN=${shellQuote(secret)} pier deploy ${shellQuote(dir)} --site ${shellQuote(site)} --api ${shellQuote(origin)}`;
}

/** s as one shell word: as it is when it is plain, else in single quotes. */
export function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_\-./:@%+=,]+$/.test(s)) return s;
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}
