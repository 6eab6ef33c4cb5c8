package hosting

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// maxHostLen is the longest host name the edge accepts (RFC 1035: 253
// characters without the trailing dot).
const maxHostLen = 253

// hostProfile maps (lowercases, NFC) and validates host names as a browser
// does before it resolves them, and converts them to punycode.
var hostProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.StrictDomainName(true),
	idna.ValidateLabels(true),
	idna.VerifyDNSLength(true),
)

// normalizeHost returns the canonical form of a Host header: lowercase,
// without port and without one trailing dot, in punycode. ok is false for
// a malformed host (empty, bad characters, bad port, too long). A host that
// is already canonical ASCII is returned as a substring of raw, without
// allocating.
func normalizeHost(raw string) (host string, ok bool) {
	h := raw
	if strings.HasPrefix(h, "[") {
		// An IPv6 literal is well-formed but never a site; return it
		// without its port so the router answers "not configured".
		end := strings.IndexByte(h, ']')
		if end < 0 || !validPort(h[end+1:]) {
			return "", false
		}
		return h[:end+1], true
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i:]) {
			return "", false
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > maxHostLen*4 {
		return "", false
	}
	if canonicalASCII(h) {
		return h, true
	}
	if !utf8.ValidString(h) {
		return "", false
	}
	a, err := hostProfile.ToASCII(h)
	if err != nil || !canonicalASCII(a) {
		return "", false
	}
	return a, true
}

// validPort reports whether s is empty, ":" or ":" followed by digits.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) > 6 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalASCII reports whether h is a syntactically valid, lowercase
// ASCII host name: dot-separated labels of 1–63 characters from [a-z0-9-],
// not starting or ending with '-', at most 253 characters in all.
func canonicalASCII(h string) bool {
	if len(h) == 0 || len(h) > maxHostLen {
		return false
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			n := i - start
			if n == 0 || n > 63 || h[start] == '-' || h[i-1] == '-' {
				return false
			}
			start = i + 1
			continue
		}
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// hostRoute is what a canonical host names: a site (or a preview of it)
// under the platform domain, or a custom hostname to look up.
type hostRoute struct {
	site       string // site name; "" for a custom hostname
	deployment string // deployment id for a preview host, else ""
	custom     string // the custom hostname, else ""
}

// customHost reports whether a canonical host outside the platform domain
// may be a tenant's custom hostname: a DNS name of two labels or more
// (not an IP literal, whose last label is numeric or which is bracketed).
func customHost(host, suffix string) bool {
	if strings.HasSuffix(host, suffix) || host == suffix[1:] || !canonicalASCII(host) {
		return false
	}
	dot := strings.LastIndexByte(host, '.')
	if dot < 0 {
		return false
	}
	for i := dot + 1; i < len(host); i++ {
		if host[i] < '0' || host[i] > '9' {
			return true
		}
	}
	return false
}

// parseHost splits a canonical host under suffix ("." + domain) into a
// site and an optional preview deployment. ok is false for any host the
// platform does not serve: another domain, the bare domain, deeper
// subdomains, or labels that cannot be site names or deployment ids.
func parseHost(host, suffix string) (hostRoute, bool) {
	if len(host) <= len(suffix) || !strings.HasSuffix(host, suffix) {
		return hostRoute{}, false
	}
	label := host[:len(host)-len(suffix)]
	if strings.IndexByte(label, '.') >= 0 {
		return hostRoute{}, false
	}
	dep, site, preview := strings.Cut(label, "--")
	if !preview {
		site, dep = dep, ""
	} else if !validDeploymentID(dep) {
		return hostRoute{}, false
	}
	if !validSiteName(site) {
		return hostRoute{}, false
	}
	return hostRoute{site: site, deployment: dep}, true
}

// validSiteName mirrors tenants.ValidateName without its regexp: a
// lowercase DNS label without "--" (the label is already canonical ASCII,
// so only the "--" rule and the edges remain to check).
func validSiteName(s string) bool {
	return s != "" && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-' && !strings.Contains(s, "--")
}

// validDeploymentID accepts the ids tenants.NewID makes: lowercase letters
// and digits.
func validDeploymentID(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
