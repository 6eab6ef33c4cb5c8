// Go's path.Match, ported line by line (go/src/path/match.go) so that
// .assetsignore patterns and the secret-name list mean in the console
// exactly what they mean to `pier deploy` (cmd/pier/ignore.go). Strings
// are compared as arrays of code points, as Go decodes runes.

/** Thrown for a malformed pattern, as Go's path.ErrBadPattern. */
export class BadPatternError extends Error {
  constructor() {
    super('syntax error in pattern');
    this.name = 'BadPatternError';
  }
}

type Chars = string[];

/** Reports whether name matches the shell pattern (`*`, `?`, `[a-z]`, `\` escapes; `*` and `?` never match `/`). */
export function match(pattern: string, name: string): boolean {
  let pat: Chars = Array.from(pattern);
  let s: Chars = Array.from(name);
  outer: while (pat.length > 0) {
    const [star, chunk, rest] = scanChunk(pat);
    pat = rest;
    if (star && chunk.length === 0) {
      // A trailing * matches the rest of the string unless it has a /.
      return !s.includes('/');
    }
    const r = matchChunk(chunk, s);
    if (r !== undefined && (r.length === 0 || pat.length > 0)) {
      s = r;
      continue;
    }
    if (star) {
      // Look for a match skipping i+1 characters; cannot skip /.
      for (let i = 0; i < s.length && s[i] !== '/'; i++) {
        const t = matchChunk(chunk, s.slice(i + 1));
        if (t !== undefined) {
          if (pat.length === 0 && t.length > 0) continue;
          s = t;
          continue outer;
        }
      }
    }
    // Before answering false, check that the rest of the pattern is well formed.
    while (pat.length > 0) {
      const [, c, r2] = scanChunk(pat);
      pat = r2;
      matchChunk(c, []);
    }
    return false;
  }
  return s.length === 0;
}

/** Checks a pattern's syntax (Go: `path.Match(p, "")` returning ErrBadPattern). */
export function validPattern(pattern: string): boolean {
  try {
    match(pattern, '');
    return true;
  } catch (err) {
    if (err instanceof BadPatternError) return false;
    throw err;
  }
}

function scanChunk(pattern: Chars): [boolean, Chars, Chars] {
  let star = false;
  while (pattern.length > 0 && pattern[0] === '*') {
    pattern = pattern.slice(1);
    star = true;
  }
  let inrange = false;
  let i = 0;
  scan: for (i = 0; i < pattern.length; i++) {
    switch (pattern[i]) {
      case '\\':
        if (i + 1 < pattern.length) i++;
        break;
      case '[':
        inrange = true;
        break;
      case ']':
        inrange = false;
        break;
      case '*':
        if (!inrange) break scan;
        break;
    }
  }
  return [star, pattern.slice(0, i), pattern.slice(i)];
}

/** Matches chunk against the start of s: the rest of s, or undefined when it does not match. Throws BadPatternError. */
function matchChunk(chunk: Chars, s: Chars): Chars | undefined {
  let failed = false;
  while (chunk.length > 0) {
    if (!failed && s.length === 0) failed = true;
    switch (chunk[0]) {
      case '[': {
        let r = '';
        if (!failed) {
          r = s[0];
          s = s.slice(1);
        }
        chunk = chunk.slice(1);
        let negated = false;
        if (chunk.length > 0 && chunk[0] === '^') {
          negated = true;
          chunk = chunk.slice(1);
        }
        let matched = false;
        let nrange = 0;
        for (;;) {
          if (chunk.length > 0 && chunk[0] === ']' && nrange > 0) {
            chunk = chunk.slice(1);
            break;
          }
          let lo: string;
          [lo, chunk] = getEsc(chunk);
          let hi = lo;
          if (chunk[0] === '-') {
            [hi, chunk] = getEsc(chunk.slice(1));
          }
          const cp = r === '' ? -1 : r.codePointAt(0)!;
          if (lo.codePointAt(0)! <= cp && cp <= hi.codePointAt(0)!) matched = true;
          nrange++;
        }
        if (matched === negated) failed = true;
        break;
      }
      case '?':
        if (!failed) {
          if (s[0] === '/') failed = true;
          s = s.slice(1);
        }
        chunk = chunk.slice(1);
        break;
      case '\\':
        chunk = chunk.slice(1);
        if (chunk.length === 0) throw new BadPatternError();
      // falls through
      default:
        if (!failed) {
          if (chunk[0] !== s[0]) failed = true;
          s = s.slice(1);
        }
        chunk = chunk.slice(1);
    }
  }
  return failed ? undefined : s;
}

function getEsc(chunk: Chars): [string, Chars] {
  if (chunk.length === 0 || chunk[0] === '-' || chunk[0] === ']') throw new BadPatternError();
  if (chunk[0] === '\\') {
    chunk = chunk.slice(1);
    if (chunk.length === 0) throw new BadPatternError();
  }
  const r = chunk[0];
  const next = chunk.slice(1);
  if (next.length === 0) throw new BadPatternError();
  return [r, next];
}
