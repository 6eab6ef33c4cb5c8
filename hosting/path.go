package hosting

import (
	"strings"
)

// requestPath returns the decoded request path the edge resolves (Go's
// net/url has already percent-decoded r.URL.Path) with runs of slashes
// collapsed, as Cloudflare does. ok is false for a path the edge refuses
// outright: not absolute, containing control characters (NUL included) or a
// "." or ".." segment, plain or percent-encoded.
func requestPath(p string) (string, bool) {
	if p == "" || p[0] != '/' {
		return "", false
	}
	double := false
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			seg := p[segStart:i]
			if seg == "." || seg == ".." {
				return "", false
			}
			if i < len(p) && i == segStart && i > 0 {
				double = true
			}
			segStart = i + 1
			continue
		}
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "", false
		}
	}
	if !double {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String(), true
}

// unreserved reports whether encodeURIComponent leaves c alone.
func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-_.!~*'()", c) >= 0
}

// encodePath percent-encodes each segment of a decoded path the way
// JavaScript's encodeURIComponent does; the result is the canonical URL of
// an asset (Cloudflare redirects other spellings to it).
func encodePath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if c := p[i]; c != '/' && !unreserved(c) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

// canonicalFast reports, without allocating, that the raw request path is
// certainly the canonical encoding of the decoded path p: Go kept no
// distinct raw form (rawPath == "") and p needs no escaping.
func canonicalFast(p, rawPath string) bool {
	if rawPath != "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c != '/' && !unreserved(c) {
			return false
		}
	}
	return true
}

// looksLikeAsset reports whether the last segment of p has a file
// extension other than .html (a missing /app.3f2a.js must stay a 404 even
// for a single-page application).
func looksLikeAsset(p string) bool {
	last := p[strings.LastIndexByte(p, '/')+1:]
	dot := strings.LastIndexByte(last, '.')
	if dot < 0 {
		return false
	}
	return last[dot+1:] != "html"
}
