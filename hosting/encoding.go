package hosting

import (
	"net/url"
	"strings"
)

// negotiate picks the representation for an Accept-Encoding header (all
// its field lines): the acceptable coding with the highest q-value, ties
// going to br, then gzip, then identity. A coding given q=0 is never
// chosen; "*" stands for codings not listed. Without the header, or when
// nothing acceptable is available, identity is served (RFC 9110 §12.5.3
// allows that rather than a 406). It does not allocate.
func negotiate(fields []string, hasBr, hasGz bool) int {
	if len(fields) == 0 {
		return identity
	}
	const unset = -1
	qBr, qGz, qID, qStar := unset, unset, unset, unset
	for _, field := range fields {
		for field != "" {
			var elem string
			if i := strings.IndexByte(field, ','); i >= 0 {
				elem, field = field[:i], field[i+1:]
			} else {
				elem, field = field, ""
			}
			coding, params, _ := strings.Cut(elem, ";")
			coding = strings.TrimSpace(coding)
			if coding == "" {
				continue
			}
			q, ok := parseQ(params)
			if !ok {
				continue
			}
			switch {
			case strings.EqualFold(coding, "br"):
				qBr = max(qBr, q)
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				qGz = max(qGz, q)
			case strings.EqualFold(coding, "identity"):
				qID = max(qID, q)
			case coding == "*":
				qStar = max(qStar, q)
			}
		}
	}
	if qBr == unset {
		qBr = max(qStar, 0)
	}
	if qGz == unset {
		qGz = max(qStar, 0)
	}
	if qID == unset {
		// An unlisted identity stays acceptable (unless "*;q=0" excludes
		// it) but ranks below every coding the client did list.
		qID = 1
		if qStar == 0 {
			qID = 0
		}
	}
	best, bestQ := identity, qID
	if hasGz && qGz > 0 && qGz >= bestQ {
		best, bestQ = gzip, qGz
	}
	if hasBr && qBr > 0 && qBr >= bestQ {
		best = brotli
	}
	return best
}

// parseQ returns the q-value (in thousandths) of an element's parameters
// ("; q=0.5"); 1000 without a q parameter. ok is false for a malformed
// q-value, which makes the element ignored.
func parseQ(params string) (int, bool) {
	for params != "" {
		var p string
		if i := strings.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, ""
		}
		name, val, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		return qvalue(strings.TrimSpace(val))
	}
	return 1000, true
}

// qvalue parses RFC 9110's qvalue: 0[.ddd] or 1[.000].
func qvalue(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' || len(s) > 5 {
		return 0, false
	}
	mul := 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * mul
		mul /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}

// etagMatch reports whether an If-None-Match header (all its field lines)
// matches etag (a quoted strong tag) by the weak comparison: "*", or any
// listed tag equal to etag once W/ prefixes are ignored. It does not
// allocate.
func etagMatch(fields []string, etag string) bool {
	for _, field := range fields {
		for {
			field = strings.TrimLeft(field, " \t,")
			if field == "" {
				break
			}
			if field[0] == '*' {
				return true
			}
			field = strings.TrimPrefix(field, "W/")
			if field == "" || field[0] != '"' {
				// Malformed: skip to the next element.
				i := strings.IndexByte(field, ',')
				if i < 0 {
					break
				}
				field = field[i+1:]
				continue
			}
			end := strings.IndexByte(field[1:], '"')
			if end < 0 {
				break
			}
			if field[:end+2] == etag {
				return true
			}
			field = field[end+2:]
		}
	}
	return false
}

// decodePath percent-decodes the path of a rewrite destination.
func decodePath(p string) (string, error) {
	return url.PathUnescape(p)
}
