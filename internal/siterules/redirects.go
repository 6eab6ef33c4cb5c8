package siterules

import (
	"strconv"
	"strings"
)

// Redirect is the outcome of a matching _redirects rule.
type Redirect struct {
	// Status is 301, 302, 303, 307 or 308 for a redirect (To goes in the
	// Location header), or 200 for an internal rewrite.
	Status int
	// To is a URL reference: an absolute http(s) URL, or a site-relative
	// path starting with "/" (always the latter for status 200), optionally
	// followed by "?query" and "#fragment". Values captured from the
	// request path are percent-encoded, so url.Parse(To).Path is the
	// decoded path to serve for a rewrite.
	To string
}

// Redirects is a compiled _redirects file. The zero value and nil match
// nothing. It is immutable and safe for concurrent use.
type Redirects struct {
	static  map[string]*redirectRule // literal source path → first rule
	dynamic []redirectRule           // rules with * or :placeholder, in file order
	n       int                      // rules in the file, duplicates included
}

type redirectRule struct {
	pat      *pattern // nil for a static rule
	to       template
	status   int
	hasQuery bool // the destination has its own query string
}

// ParseRedirects parses and validates a _redirects file; the error is a
// *ParseError naming the first bad line.
//
// Each non-blank line that does not start with '#' is a rule
//
//	source destination [status]
//
// separated by spaces or tabs. source is a path pattern (see the package
// doc). destination is a site-relative path starting with "/" or an
// absolute http(s) URL, and may use the source's :placeholders and :splat
// (the value of *). status is 301, 302 (the default), 303, 307, 308 or 200;
// 200 is a rewrite, whose destination must be a site-relative path
// (Cloudflare does not proxy to other hosts and neither does Pier).
//
// # Notes
//
//   - Matching follows Cloudflare: static rules (no * and no placeholder)
//     are looked up first, in one map lookup, then dynamic rules are tried
//     in file order. The first of several rules with the same static source
//     wins. Paths are compared exactly: a rule for /a does not match /a/
//     (Cloudflare does not normalise trailing slashes; write both rules, or
//     one with a placeholder, if both forms are in use).
//   - A source must be a path: full-URL sources ("https://host/path", which
//     Cloudflare accepts) are rejected, because the edge has already
//     chosen the site by host and such a rule would never match on another
//     of the site's hostnames. A source may not carry a query string (it
//     would never match); a "#fragment" in it is ignored, as browsers never
//     send one.
//   - Netlify extensions (forced "200!", 404 rewrites, proxying, country or
//     role conditions) are errors rather than silently ignored rules.
//   - A redirect whose destination is its own source (/a /a, or
//     /blog/* /blog/:splat) would loop forever and is an error.
func ParseRedirects(text string) (*Redirects, error) {
	r := &Redirects{}
	var nStatic, nDynamic int
	err := eachLine(redirectsFile, text, func(line int, s string) *ParseError {
		s = strings.TrimSpace(s)
		if s == "" || s[0] == '#' {
			return nil
		}
		fail := func(msg string) *ParseError { return &ParseError{File: redirectsFile, Line: line, Msg: msg} }
		var f [4]string
		n := 0
		for rest := s; rest != ""; {
			i := strings.IndexAny(rest, " \t")
			if i < 0 {
				i = len(rest)
			}
			if n == len(f) {
				return fail("too many fields: want \"source destination [status]\"")
			}
			f[n] = rest[:i]
			n++
			rest = strings.TrimLeft(rest[i:], " \t")
		}
		if n < 2 {
			return fail("missing destination: want \"source destination [status]\"")
		}
		if n > 3 {
			return fail("too many fields: want \"source destination [status]\"")
		}
		rule, static, msg := compileRedirect(f[0], f[1], f[2])
		if msg != "" {
			return fail(msg)
		}
		if static != "" {
			nStatic++
			if nStatic > MaxStaticRedirects {
				return fail("too many static redirects (limit " + strconv.Itoa(MaxStaticRedirects) + ")")
			}
			if r.static == nil {
				r.static = make(map[string]*redirectRule)
			}
			if _, dup := r.static[static]; !dup {
				r.static[static] = rule
			}
		} else {
			nDynamic++
			if nDynamic > MaxDynamicRedirects {
				return fail("too many dynamic redirects (limit " + strconv.Itoa(MaxDynamicRedirects) + ")")
			}
			r.dynamic = append(r.dynamic, *rule)
		}
		r.n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// compileRedirect validates and compiles one rule. static is the source
// path of a static rule ("" for a dynamic one); msg is non-empty on error.
func compileRedirect(source, dest, code string) (rule *redirectRule, static, msg string) {
	status := 302
	if code != "" {
		switch code {
		case "200", "301", "302", "303", "307", "308":
			status, _ = strconv.Atoi(code)
		default:
			if strings.HasSuffix(code, "!") {
				return nil, "", "forced rules (" + strconv.Quote(code) + ") are not supported: redirects always apply"
			}
			return nil, "", "invalid status " + strconv.Quote(code) + ": want 301, 302, 303, 307, 308 or 200"
		}
	}
	if i := strings.IndexByte(source, '#'); i >= 0 {
		source = source[:i]
	}
	switch {
	case strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://"):
		return nil, "", "source " + strconv.Quote(source) + " is a URL: sources are paths starting with /, which match on every hostname of the site"
	case !strings.HasPrefix(source, "/"):
		return nil, "", "source " + strconv.Quote(source) + " must start with /"
	case strings.IndexByte(source, '?') >= 0:
		return nil, "", "source " + strconv.Quote(source) + " must not contain a query string"
	}
	if bad := badByte(source); bad != "" {
		return nil, "", "source contains " + bad
	}
	if bad := badByte(dest); bad != "" {
		return nil, "", "destination contains " + bad
	}
	external := strings.HasPrefix(dest, "http://") || strings.HasPrefix(dest, "https://")
	switch {
	case external && status == 200:
		return nil, "", "a 200 rewrite must have a site-relative destination starting with / (proxying to another host is not supported)"
	case external:
		if host := dest[strings.IndexByte(dest, ':')+3:]; host == "" || strings.IndexByte("/?#", host[0]) >= 0 {
			return nil, "", "destination " + strconv.Quote(dest) + " has no host"
		}
	case strings.HasPrefix(dest, "//"):
		return nil, "", "destination " + strconv.Quote(dest) + " must be a path starting with a single / or an http(s) URL"
	case !strings.HasPrefix(dest, "/"):
		return nil, "", "destination " + strconv.Quote(dest) + " must be a path starting with / or an http(s) URL"
	}
	pat, err := compilePattern(source)
	if err != nil {
		return nil, "", "source " + strconv.Quote(source) + ": " + err.Error()
	}
	rule = &redirectRule{pat: pat, status: status, to: compileTemplate(dest, pat)}
	destPath := dest
	if i := strings.IndexAny(destPath, "?#"); i >= 0 {
		rule.hasQuery = destPath[i] == '?'
		destPath = destPath[:i]
	}
	if !external && status != 200 && sameTarget(pat, source, destPath) {
		return nil, "", "redirect from " + strconv.Quote(source) + " to itself would loop forever"
	}
	if !pat.dynamic() {
		rule.pat = nil
		return rule, source, ""
	}
	return rule, "", ""
}

// sameTarget reports whether the destination path sends every request the
// source matches back to the same path: it is the source with each
// placeholder and the splat referenced in place.
func sameTarget(p *pattern, source, destPath string) bool {
	if !p.dynamic() {
		return source == destPath
	}
	var b strings.Builder
	for i := 0; i < len(destPath); i++ {
		c := destPath[i]
		if c == ':' && i+1 < len(destPath) && isNameStart(destPath[i+1]) {
			n := i + 1
			for n < len(destPath) && isNameByte(destPath[n]) {
				n++
			}
			if name := destPath[i+1 : n]; name == "splat" && p.splat >= 0 {
				b.WriteByte('*')
				i = n - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String() == source
}

// badByte describes the first control character or space in s, or "".
func badByte(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return "control character " + strconv.QuoteRune(rune(c))
		}
	}
	return ""
}

// Match finds the rule matching the request path (decoded, absolute) and
// raw query (without '?'). To is the destination with placeholders and
// :splat substituted; when the rule's destination has no query string the
// request's raw query is appended (before any #fragment), so query strings
// are kept. Status 200 means an internal rewrite: To is then a site-relative
// path the edge serves instead. Match does not allocate when nothing
// matches.
func (r *Redirects) Match(path, rawQuery string) (Redirect, bool) {
	if r == nil {
		return Redirect{}, false
	}
	var caps captures
	if rule, ok := r.static[path]; ok {
		return rule.redirect(&caps, rawQuery), true
	}
	for i := range r.dynamic {
		rule := &r.dynamic[i]
		if rule.pat.match(path, &caps) {
			return rule.redirect(&caps, rawQuery), true
		}
	}
	return Redirect{}, false
}

func (rule *redirectRule) redirect(caps *captures, rawQuery string) Redirect {
	var b strings.Builder
	b.Grow(rule.to.size + len(rawQuery) + 16)
	rule.to.expand(&b, caps, false)
	to := b.String()
	if rawQuery != "" && !rule.hasQuery {
		if i := strings.IndexByte(to, '#'); i >= 0 {
			to = to[:i] + "?" + rawQuery + to[i:]
		} else {
			to += "?" + rawQuery
		}
	}
	return Redirect{Status: rule.status, To: to}
}

// Len returns the number of rules in the file, duplicates included.
func (r *Redirects) Len() int {
	if r == nil {
		return 0
	}
	return r.n
}

// eachLine calls fn with every line of text and its 1-based number. It
// strips a leading UTF-8 byte order mark and a trailing '\r' (CRLF files)
// and rejects lines longer than MaxLineLength.
func eachLine(file, text string, fn func(line int, s string) *ParseError) error {
	text = strings.TrimPrefix(text, "\ufeff")
	for n := 1; text != ""; n++ {
		s := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			s, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		s = strings.TrimSuffix(s, "\r")
		if len(s) > MaxLineLength {
			return &ParseError{File: file, Line: n, Msg: "line is longer than " + strconv.Itoa(MaxLineLength) + " bytes"}
		}
		if err := fn(n, s); err != nil {
			return err
		}
	}
	return nil
}
