// Package siterules owns the two per-deployment rule files a site may ship
// at its asset root, _redirects and _headers, in the syntax of Cloudflare
// Pages / Workers static assets (Netlify's where Cloudflare is silent).
//
// It parses and validates them once (admin calls ParseRedirects and
// ParseHeaders at deploy and answers 400 with the *ParseError's line), and
// applies the compiled rules on the edge's hot path (hosting calls
// Redirects.Match and Headers.Apply per request). Both compiled forms are
// immutable and safe for concurrent use; a non-matching Match or Apply does
// not allocate.
//
// Imported by admin and hosting. It imports only the standard library.
//
// # Path patterns
//
// Both files match request paths with the same pattern syntax, compiled
// once so that matching is linear in the path length:
//
//   - a literal path such as /about or /docs/index.html matches exactly:
//     case-sensitive, and a trailing slash counts (/a does not match /a/);
//   - :name matches a non-empty part of one path segment, so /blog/:slug
//     matches /blog/hello but not /blog/ or /blog/a/b; a segment holds at
//     most one placeholder, possibly with literal text around it
//     (/post-:id.html); name is a letter followed by letters, digits or
//     underscores;
//   - one * matches any run of characters, slashes included, possibly
//     empty (greedy); its value is :splat. /blog/* matches /blog/ and
//     /blog/a/b but not /blog.
//
// Patterns are compared with the decoded request path (hosting passes
// r.URL.Path), so percent-encoded bytes in a pattern are decoded at parse
// time: /caf%C3%A9 and /café are the same pattern.
//
// Patterns are paths, never absolute URLs: Pier's rules are per site, the
// edge has already picked the site by host, and a host-specific rule would
// silently never match on the site's other hostnames. Such lines are
// rejected with a *ParseError instead of being ignored.
package siterules

import "strconv"

// Limits on the rule files, as Cloudflare documents them.
const (
	MaxStaticRedirects  = 2000 // _redirects rules without * or :placeholder
	MaxDynamicRedirects = 100  // _redirects rules with * or :placeholder
	MaxHeaderRules      = 100  // _headers blocks (URL pattern lines)
	MaxLineLength       = 2000 // bytes per line in either file, newline excluded
)

// File names carried by ParseError.File.
const (
	redirectsFile = "_redirects"
	headersFile   = "_headers"
)

// ParseError names the file and line of the first problem in a rule file.
type ParseError struct {
	File string // "_redirects" or "_headers"
	Line int    // 1-based
	Msg  string // lowercase, safe to show the tenant
}

// Error returns e.g. `_redirects line 3: invalid status "404"`.
func (e *ParseError) Error() string {
	return e.File + " line " + strconv.Itoa(e.Line) + ": " + e.Msg
}
