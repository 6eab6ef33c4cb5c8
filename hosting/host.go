package hosting

import "github.com/pierhq/pier/internal/dnsname"

// normalizeHost returns the canonical form of a Host header
// (dnsname.NormalizeHost): lowercase, without port and without one
// trailing dot, in punycode; an IPv6 literal, never a site, comes back
// bracketed so the router answers "not configured".
func normalizeHost(raw string) (host string, ok bool) {
	return dnsname.NormalizeHost(raw)
}

// canonicalASCII reports whether h is a canonical host name
// (dnsname.IsCanonical).
func canonicalASCII(h string) bool { return dnsname.IsCanonical(h) }

// hostRoute is what a canonical host names: a site (or a preview of it)
// under the platform domain, or a custom hostname to look up.
type hostRoute struct {
	site string // site name; "" for a custom hostname
	// deployment is the prefix of a preview host (<prefix>--<site>): a
	// deployment id or a git branch alias; "" for a site's own host.
	deployment string
	custom     string // the custom hostname, else ""
}

// customHost reports whether a canonical host outside the platform domain
// (suffix is "." + domain) may be a tenant's custom hostname: a DNS name
// of two labels or more, not an IP literal.
func customHost(host, suffix string) bool {
	return !dnsname.InDomain(host, suffix[1:]) && dnsname.IsDomainName(host)
}

// parseHost splits a canonical host under suffix ("." + domain) into a
// site and an optional preview prefix, a deployment id or a branch alias
// (dnsname.ParsePrefixHost).
func parseHost(host, suffix string) (hostRoute, bool) {
	site, dep, ok := dnsname.ParsePrefixHost(host, suffix[1:])
	return hostRoute{site: site, deployment: dep}, ok
}
