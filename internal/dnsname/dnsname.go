// Package dnsname owns Pier's hostname rules: the one IDNA profile of the
// tree, the canonical form of a host name (lowercase ASCII, punycode, no
// trailing dot, RFC 1035 lengths), what a DNS label, a site name and a
// deployment id may be, and the platform's host grammar:
//
//	<site>.<domain>               a site (SiteHost, SiteOf)
//	<deployment>--<site>.<domain> a preview of one deployment (PreviewHost)
//	<alias>--<site>.<domain>      a git branch's latest push (BranchHost,
//	                              BranchAlias)
//
// ParseHost reads the first two, ParsePrefixHost all three (an alias and
// a deployment id share the place before PreviewSep: the caller looks the
// prefix up as a deployment and then as an alias; BranchAlias never makes
// an alias of a deployment id's shape). Every name outside the platform
// domain that is a DNS name (IsDomainName) may be a tenant's custom
// hostname.
//
// It has three normalisers, one per kind of input: NormalizeHost for an
// HTTP Host header (port, IP literals, IDNs; no allocation when the host
// is already canonical), Normalize for a name a person typed (IDNs, with
// an error saying what is wrong) and NormalizeASCII for a TLS server name
// (ASCII only; allocates only to fold upper case).
//
// dnsname imports only the standard library and golang.org/x/net/idna;
// every Pier package may import it (hosting, tenants, admin, certs and
// cmd/pier do). It is the only package that builds an IDNA profile.
package dnsname

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

const (
	// MaxNameLen is the longest host name (RFC 1035: 253 bytes without
	// the trailing dot).
	MaxNameLen = 253
	// MaxLabelLen is the longest DNS label.
	MaxLabelLen = 63
	// MaxDomainLen is the longest platform domain, leaving room for the
	// site or preview label in front of it.
	MaxDomainLen = 200
	// PreviewSep separates the deployment id from the site name in a
	// preview host's first label. Site names never contain it, and
	// deployment ids never contain '-', so the first one splits.
	PreviewSep = "--"
	// DeploymentIDLen is the length of the deployment ids tenants.NewID
	// makes from 5 random bytes.
	DeploymentIDLen = 8
	// MaxSiteNameLen keeps a preview's label <deployment>--<site> within
	// MaxLabelLen.
	MaxSiteNameLen = MaxLabelLen - DeploymentIDLen - len(PreviewSep)
)

// profile maps (lowercase, NFC) and validates a host name as browsers do
// before resolving it, and converts it to punycode. It is the only IDNA
// profile in Pier.
var profile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.StrictDomainName(true),
	idna.ValidateLabels(true),
	idna.VerifyDNSLength(true),
)

// ldh reports whether c may appear in a canonical label: a-z, 0-9, '-'.
func ldh(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}

// ValidLabel reports whether s is a DNS label in canonical form: 1–63
// characters from [a-z0-9-], not starting or ending with '-'.
func ValidLabel(s string) bool {
	if s == "" || len(s) > MaxLabelLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ldh(s[i]) {
			return false
		}
	}
	return true
}

// ValidSiteName reports whether s may name a site (or a tenant): a
// canonical DNS label without PreviewSep. Creating a site also caps its
// name at MaxSiteNameLen so that its previews fit in a label; reading a
// host accepts any length up to MaxLabelLen.
func ValidSiteName(s string) bool {
	return ValidLabel(s) && !strings.Contains(s, PreviewSep)
}

// ValidDeploymentID reports whether s may be the deployment id of a
// preview host: 1–63 lowercase letters and digits, as tenants.NewID makes.
func ValidDeploymentID(s string) bool {
	if s == "" || len(s) > MaxLabelLen {
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

// IsCanonical reports whether h is a host name in canonical form: at most
// MaxNameLen bytes of dot-separated ValidLabel labels (no trailing dot).
// An IP address in dotted form is canonical; IsDomainName refuses it.
func IsCanonical(h string) bool {
	if h == "" || len(h) > MaxNameLen {
		return false
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			n := i - start
			if n == 0 || n > MaxLabelLen || h[start] == '-' || h[i-1] == '-' {
				return false
			}
			start = i + 1
			continue
		}
		if !ldh(h[i]) {
			return false
		}
	}
	return true
}

// IsDomainName reports whether h is a canonical DNS name that may be a
// tenant's custom hostname or get a certificate: IsCanonical, at least two
// labels, and a last label that is not all digits (so not an IPv4
// address).
func IsDomainName(h string) bool {
	dot := strings.LastIndexByte(h, '.')
	return dot >= 0 && !allDigits(h[dot+1:]) && IsCanonical(h)
}

// ValidDomain reports whether d may be the platform domain: a canonical
// host name of at most MaxDomainLen bytes (a single label such as
// "localhost" is fine).
func ValidDomain(d string) bool {
	return len(d) <= MaxDomainLen && IsCanonical(d)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NormalizeHost returns the canonical form of an HTTP Host header:
// without port and without one trailing dot, lowercase, in punycode. An
// IPv6 literal comes back bracketed, without its port. ok is false for a
// malformed host (empty, bad characters, bad port, too long). A host that
// is already canonical ASCII is returned as a substring of raw, without
// allocating: the edge calls this on every request.
func NormalizeHost(raw string) (host string, ok bool) {
	h := raw
	if strings.HasPrefix(h, "[") {
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
	if h == "" || len(h) > MaxNameLen*4 {
		return "", false
	}
	if IsCanonical(h) {
		return h, true
	}
	if !utf8.ValidString(h) {
		return "", false
	}
	a, err := profile.ToASCII(h)
	if err != nil || !IsCanonical(a) {
		return "", false
	}
	return a, true
}

// validPort reports whether s is empty, ":" or ":" followed by at most 5
// digits.
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

// NormalizeASCII returns a TLS server name (or any ASCII host name) in
// canonical form — lowercase, without one trailing dot — and whether it is
// a DNS name (IsDomainName). IDNs must already be punycode; wildcards are
// refused. It allocates only when host has upper-case letters, so a TLS
// handshake can call it on every ClientHello.
func NormalizeASCII(host string) (string, bool) {
	h := strings.TrimSuffix(host, ".")
	if h == "" || len(h) > MaxNameLen {
		return "", false
	}
	upper := false
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c >= 'A' && c <= 'Z' {
			upper = true
		} else if !ldh(c) && c != '.' {
			return "", false
		}
	}
	if upper {
		h = strings.ToLower(h)
	}
	if !IsDomainName(h) {
		return "", false
	}
	return h, true
}

// NameError says why Normalize refused a name.
type NameError struct {
	Name   string // the name as given, cut short when longer than 70 bytes
	Reason string // what is wrong, e.g. "is empty"
}

func (e *NameError) Error() string {
	return fmt.Sprintf("hostname %q %s", e.Name, e.Reason)
}

// Normalize returns the canonical form of a host name a person typed —
// lowercase punycode without a trailing dot, surrounding space removed —
// or a *NameError when it is not a DNS name of at least two labels (an IP
// address, a single label, a wildcard or an all-numeric last label are
// refused).
func Normalize(raw string) (string, error) {
	bad := func(reason string) error {
		shown := raw
		if len(shown) > 70 {
			shown = shown[:64] + "…"
		}
		return &NameError{Name: shown, Reason: reason}
	}
	h := strings.TrimSuffix(strings.TrimSpace(raw), ".")
	if h == "" {
		return "", bad("is empty")
	}
	if len(h) > 4*MaxNameLen || len(h) > MaxNameLen && !strings.ContainsFunc(h, func(r rune) bool { return r >= 0x80 }) {
		return "", bad(fmt.Sprintf("is longer than %d bytes", MaxNameLen))
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return "", bad("is an IP address, not a DNS name")
	}
	// ToASCII maps invalid UTF-8 to U+FFFD and returns its punycode
	// ("xn--…") without an error, which is not a name anyone typed.
	if !utf8.ValidString(h) {
		return "", bad("is not a valid DNS name")
	}
	a, err := profile.ToASCII(h)
	if err != nil {
		return "", bad("is not a valid DNS name")
	}
	if len(a) > MaxNameLen {
		return "", bad(fmt.Sprintf("is longer than %d bytes", MaxNameLen))
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", bad("needs at least two labels (like example.com)")
	}
	for _, l := range labels {
		if !ValidLabel(l) {
			return "", bad("has an invalid label (a-z, 0-9 and '-', 1-63 characters, no leading or trailing '-')")
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return "", bad("ends in a numeric label (an IP address is not a DNS name)")
	}
	return a, nil
}

// InDomain reports whether the canonical host is domain or a name below
// it. It is false for an empty domain.
func InDomain(host, domain string) bool {
	if domain == "" || !strings.HasSuffix(host, domain) {
		return false
	}
	n := len(host) - len(domain)
	return n == 0 || host[n-1] == '.'
}

// SiteHost returns the host of the site named site: <site>.<domain>.
func SiteHost(site, domain string) string {
	return site + "." + domain
}

// PreviewHost returns the host of deployment id of the site named site:
// <id>--<site>.<domain>.
func PreviewHost(id, site, domain string) string {
	return id + PreviewSep + site + "." + domain
}

// ParseHost splits a host under domain into a site and, for a preview
// host, a deployment id. ok is false for any host the platform does not
// serve: another domain, the bare domain, deeper subdomains, or a label
// that is not a site name or a preview of one. It does not allocate.
func ParseHost(host, domain string) (site, deployment string, ok bool) {
	site, deployment, ok = ParsePrefixHost(host, domain)
	if !ok || deployment != "" && !ValidDeploymentID(deployment) {
		return "", "", false
	}
	return site, deployment, true
}

// BranchHost returns the host of the branch alias alias of the site named
// site: <alias>--<site>.<domain>.
func BranchHost(alias, site, domain string) string {
	return alias + PreviewSep + site + "." + domain
}

// ValidAlias reports whether s may be the prefix of a branch alias host:
// a canonical DNS label without PreviewSep (what BranchAlias makes).
func ValidAlias(s string) bool {
	return ValidLabel(s) && !strings.Contains(s, PreviewSep)
}

// ParsePrefixHost is ParseHost with the wider grammar of the edge: the
// prefix before PreviewSep may be a deployment id or a branch alias
// (ValidAlias), so "feature-x--blog.<domain>" is site "blog", prefix
// "feature-x". Since neither contains PreviewSep and a site name does not
// start with '-', the first PreviewSep splits. It does not allocate.
func ParsePrefixHost(host, domain string) (site, prefix string, ok bool) {
	n := len(host) - len(domain) - 1
	if n <= 0 || host[n] != '.' || host[n+1:] != domain {
		return "", "", false
	}
	label := host[:n]
	if strings.IndexByte(label, '.') >= 0 {
		return "", "", false
	}
	prefix, site, cut := strings.Cut(label, PreviewSep)
	if !cut {
		site, prefix = prefix, ""
	} else if !ValidLabel(prefix) { // ValidAlias: prefix has no PreviewSep (the first one split)
		return "", "", false
	}
	if !ValidLabel(site) || strings.Contains(site, PreviewSep) {
		return "", "", false
	}
	return site, prefix, true
}

// SiteOf returns the site of host when host is exactly <site>.<domain>
// (not a preview, not a deeper name).
func SiteOf(host, domain string) (site string, ok bool) {
	site, dep, ok := ParseHost(host, domain)
	if !ok || dep != "" {
		return "", false
	}
	return site, true
}

// BranchAliasHashLen is the length of the hex suffix BranchAlias appends
// to a slug it had to shorten or that looks like a deployment id.
const BranchAliasHashLen = 6

// BranchAlias returns the alias label of git branch branch of the site
// named site: the host <alias>--<site>.<domain> serves the branch's latest
// push. The branch is lowercased and every run of characters other than
// letters and digits becomes one '-' (trimmed at both ends), so the alias
// never contains PreviewSep and the first "--" of the label still splits.
//
// By construction an alias is never a deployment id: a slug of exactly
// DeploymentIDLen letters and digits (the shape of every id tenants.NewID
// makes), like a slug too long for the label or an empty one, gets '-' and
// BranchAliasHashLen hex digits of the branch name's FNV-1a hash, so it
// contains a '-', which ids never do. Two branches may still slug alike
// ("Feature/X", "feature-x"); the caller, who knows the site's other
// aliases, resolves that with BranchAliasSuffixed.
func BranchAlias(branch, site string) string {
	return branchAlias(branch, site, 0)
}

// BranchAliasSuffixed is BranchAlias with the hash suffix always present
// and salted with n, for the n-th (n ≥ 1) attempt at an alias no other
// branch of the site holds.
func BranchAliasSuffixed(branch, site string, n int) string {
	return branchAlias(branch, site, n)
}

func branchAlias(branch, site string, n int) string {
	max := MaxLabelLen - len(PreviewSep) - len(site)
	b := make([]byte, 0, len(branch))
	dash := false
	for i := 0; i < len(branch); i++ {
		c := branch[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			dash = len(b) > 0
			continue
		}
		if dash {
			b = append(b, '-')
			dash = false
		}
		b = append(b, c)
	}
	slug := string(b)
	if n == 0 && slug != "" && len(slug) <= max && !(len(slug) == DeploymentIDLen && ValidDeploymentID(slug)) {
		return slug
	}
	h := uint32(2166136261)
	for i := 0; i < len(branch); i++ {
		h = (h ^ uint32(branch[i])) * 16777619
	}
	for i := 0; i < n; i++ {
		h = (h ^ '#') * 16777619
	}
	suffix := fmt.Sprintf("%08x", h)[:BranchAliasHashLen]
	if slug == "" {
		slug = "b"
	}
	// Site names are at most MaxSiteNameLen, so max ≥ DeploymentIDLen
	// and at least one character of the slug stays.
	if keep := max - 1 - BranchAliasHashLen; keep < len(slug) {
		slug = strings.TrimRight(slug[:keep], "-")
	}
	return slug + "-" + suffix
}

// IsDeploymentIDShape reports whether label has the shape of the ids
// tenants.NewID makes for deployments (DeploymentIDLen letters and
// digits), which no branch alias has.
func IsDeploymentIDShape(label string) bool {
	return len(label) == DeploymentIDLen && ValidDeploymentID(label)
}
