// Package domainverify proves that a tenant controls a hostname: a TXT
// record _pier-challenge.<host> holding the domain's token, or an HTTP
// answer at http://<host>/.well-known/pier-challenge/<token>; and it tells
// whether a hostname still points at the platform (a CNAME to the site's
// platform hostname or an address among the platform's public IPs).
//
// The HTTP proof is fetched only from port 80 of the platform's public
// addresses (Verifier.PublicIPs) or, without them, of public addresses:
// the check is made on the resolved address that is dialed, so DNS
// rebinding cannot reach an internal service. Redirects are not followed
// and only a small answer is read. Failures carry a user-safe description
// (Message) beside the cause for logs.
//
// It imports no Pier package; admin uses it for domain onboarding.
package domainverify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrNotProven is wrapped by a check that ran and did not find the proof
// (as opposed to a check that could not run: DNS server unreachable).
// The error text is user-safe.
var ErrNotProven = errors.New("ownership not proven")

// ChallengePath is the URL path prefix of the HTTP proof.
const ChallengePath = "/.well-known/pier-challenge/"

// Defaults of Verifier.
const (
	DefaultTimeout = 10 * time.Second
	// maxChallengeLen bounds the body of an HTTP proof that is read.
	maxChallengeLen = 1024
	// UserAgent is sent with every HTTP proof fetch.
	UserAgent = "Pier-Domain-Verifier/1 (+https://github.com/pierhq/pier)"
)

// Verifier runs ownership and pointing checks. The zero value uses the
// system resolver and fetches HTTP proofs from public addresses only. It
// is safe for concurrent use.
type Verifier struct {
	// Resolver answers DNS questions. Nil: net.DefaultResolver (the
	// system's). NewResolver builds one that asks a given server.
	Resolver *Resolver
	// PublicIPs are the platform's public addresses. When set, an HTTP
	// proof is fetched only from port 80 of these addresses (the proof
	// shows that the name points here); otherwise from port 80 of any
	// address that is not loopback, private, link-local, unique-local,
	// unspecified, multicast or otherwise reserved.
	PublicIPs []string
	// Dial connects to an address the policy above approved ("ip:80").
	// Nil: a net.Dialer. Tests set it to reach a local server.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Resolver is a Go resolver that asks one DNS server; NewResolver makes
// one. It remembers the server so that errors can name it: the Go
// resolver's errors name the server of the system configuration, which
// its Dial replaces.
type Resolver struct {
	net.Resolver
	addr string // "host:port"
}

// NewResolver returns a resolver that sends every query to the DNS server
// at addr ("host:port"; the port defaults to 53), over UDP or TCP as the
// resolver chooses. The Verifier's errors of lookups through it name addr.
func NewResolver(addr string) *Resolver {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "53")
	}
	return &Resolver{
		Resolver: net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		},
		addr: addr,
	}
}

// Addr is the DNS server the resolver asks ("host:port").
func (r *Resolver) Addr() string { return r.addr }

func (v *Verifier) resolver() *net.Resolver {
	if v.Resolver != nil {
		return &v.Resolver.Resolver
	}
	return net.DefaultResolver
}

// dnsErr returns err with the DNS server it names corrected to the one
// actually asked when the Verifier has a Resolver of its own.
func (v *Verifier) dnsErr(err error) error {
	var de *net.DNSError
	if v.Resolver == nil || v.Resolver.addr == "" || !errors.As(err, &de) {
		return err
	}
	c := *de
	c.Server = v.Resolver.addr
	return &c
}

// CheckError is a failed check with a user-safe description. Msg names
// only what the tenant's DNS points to; Err is the cause, for logs: it is
// ErrNotProven when the check ran and found no proof, anything else when
// it could not run to its end (DNS failed, the HTTP proof could not be
// fetched).
type CheckError struct {
	Msg string
	Err error
}

func (e *CheckError) Error() string {
	if e.Err == nil {
		return "domainverify: " + e.Msg
	}
	return "domainverify: " + e.Msg + ": " + e.Err.Error()
}

func (e *CheckError) Unwrap() error { return e.Err }

// Message returns the user-safe description of an error of a check: a
// CheckError's Msg, or the text of an error wrapping ErrNotProven without
// the "ownership not proven: " prefix; "" for any other error.
func Message(err error) string {
	var ce *CheckError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return ce.Msg
	case errors.Is(err, ErrNotProven):
		return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "domainverify: "), ErrNotProven.Error()+": ")
	}
	return ""
}

// describeDNS is a user-safe description of a failed lookup of what:
// its kind (timeout, SERVFAIL…) without the server asked.
func describeDNS(what string, err error) string {
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsTimeout:
		return "the DNS lookup of " + what + " timed out"
	case errors.As(err, &de) && de.IsNotFound:
		return what + " does not exist in DNS (NXDOMAIN)"
	case errors.As(err, &de) && de.Err == "server misbehaving":
		return "the DNS lookup of " + what + " failed (SERVFAIL or a malformed answer)"
	case errors.As(err, &de) && de.Err != "":
		return "the DNS lookup of " + what + " failed: " + de.Err
	case errors.Is(err, context.DeadlineExceeded):
		return "the DNS lookup of " + what + " timed out"
	}
	return "the DNS lookup of " + what + " failed"
}

// notFound reports whether a DNS error means the name or record does not
// exist (rather than a failure to ask).
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// CheckTXT reports nil when a TXT record of _pier-challenge.<host> equals
// token, an error wrapping ErrNotProven when the records were read and
// none matches, and a *CheckError when DNS could not be asked.
func (v *Verifier) CheckTXT(ctx context.Context, host, token string) error {
	name := "_pier-challenge." + host
	txts, err := v.resolver().LookupTXT(ctx, name)
	if err != nil && !notFound(err) {
		return &CheckError{Msg: describeDNS("TXT "+name, err), Err: v.dnsErr(err)}
	}
	for _, t := range txts {
		if strings.TrimSpace(t) == token {
			return nil
		}
	}
	if len(txts) == 0 {
		return fmt.Errorf("%w: no TXT record %s found", ErrNotProven, name)
	}
	return fmt.Errorf("%w: TXT record %s does not hold the expected token", ErrNotProven, name)
}

// CheckHTTP reports nil when http://<host>/.well-known/pier-challenge/<token>
// answers 200 with expectBody (surrounding white space ignored), an error
// wrapping ErrNotProven when it answers something else (a redirect
// included: redirects are not followed) or the name resolves to no
// address the fetch may go to (see Verifier.PublicIPs), and a *CheckError
// when it cannot be reached. Every error's Message says why.
func (v *Verifier) CheckHTTP(ctx context.Context, host, token, expectBody string) error {
	u := "http://" + host + ChallengePath + token
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil || req.URL.Port() != "" || req.URL.Hostname() != host {
		return fmt.Errorf("%w: %s is not a valid proof URL", ErrNotProven, u)
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := v.client().Do(req)
	if err != nil {
		var ce *CheckError
		switch {
		case errors.As(err, &ce):
			return ce // fetchDial's own, user-safe
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			return &CheckError{Msg: "fetching " + u + " timed out", Err: err}
		}
		return &CheckError{Msg: "fetching " + u + " failed", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxChallengeLen))
	if err != nil {
		return &CheckError{Msg: "reading the answer of " + u + " failed", Err: err}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		where := ""
		if loc := resp.Header.Get("Location"); loc != "" && len(loc) <= 200 && strings.IndexFunc(loc, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
			where = " to " + loc
		}
		return fmt.Errorf("%w: %s answered a redirect (%d%s); redirects are not followed, the proof must be answered directly",
			ErrNotProven, u, resp.StatusCode, where)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d", ErrNotProven, u, resp.StatusCode)
	}
	if strings.TrimSpace(string(body)) != expectBody {
		return fmt.Errorf("%w: %s did not answer the expected token", ErrNotProven, u)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// client returns the HTTP client of one proof fetch: it connects
// only as fetchDial allows, never follows redirects and uses no proxy.
func (v *Verifier) client() *http.Client {
	return &http.Client{
		Timeout: DefaultTimeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            v.fetchDial,
			ResponseHeaderTimeout:  DefaultTimeout,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 16 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetchDial connects to port 80 of an address host:port resolves to that
// the policy allows. The addresses are resolved here and dialed as
// literals, so what was checked is what is connected to (a DNS answer
// changing in between — rebinding — cannot bypass the check).
func (v *Verifier) fetchDial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port != "80" {
		return nil, &CheckError{Msg: "the HTTP proof is fetched from port 80 only", Err: ErrNotProven}
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = v.resolver().LookupNetIP(ctx, "ip", host); err != nil {
		if notFound(err) {
			return nil, &CheckError{Msg: describeDNS(host, err), Err: ErrNotProven}
		}
		return nil, &CheckError{Msg: describeDNS(host, err), Err: v.dnsErr(err)}
	}
	allowed, refused := v.allowed(addrs)
	if len(allowed) == 0 {
		shown := make([]string, 0, len(refused))
		for _, a := range refused {
			shown = append(shown, a.String())
		}
		if len(v.PublicIPs) > 0 {
			return nil, &CheckError{Err: ErrNotProven, Msg: fmt.Sprintf("%s resolves to %s, none of the platform's addresses (%s); the HTTP proof is fetched only from them",
				host, strings.Join(shown, ", "), strings.Join(v.PublicIPs, ", "))}
		}
		return nil, &CheckError{Err: ErrNotProven, Msg: fmt.Sprintf("%s resolves only to non-public addresses (%s); the HTTP proof is fetched only from public ones",
			host, strings.Join(shown, ", "))}
	}
	dial := v.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: DefaultTimeout}
		dial = d.DialContext
	}
	var errs []error
	for _, a := range allowed {
		target := netip.AddrPortFrom(a, 80).String()
		c, err := dial(ctx, network, target)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	err = errors.Join(errs...)
	why := "failed"
	switch {
	case isTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		why = "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "was refused"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		why = "failed: unreachable"
	}
	shown := make([]string, 0, len(allowed))
	for _, a := range allowed {
		shown = append(shown, netip.AddrPortFrom(a, 80).String())
	}
	return nil, &CheckError{Msg: "connecting to " + host + " (" + strings.Join(shown, ", ") + ") " + why, Err: err}
}

// allowed splits addrs into those the HTTP proof may be fetched from and
// the others.
func (v *Verifier) allowed(addrs []netip.Addr) (ok, refused []netip.Addr) {
	var platform map[netip.Addr]bool
	if len(v.PublicIPs) > 0 {
		platform = make(map[netip.Addr]bool, len(v.PublicIPs))
		for _, s := range v.PublicIPs {
			if a, err := netip.ParseAddr(s); err == nil {
				platform[a.Unmap()] = true
			}
		}
	}
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if platform != nil && platform[a] || platform == nil && PublicAddr(a) {
			ok = append(ok, a)
		} else {
			refused = append(refused, a)
		}
	}
	return ok, refused
}

// nonPublic are special-purpose ranges beyond what netip's predicates
// cover that the HTTP proof is never fetched from: they are not a
// tenant's public web server, or they reach IPv4 space indirectly.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("::/96"),          // IPv4-compatible
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"), // local NAT64
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("2001::/32"),      // Teredo
	netip.MustParsePrefix("2002::/16"),      // 6to4
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
}

// PublicAddr reports whether a is an address the HTTP proof may be
// fetched from when no platform addresses are configured: not
// unspecified, loopback, private (RFC 1918, unique-local fc00::/7),
// link-local, multicast or another special-purpose range.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// PointsHere reports whether host resolves to the platform: its canonical
// name is cname, or one of its addresses is among publicIPs. An error
// means DNS could not be asked; a name that does not exist points nowhere.
func (v *Verifier) PointsHere(ctx context.Context, host, cname string, publicIPs []string) (bool, error) {
	r := v.resolver()
	want := strings.TrimSuffix(strings.ToLower(cname), ".")
	if want != "" {
		c, err := r.LookupCNAME(ctx, host)
		switch {
		case err == nil:
			if strings.TrimSuffix(strings.ToLower(c), ".") == want {
				return true, nil
			}
		case !notFound(err):
			return false, &CheckError{Msg: describeDNS("CNAME "+host, err), Err: v.dnsErr(err)}
		}
	}
	if len(publicIPs) == 0 {
		return false, nil
	}
	public := make(map[netip.Addr]bool, len(publicIPs))
	for _, s := range publicIPs {
		if a, err := netip.ParseAddr(s); err == nil {
			public[a.Unmap()] = true
		}
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, &CheckError{Msg: describeDNS(host, err), Err: v.dnsErr(err)}
	}
	for _, a := range addrs {
		if public[a.Unmap()] {
			return true, nil
		}
	}
	return false, nil
}
