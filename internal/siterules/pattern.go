package siterules

import (
	"errors"
	"net/url"
	"strings"
)

// maxCaptures bounds the values one pattern can capture (placeholders plus
// the splat), so matching can keep them in a fixed-size array on the stack.
const maxCaptures = 16

// captures holds the values a pattern captured, indexed like pattern.names.
type captures [maxCaptures]string

// token is one piece of a compiled pattern: either literal text (which may
// span segments) or a placeholder that owns a whole path segment, made of an
// optional literal before it, the captured value and an optional literal
// after it (/post-:id.html has pre "post-" and post ".html").
type token struct {
	lit       string // literal text when capture < 0
	pre, post string // segment-local literals around a placeholder
	capture   int    // index into captures, or -1 for a literal
}

// pattern is a compiled path pattern (see the package doc). Matching is
// linear in the path length: tokens before the splat are matched left to
// right, tokens after it right to left, and the splat takes what is left.
type pattern struct {
	source string   // the decoded pattern text
	head   []token  // tokens before the splat, or all tokens without one
	tail   []token  // tokens after the splat
	splat  int      // capture index of the splat, or -1 without one
	names  []string // capture names by index; the splat is named "splat"
}

// dynamic reports whether the pattern captures anything; a pattern that
// does not is a literal path matched by equality.
func (p *pattern) dynamic() bool { return len(p.names) > 0 }

// index returns the capture index of name, or -1.
func (p *pattern) index(name string) int {
	for i, n := range p.names {
		if n == name {
			return i
		}
	}
	return -1
}

// sample returns a path the pattern matches, with "x" for each captured
// value.
func (p *pattern) sample() string {
	var b strings.Builder
	write := func(tokens []token) {
		for _, t := range tokens {
			if t.capture < 0 {
				b.WriteString(t.lit)
			} else {
				b.WriteString(t.pre)
				b.WriteByte('x')
				b.WriteString(t.post)
			}
		}
	}
	write(p.head)
	if p.splat >= 0 {
		b.WriteByte('x')
		write(p.tail)
	}
	return b.String()
}

// isNameStart and isNameByte define placeholder names: a letter followed by
// letters, digits or underscores (":8080" in a URL is not a placeholder).
func isNameStart(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isNameByte(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' || c == '_' }

// compilePattern compiles a path pattern. The caller has checked that it
// starts with '/'. Percent-encoded bytes are decoded first, since patterns
// are matched against decoded request paths: /caf%C3%A9 and /café are the
// same pattern. Error messages are lowercase and name the problem.
func compilePattern(src string) (*pattern, error) {
	if strings.IndexByte(src, '%') >= 0 {
		decoded, err := url.PathUnescape(src)
		if err != nil {
			return nil, errors.New("invalid percent-encoding")
		}
		if strings.Count(decoded, "*") != strings.Count(src, "*") || strings.Count(decoded, ":") != strings.Count(src, ":") {
			return nil, errors.New("a percent-encoded * or : is not supported")
		}
		src = decoded
	}
	p := &pattern{splat: -1, source: src}
	var tokens []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			tokens = append(tokens, token{lit: lit.String(), capture: -1})
			lit.Reset()
		}
	}
	for start := 0; start < len(src); {
		end := strings.IndexByte(src[start+1:], '/')
		if end < 0 {
			end = len(src)
		} else {
			end += start + 1
		}
		// seg is one segment with its leading slash.
		seg := src[start:end]
		start = end
		colon := placeholderAt(seg)
		star := strings.IndexByte(seg, '*')
		if colon < 0 {
			if star < 0 {
				lit.WriteString(seg)
				continue
			}
			if p.splat >= 0 || strings.IndexByte(seg[star+1:], '*') >= 0 {
				return nil, errors.New("at most one * is allowed")
			}
			lit.WriteString(seg[:star])
			flush()
			p.head, tokens = tokens, nil
			p.splat = len(p.names)
			p.names = append(p.names, "splat")
			lit.WriteString(seg[star+1:])
			continue
		}
		if star >= 0 {
			return nil, errors.New("a :placeholder and * cannot share a path segment")
		}
		n := colon + 1
		for n < len(seg) && isNameByte(seg[n]) {
			n++
		}
		name := seg[colon+1 : n]
		if placeholderAt(seg[n:]) >= 0 {
			return nil, errors.New("at most one :placeholder is allowed per path segment")
		}
		if name == "splat" {
			return nil, errors.New(":splat is the value of *, not a placeholder name")
		}
		if p.index(name) >= 0 {
			return nil, errors.New("placeholder :" + name + " is used twice")
		}
		lit.WriteByte('/')
		flush()
		tokens = append(tokens, token{pre: seg[1:colon], post: seg[n:], capture: len(p.names)})
		p.names = append(p.names, name)
	}
	flush()
	if len(p.names) > maxCaptures {
		return nil, errors.New("too many placeholders (at most 15 and one *)")
	}
	if p.splat >= 0 {
		p.tail = tokens
	} else {
		p.head = tokens
	}
	return p, nil
}

// placeholderAt returns the index of the first ':' in s that starts a
// placeholder name, or -1.
func placeholderAt(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == ':' && isNameStart(s[i+1]) {
			return i
		}
	}
	return -1
}

// match reports whether path matches p, filling caps. It does not allocate.
func (p *pattern) match(path string, caps *captures) bool {
	rest, ok := matchHead(p.head, path, caps)
	if !ok {
		return false
	}
	if p.splat < 0 {
		return rest == ""
	}
	mid, ok := matchTail(p.tail, rest, caps)
	if !ok {
		return false
	}
	caps[p.splat] = mid
	return true
}

// matchHead matches tokens left to right against the start of s and returns
// what follows.
func matchHead(tokens []token, s string, caps *captures) (string, bool) {
	for i := range tokens {
		t := &tokens[i]
		if t.capture < 0 {
			if !strings.HasPrefix(s, t.lit) {
				return "", false
			}
			s = s[len(t.lit):]
			continue
		}
		end := strings.IndexByte(s, '/')
		if end < 0 {
			end = len(s)
		}
		v, ok := segmentValue(t, s[:end])
		if !ok {
			return "", false
		}
		caps[t.capture] = v
		s = s[end:]
	}
	return s, true
}

// matchTail matches tokens right to left against the end of s and returns
// what precedes them.
func matchTail(tokens []token, s string, caps *captures) (string, bool) {
	for i := len(tokens) - 1; i >= 0; i-- {
		t := &tokens[i]
		if t.capture < 0 {
			if !strings.HasSuffix(s, t.lit) {
				return "", false
			}
			s = s[:len(s)-len(t.lit)]
			continue
		}
		start := strings.LastIndexByte(s, '/') + 1
		v, ok := segmentValue(t, s[start:])
		if !ok {
			return "", false
		}
		caps[t.capture] = v
		s = s[:start]
	}
	return s, true
}

// segmentValue returns the value a placeholder token captures from one path
// segment (without slashes): the segment minus the token's pre and post
// literals, which must be non-empty.
func segmentValue(t *token, seg string) (string, bool) {
	if len(seg) <= len(t.pre)+len(t.post) ||
		!strings.HasPrefix(seg, t.pre) || !strings.HasSuffix(seg, t.post) {
		return "", false
	}
	return seg[len(t.pre) : len(seg)-len(t.post)], true
}

// template is a compiled destination or header value: literal text with
// :placeholder and :splat references resolved to capture indexes. A
// reference to a name the pattern does not capture stays literal text, as
// in Cloudflare (so "https://x:8080" or "a:b" are left alone).
type template struct {
	parts []part
	size  int // bytes of literal text, to size the output
}

type part struct {
	lit     string
	capture int        // -1 for literal text
	safe    *[256]bool // bytes a captured value keeps unescaped
}

// Kinds of template, which decide how captured values are escaped.
const (
	urlTemplate    = iota // a URL: path escaping, query escaping after '?'
	headerTemplate        // a header value
)

// compileTemplate compiles src, whose :name references are resolved
// against p's captures.
func compileTemplate(src string, p *pattern, kind int) template {
	var t template
	safe := &pathSafe
	if kind == headerTemplate {
		safe = &headerSafe
	}
	last := 0
	for i := 0; i+1 < len(src); i++ {
		if src[i] != ':' || !isNameStart(src[i+1]) {
			continue
		}
		n := i + 1
		for n < len(src) && isNameByte(src[n]) {
			n++
		}
		c := p.index(src[i+1 : n])
		if c < 0 {
			i = n - 1
			continue
		}
		if last < i {
			t.parts = append(t.parts, part{lit: src[last:i], capture: -1})
		}
		if kind == urlTemplate && strings.IndexByte(src[:i], '?') >= 0 {
			safe = &querySafe
		}
		t.parts = append(t.parts, part{capture: c, safe: safe})
		last = n
		i = n - 1
	}
	if last < len(src) {
		t.parts = append(t.parts, part{lit: src[last:], capture: -1})
	}
	for _, pt := range t.parts {
		t.size += len(pt.lit)
	}
	return t
}

// literal reports whether the template references no capture.
func (t *template) literal() bool {
	for _, pt := range t.parts {
		if pt.capture >= 0 {
			return false
		}
	}
	return true
}

// expand writes the template to b, escaping each captured value as its
// place in the template requires.
func (t *template) expand(b *strings.Builder, caps *captures) {
	for _, pt := range t.parts {
		if pt.capture < 0 {
			b.WriteString(pt.lit)
		} else {
			appendEscaped(b, caps[pt.capture], pt.safe)
		}
	}
}

// pathSafe, querySafe and headerSafe are the bytes a captured value keeps
// as they are; every other byte is percent-encoded. Captured values come
// from the decoded request path, so they are escaped where they land:
//
//   - in a URL path (pathSafe), the characters RFC 3986 allows in a path
//     plus '/', so '%', '?', '#', spaces, controls and non-ASCII bytes are
//     encoded and the destination stays a valid URL whose decoded path is
//     what was captured;
//   - in a URL query (querySafe), the same without '&', '=' and '+', so a
//     value cannot add a parameter;
//   - in a header value (headerSafe), printable ASCII except '%', '"' and
//     '\', so a request path can never inject a line break or an invalid
//     byte into a response header nor end a quoted string such as
//     filename=":file", while "You are watching :title" keeps its spaces.
var pathSafe, querySafe, headerSafe = func() (path, query, header [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		path[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~!$&'()*+,;=:@/", byte(c)) >= 0
		query[c] = path[c] && c != '&' && c != '=' && c != '+'
		header[c] = c != '%' && c != '"' && c != '\\'
	}
	return path, query, header
}()

// appendEscaped writes s to b with every byte not in safe percent-encoded,
// copying runs of safe bytes at once.
func appendEscaped(b *strings.Builder, s string, safe *[256]bool) {
	const hex = "0123456789ABCDEF"
	for s != "" {
		i := 0
		for i < len(s) && safe[s[i]] {
			i++
		}
		b.WriteString(s[:i])
		if i == len(s) {
			return
		}
		c := s[i]
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
		s = s[i+1:]
	}
}

// indexDepth is how many leading path segments ruleIndex looks at.
const indexDepth = 3

// ruleIndex narrows the rules worth trying for a request path, so a file
// near the limits costs a few map lookups and a few pattern matches rather
// than one match per rule. A rule is listed under the first of its leading
// indexDepth segments that is literal text, when no * comes before it: such
// a segment is fixed for every path the rule matches (/blog/* under
// segment 0 "blog", /:lang/docs/* under segment 1 "docs"). Other rules (/*,
// /blog*, /:a/:b/:c/:d) are tried for every path. Lists are in file order
// and candidates merges them, so the first rule that matches is still the
// first in the file.
type ruleIndex struct {
	bySegment [indexDepth]map[string][]int32
	generic   []int32 // rules tried for every path
}

// newRuleIndex indexes rules by their decoded pattern text.
func newRuleIndex(sources []string) ruleIndex {
	var x ruleIndex
	for i, src := range sources {
		k, seg := indexKey(src)
		if k < 0 {
			x.generic = append(x.generic, int32(i))
			continue
		}
		if x.bySegment[k] == nil {
			x.bySegment[k] = make(map[string][]int32)
		}
		x.bySegment[k][seg] = append(x.bySegment[k][seg], int32(i))
	}
	return x
}

// indexKey returns the position and text of the segment a pattern is
// indexed under, or -1.
func indexKey(src string) (int, string) {
	rest := src[1:]
	for k := 0; k < indexDepth; k++ {
		seg, next, more := strings.Cut(rest, "/")
		if strings.IndexByte(seg, '*') >= 0 {
			return -1, ""
		}
		if placeholderAt(seg) < 0 {
			return k, seg
		}
		if !more {
			break
		}
		rest = next
	}
	return -1, ""
}

// candidates returns the rules that may match path.
func (x *ruleIndex) candidates(path string) candidates {
	c := candidates{lists: [indexDepth + 1][]int32{x.generic}}
	if path != "" {
		path = path[1:]
	}
	for k := 0; k < indexDepth; k++ {
		seg, next, more := strings.Cut(path, "/")
		if m := x.bySegment[k]; m != nil {
			c.lists[k+1] = m[seg]
		}
		if !more {
			break
		}
		path = next
	}
	return c
}

// candidates iterates, in file order, over the rule lists that apply to a
// path. A rule is in at most one list.
type candidates struct {
	lists [indexDepth + 1][]int32
}

// next returns the next rule index, or -1 when there are no more.
func (c *candidates) next() int {
	best := -1
	for l := range c.lists {
		if len(c.lists[l]) > 0 && (best < 0 || c.lists[l][0] < c.lists[best][0]) {
			best = l
		}
	}
	if best < 0 {
		return -1
	}
	i := c.lists[best][0]
	c.lists[best] = c.lists[best][1:]
	return int(i)
}
