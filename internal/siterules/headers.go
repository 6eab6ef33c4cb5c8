package siterules

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Headers is a compiled _headers file. The zero value and nil apply
// nothing. It is immutable and safe for concurrent use.
type Headers struct {
	rules []headerRule // in file order
	index ruleIndex    // of rules
}

// headerRule is one block: a URL pattern and the header lines below it.
type headerRule struct {
	path string   // the pattern of a static rule, matched by equality
	pat  *pattern // nil for a static rule
	ops  []headerOp
}

// headerOp is one header line of a block.
type headerOp struct {
	name   string // canonical header name
	remove bool   // "! Name"
	value  template
	fixed  []string // the value as a one-element slice when it has no placeholder
}

// serverHeaders are managed by the edge (message framing, content coding,
// ranges, hop-by-hop) and may not be set or removed by a _headers file.
var serverHeaders = map[string]bool{
	"Connection":        true,
	"Content-Encoding":  true,
	"Content-Length":    true,
	"Content-Range":     true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Te":                true,
	"Trailer":           true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
}

// ParseHeaders parses and validates a _headers file; the error is a
// *ParseError naming the first bad line.
//
// The file is a list of blocks. A block starts with a line holding a path
// pattern (see the package doc), followed by header lines, each either
//
//	Name: value    set the header (the pattern's placeholders and :splat
//	               may be used in value)
//	! Name         remove the header
//
// Header lines are indented by convention; as in Cloudflare, a line is a
// pattern when it starts with "/" and a header line otherwise, so the
// indentation is not required. Lines whose first non-blank character is '#'
// are comments; blank lines are ignored. Header names must be HTTP tokens;
// values must not be empty or contain control characters (tabs excepted).
//
// # Notes
//
//   - Patterns are paths; Cloudflare's absolute-URL patterns
//     ("https://:project.pages.dev/*") are rejected for the reason given in
//     the package doc.
//   - Where Cloudflare skips a bad line with a warning, Pier rejects the
//     file: a header line before any pattern, a pattern with no header
//     lines, a malformed header line, and more than MaxHeaderRules blocks.
//   - Within a block, "! Name" lines take effect before the block's
//     "Name: value" lines, as in Cloudflare, so a block can remove a header
//     set by an earlier block and set its own value.
//   - Headers the edge manages (Content-Length, Content-Encoding,
//     Content-Range, Transfer-Encoding and the hop-by-hop headers) cannot be
//     set or removed.
func ParseHeaders(text string) (*Headers, error) {
	h := &Headers{}
	open := 0 // line of the current block's pattern, 0 before the first
	empty := func() *ParseError {
		return &ParseError{File: headersFile, Line: open, Msg: "URL pattern has no header lines below it"}
	}
	err := eachLine(headersFile, text, func(line int, s string) *ParseError {
		fail := func(msg string) *ParseError { return &ParseError{File: headersFile, Line: line, Msg: msg} }
		if s[0] == '/' || isAbsoluteURL(s) {
			if open != 0 && len(h.rules[len(h.rules)-1].ops) == 0 {
				return empty()
			}
			if len(h.rules) == MaxHeaderRules {
				return fail("too many header rules (limit " + strconv.Itoa(MaxHeaderRules) + ")")
			}
			rule, msg := compileHeaderPattern(s)
			if msg != "" {
				return fail(msg)
			}
			h.rules = append(h.rules, rule)
			open = line
			return nil
		}
		if open == 0 {
			return fail("header line before any URL pattern (patterns start with /)")
		}
		r := &h.rules[len(h.rules)-1]
		op, msg := compileHeaderLine(s, r.pat)
		if msg != "" {
			return fail(msg)
		}
		if op.remove {
			// Removals apply before the block's own values.
			n := 0
			for n < len(r.ops) && r.ops[n].remove {
				n++
			}
			r.ops = append(r.ops, headerOp{})
			copy(r.ops[n+1:], r.ops[n:])
			r.ops[n] = op
		} else {
			r.ops = append(r.ops, op)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if open != 0 && len(h.rules[len(h.rules)-1].ops) == 0 {
		return nil, empty()
	}
	sources := make([]string, len(h.rules))
	for i := range h.rules {
		if r := &h.rules[i]; r.pat != nil {
			sources[i] = r.pat.source
		} else {
			sources[i] = r.path
		}
	}
	h.index = newRuleIndex(sources)
	return h, nil
}

// isAbsoluteURL reports whether s starts like "scheme://".
func isAbsoluteURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], " \t:")
}

// compileHeaderPattern compiles the trimmed pattern line of a block; the
// string is non-empty on error.
func compileHeaderPattern(s string) (headerRule, string) {
	switch {
	case strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"):
		return headerRule{}, "URL pattern " + strconv.Quote(s) + " is an absolute URL: patterns are paths starting with /, which match on every hostname of the site"
	case strings.ContainsAny(s, " \t"):
		return headerRule{}, "unexpected text after URL pattern (one pattern per line)"
	case strings.IndexByte(s, '?') >= 0:
		return headerRule{}, "URL pattern " + strconv.Quote(s) + " must not contain a query string"
	}
	if bad := badByte(s); bad != "" {
		return headerRule{}, "URL pattern contains " + bad
	}
	pat, err := compilePattern(s)
	if err != nil {
		return headerRule{}, "URL pattern " + strconv.Quote(s) + ": " + err.Error()
	}
	if !pat.dynamic() {
		return headerRule{path: pat.source}, ""
	}
	return headerRule{pat: pat}, ""
}

// compileHeaderLine compiles a trimmed header line of the block whose
// pattern is p (nil for a literal path).
func compileHeaderLine(s string, p *pattern) (headerOp, string) {
	i := strings.IndexByte(s, ':')
	if s[0] == '!' && (i < 0 || s[1] == ' ' || s[1] == '\t') {
		name := strings.TrimSpace(s[1:])
		if msg := checkHeaderName(name); msg != "" {
			return headerOp{}, msg
		}
		return headerOp{name: textproto.CanonicalMIMEHeaderKey(name), remove: true}, ""
	}
	if i < 0 {
		return headerOp{}, "malformed header line: want \"Name: value\" or \"! Name\""
	}
	name, value := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	if msg := checkHeaderName(name); msg != "" {
		return headerOp{}, msg
	}
	if value == "" {
		return headerOp{}, "header " + name + " has an empty value (use \"! " + name + "\" to remove a header)"
	}
	for j := 0; j < len(value); j++ {
		if c := value[j]; c < 0x20 && c != '\t' || c == 0x7f {
			return headerOp{}, "header " + name + " value contains control character " + strconv.QuoteRune(rune(c))
		}
	}
	op := headerOp{name: textproto.CanonicalMIMEHeaderKey(name)}
	if p == nil {
		p = &pattern{splat: -1}
	}
	op.value = compileTemplate(value, p, headerTemplate)
	if op.value.literal() {
		op.fixed = []string{value}
	}
	return op, ""
}

// checkHeaderName describes what is wrong with a header name, or "".
func checkHeaderName(name string) string {
	if name == "" {
		return "missing header name"
	}
	for i := 0; i < len(name); i++ {
		if !tokenByte(name[i]) {
			return "invalid header name " + strconv.Quote(name)
		}
	}
	if serverHeaders[textproto.CanonicalMIMEHeaderKey(name)] {
		return "header " + name + " is managed by the server and cannot be set or removed in _headers"
	}
	return ""
}

// tokenByte reports whether c may appear in an HTTP token (RFC 9110 §5.6.2).
func tokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Apply applies, in file order, every block whose pattern matches path (the
// decoded, absolute request path, r.URL.Path) to hdr:
//
//   - a "Name: value" line replaces any value hdr had before Apply (the
//     edge's defaults such as Cache-Control);
//   - values set for the same name by several lines or matching blocks are
//     joined with ", " into one value, as Cloudflare does;
//   - "! Name" removes the header: a default, or values set by earlier
//     blocks; a block's removals take effect before its own values.
//
// The pattern's placeholders and :splat are substituted in values, with
// control characters, non-ASCII bytes, '%', '"' and '\' percent-encoded.
// hdr's keys must be in canonical form, as http.Header's methods keep them.
//
// Apply does not allocate when no block matches. Values without
// placeholders are slices shared between requests: replace a header's
// slice (Set, Del and Add do) rather than writing into it.
func (h *Headers) Apply(path string, hdr http.Header) {
	if h == nil {
		return
	}
	var caps captures
	var setBuf [16]string
	set := setBuf[:0] // names set by this Apply
	c := h.index.candidates(path)
	for i := c.next(); i >= 0; i = c.next() {
		r := &h.rules[i]
		if r.pat == nil {
			if path != r.path {
				continue
			}
		} else if !r.pat.match(path, &caps) {
			continue
		}
		for j := range r.ops {
			op := &r.ops[j]
			k := indexOf(set, op.name)
			if op.remove {
				delete(hdr, op.name)
				if k >= 0 {
					set = append(set[:k], set[k+1:]...)
				}
				continue
			}
			if k >= 0 {
				if old := hdr[op.name]; len(old) > 0 {
					var b strings.Builder
					b.Grow(len(old[0]) + 2 + op.value.size)
					b.WriteString(old[0])
					b.WriteString(", ")
					op.value.expand(&b, &caps)
					hdr[op.name] = []string{b.String()}
					continue
				}
			}
			if op.fixed != nil {
				hdr[op.name] = op.fixed[:1:1]
			} else {
				var b strings.Builder
				b.Grow(op.value.size + 16)
				op.value.expand(&b, &caps)
				hdr[op.name] = []string{b.String()}
			}
			if k < 0 {
				set = append(set, op.name)
			}
		}
	}
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// Len returns the number of rules (blocks) in the file.
func (h *Headers) Len() int {
	if h == nil {
		return 0
	}
	return len(h.rules)
}
