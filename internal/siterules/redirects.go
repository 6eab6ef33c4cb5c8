package siterules

import (
	"net/url"
	"path"
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
	static  map[string]staticRule // literal source path → its rule
	dynamic []*redirectRule       // rules with * or :placeholder, in file order
	index   ruleIndex             // of dynamic
}

// staticRule is a rule with a literal source and the number of dynamic
// rules above it in the file, which take precedence over it.
type staticRule struct {
	rule  *redirectRule
	after int
}

type redirectRule struct {
	line     int
	source   string
	pat      *pattern // nil for a static rule
	to       template // the destination up to any '#'
	fragment template // the destination's "#fragment", if any
	fixed    string   // the whole destination when it has no placeholder
	status   int
	external bool // the destination is an absolute URL
	hasQuery bool // the destination has its own query string
}

// maxRedirectHops is how long a chain of redirects within the site may be
// before ParseRedirects calls it a loop; browsers give up after 20.
const maxRedirectHops = 20

// ParseRedirects parses and validates a _redirects file; the error is a
// *ParseError naming the first bad line.
//
// Each non-blank line that does not start with '#' is a rule
//
//	source destination [status]  [# comment]
//
// separated by spaces or tabs. source is a path pattern (see the package
// doc). destination is a site-relative path starting with "/" or an
// absolute http(s) URL, may carry a query string and a fragment, and may
// use the source's :placeholders and :splat (the value of *). status is
// 301, 302 (the default), 303, 307, 308 or 200; 200 is a rewrite, whose
// destination must be a site-relative path (Cloudflare does not proxy to
// other hosts and neither does Pier).
//
// # Notes
//
//   - The first rule in file order that matches wins, which is what
//     Cloudflare's engine answers: it keeps the static rules (no * and no
//     placeholder) above the first dynamic rule in a map it reads first,
//     and tries the rest in file order. Pier looks every static rule up in
//     one map and only tries the dynamic rules above it before answering
//     it, so a static rule below a pattern costs no more than one above.
//     A static rule below a dynamic one therefore counts against
//     MaxStaticRedirects; Cloudflare counts it against MaxDynamicRedirects.
//   - Paths are compared exactly, as in Cloudflare: a rule for /a does not
//     match /a/ (write both, or use /a/*, if both forms are in use).
//   - Where Cloudflare skips a bad rule with a warning, Pier rejects the
//     file: a line without two or three fields, an unknown status (including Netlify's
//     forced "200!"), a second rule for the same source, a full-URL source
//     ("https://host/path"; the edge has already chosen the site by host),
//     a source with a query string (Cloudflare drops it and would match
//     every query), a 200 rewrite to another host, and a limit exceeded.
//   - Loops are rejected: a redirect chain within the site that comes back
//     to a path it visited or is longer than 20 redirects, checked on a
//     sample path of each rule (/a /a, /a /b + /b /a, /blog/* /blog/new/:splat);
//     and, as in Cloudflare, any rule from a /* or a path ending in / to a
//     destination ending in /index or /index.html, which the edge's
//     html_handling sends straight back (use not_found_handling =
//     "single-page-application" for a single-page app rather than
//     "/* /index.html 200").
func ParseRedirects(text string) (*Redirects, error) {
	r := &Redirects{}
	var nStatic int
	var all []*redirectRule
	lines := make(map[string]int) // source → line of its rule
	err := eachLine(redirectsFile, text, func(line int, s string) *ParseError {
		fail := func(msg string) *ParseError { return &ParseError{File: redirectsFile, Line: line, Msg: msg} }
		var f [3]string
		n := 0
		for rest := s; rest != "" && rest[0] != '#'; n++ {
			i := strings.IndexAny(rest, " \t")
			if i < 0 {
				i = len(rest)
			}
			if n == len(f) {
				return fail("too many fields: want \"source destination [status]\"")
			}
			f[n] = rest[:i]
			rest = strings.TrimLeft(rest[i:], " \t")
		}
		if n < 2 {
			return fail("missing destination: want \"source destination [status]\"")
		}
		rule, msg := compileRedirect(f[0], f[1], f[2])
		if msg != "" {
			return fail(msg)
		}
		rule.line = line
		if first, dup := lines[rule.source]; dup {
			return fail("duplicate rule for " + strconv.Quote(rule.source) + " (first on line " + strconv.Itoa(first) + ")")
		}
		lines[rule.source] = line
		if rule.pat == nil {
			nStatic++
			if nStatic > MaxStaticRedirects {
				return fail("too many static redirects (limit " + strconv.Itoa(MaxStaticRedirects) + ")")
			}
			if r.static == nil {
				r.static = make(map[string]staticRule)
			}
			r.static[rule.source] = staticRule{rule: rule, after: len(r.dynamic)}
		} else {
			if len(r.dynamic) == MaxDynamicRedirects {
				return fail("too many dynamic redirects with * or :placeholder (limit " + strconv.Itoa(MaxDynamicRedirects) + ")")
			}
			r.dynamic = append(r.dynamic, rule)
		}
		all = append(all, rule)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sources := make([]string, len(r.dynamic))
	for i, rule := range r.dynamic {
		sources[i] = rule.source
	}
	r.index = newRuleIndex(sources)
	for _, rule := range all {
		if msg, line := r.loop(rule); msg != "" {
			return nil, &ParseError{File: redirectsFile, Line: line, Msg: msg}
		}
	}
	return r, nil
}

// compileRedirect validates and compiles one rule; msg is non-empty on
// error.
func compileRedirect(source, dest, code string) (rule *redirectRule, msg string) {
	status := 302
	if code != "" {
		switch code {
		case "200", "301", "302", "303", "307", "308":
			status, _ = strconv.Atoi(code)
		default:
			if strings.HasSuffix(code, "!") {
				return nil, "forced rules (" + strconv.Quote(code) + ") are not supported: rules always apply, even where an asset exists"
			}
			return nil, "invalid status " + strconv.Quote(code) + ": want 301, 302, 303, 307, 308 or 200"
		}
	}
	if i := strings.IndexByte(source, '#'); i >= 0 {
		source = source[:i]
	}
	switch {
	case strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://"):
		return nil, "source " + strconv.Quote(source) + " is a URL: sources are paths starting with /, which match on every hostname of the site"
	case !strings.HasPrefix(source, "/"):
		return nil, "source " + strconv.Quote(source) + " must start with /"
	case strings.IndexByte(source, '?') >= 0:
		return nil, "source " + strconv.Quote(source) + " must not contain a query string"
	}
	if bad := badByte(source); bad != "" {
		return nil, "source contains " + bad
	}
	if bad := badByte(dest); bad != "" {
		return nil, "destination contains " + bad
	}
	external := strings.HasPrefix(dest, "http://") || strings.HasPrefix(dest, "https://")
	switch {
	case external && status == 200:
		return nil, "a 200 rewrite must have a site-relative destination starting with / (proxying to another host is not supported)"
	case external:
		if host := dest[strings.IndexByte(dest, ':')+3:]; host == "" || strings.IndexByte("/?#", host[0]) >= 0 {
			return nil, "destination " + strconv.Quote(dest) + " has no host"
		}
	case strings.HasPrefix(dest, "//"):
		return nil, "destination " + strconv.Quote(dest) + " must be a path starting with a single / or an http(s) URL"
	case !strings.HasPrefix(dest, "/"):
		return nil, "destination " + strconv.Quote(dest) + " must be a path starting with / or an http(s) URL"
	}
	pat, err := compilePattern(source)
	if err != nil {
		return nil, "source " + strconv.Quote(source) + ": " + err.Error()
	}
	source = pat.source
	rule = &redirectRule{source: source, status: status, external: external}
	if pat.dynamic() {
		rule.pat = pat
	}
	beforeFragment, fragment := dest, ""
	if i := strings.IndexByte(dest, '#'); i >= 0 {
		beforeFragment, fragment = dest[:i], dest[i:]
	}
	rule.to, rule.fragment = compileTemplate(beforeFragment, pat, urlTemplate), compileTemplate(fragment, pat, urlTemplate)
	if rule.to.literal() && rule.fragment.literal() {
		rule.fixed = dest
	}
	destPath := beforeFragment
	if i := strings.IndexByte(destPath, '?'); i >= 0 {
		rule.hasQuery = true
		destPath = destPath[:i]
	}
	if splat := compileTemplate(dest, &pattern{names: []string{"splat"}}, urlTemplate); pat.splat < 0 && !splat.literal() {
		return nil, "destination uses :splat but the source has no *"
	}
	if !external && (strings.HasSuffix(destPath, "/index") || strings.HasSuffix(destPath, "/index.html")) &&
		(strings.HasSuffix(source, "/*") || strings.HasSuffix(source, "/")) {
		return nil, "rule would loop: the edge serves " + destPath + " at its directory URL, which this rule matches again" +
			" (for a single-page app use not_found_handling = \"single-page-application\")"
	}
	return rule, ""
}

// loop follows the redirects from a sample path the rule matches and
// describes the loop they run into, with the line of the rule that closes
// it, or returns "".
func (r *Redirects) loop(rule *redirectRule) (string, int) {
	if rule.status == 200 || rule.external {
		return "", 0
	}
	cur := rule.source
	if rule.pat != nil {
		cur = rule.pat.sample()
	}
	var caps captures
	if r.find(cur, &caps) != rule {
		return "", 0 // an earlier rule answers the sample path
	}
	seen := []string{cur}
	for hop := 0; ; hop++ {
		next := r.find(cur, &caps)
		if next == nil || next.status == 200 || next.external {
			return "", 0
		}
		to := next.redirect(&caps, "").To
		if i := strings.IndexAny(to, "?#"); i >= 0 {
			to = to[:i]
		}
		to, err := url.PathUnescape(to)
		if err != nil {
			return "", 0
		}
		if strings.Contains(to, "/.") {
			// Browsers resolve dot segments before following the redirect.
			slash := strings.HasSuffix(to, "/")
			if to = path.Clean(to); slash && to != "/" {
				to += "/"
			}
		}
		for _, p := range seen {
			if p == to {
				return "redirect loop: " + chain(append(seen, to)), next.line
			}
		}
		if hop == maxRedirectHops {
			return "redirect chain does not end: " + chain(seen) + " (more than " + strconv.Itoa(maxRedirectHops) + " redirects)", next.line
		}
		seen = append(seen, to)
		cur = to
	}
}

// chain describes a redirect chain for an error message, eliding the middle
// of a long one.
func chain(paths []string) string {
	if len(paths) > 5 {
		paths = append(paths[:2:2], "…", paths[len(paths)-2], paths[len(paths)-1])
	}
	return strings.Join(paths, " → ")
}

// badByte describes the first control character in s, or "".
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
	if rule := r.find(path, &caps); rule != nil {
		return rule.redirect(&caps, rawQuery), true
	}
	return Redirect{}, false
}

// find returns the first rule in file order matching path, filling caps.
func (r *Redirects) find(path string, caps *captures) *redirectRule {
	st, ok := r.static[path]
	if !ok {
		st.after = len(r.dynamic)
	} else if st.after == 0 {
		return st.rule
	}
	c := r.index.candidates(path)
	for i := c.next(); i >= 0 && i < st.after; i = c.next() {
		if rule := r.dynamic[i]; rule.pat.match(path, caps) {
			return rule
		}
	}
	return st.rule
}

func (rule *redirectRule) redirect(caps *captures, rawQuery string) Redirect {
	appendQuery := rawQuery != "" && !rule.hasQuery
	if rule.fixed != "" && !appendQuery {
		return Redirect{Status: rule.status, To: rule.fixed}
	}
	n := rule.to.size + rule.fragment.size
	for _, t := range [2]*template{&rule.to, &rule.fragment} {
		for _, pt := range t.parts {
			if pt.capture >= 0 {
				n += len(caps[pt.capture])
			}
		}
	}
	if appendQuery {
		n += 1 + len(rawQuery)
	}
	var b strings.Builder
	b.Grow(n)
	rule.to.expand(&b, caps)
	if appendQuery {
		b.WriteByte('?')
		b.WriteString(rawQuery)
	}
	rule.fragment.expand(&b, caps)
	return Redirect{Status: rule.status, To: b.String()}
}

// Len returns the number of rules in the file.
func (r *Redirects) Len() int {
	if r == nil {
		return 0
	}
	return len(r.static) + len(r.dynamic)
}

// eachLine calls fn with every line of text that is neither blank nor a
// comment (first non-blank character '#'), trimmed of surrounding
// whitespace, and its 1-based number. It ignores a leading UTF-8 byte order
// mark and rejects rules longer than MaxLineLength bytes (comments may be
// longer, as in Cloudflare).
func eachLine(file, text string, fn func(line int, s string) *ParseError) error {
	text = strings.TrimPrefix(text, "\ufeff")
	for n := 1; text != ""; n++ {
		s := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			s, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		s = strings.TrimSpace(s)
		if s == "" || s[0] == '#' {
			continue
		}
		if len(s) > MaxLineLength {
			return &ParseError{File: file, Line: n, Msg: "line is longer than " + strconv.Itoa(MaxLineLength) + " bytes"}
		}
		if err := fn(n, s); err != nil {
			return err
		}
	}
	return nil
}
