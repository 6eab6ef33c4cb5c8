// Package egress is the outbound policy of tenant workers: which
// destinations a worker's fetch may reach, how long it may take and how
// much it may read. Policy.Transport returns the http.RoundTripper the edge
// hands the worker runtime for one plan.
//
// Destinations are checked twice: the URL's host against the platform's
// own endpoints and the plan's allow/deny host globs before anything is
// dialled, and every address the host resolves to against the denied
// prefixes at dial time, after DNS resolution. The connection is then made
// to the checked address itself (never to the name again), so DNS
// rebinding cannot slip a private address past the check.
//
// # Notes
//
// Redirects are not followed: a RoundTripper answers one exchange, and the
// guest sees the 3xx. A guest (or its SDK's http.Client) that follows it
// makes a new fetch, which the worker runtime counts as a subrequest like
// any other — so redirects count against subRequests without a hook.
//
// Proxies from the environment are never used. The response body is
// capped: reading past MaxResponseBytes fails with ErrResponseTooLarge.
//
// egress is imported by hosting and cmd/pier. It imports hosting/worker
// (for the sentinel errors the runtime maps to guest error codes) and the
// standard library.
package egress

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pierhq/pier/hosting/worker"
)

// Resolver resolves host names; *net.Resolver satisfies it. LookupNetIP
// returns every address of host for network ("ip", "ip4" or "ip6") or an
// error; it is safe for concurrent use and honours ctx.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc dials network ("tcp", "tcp4", "tcp6") at addr, an IP:port the
// policy has already checked. It is safe for concurrent use.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// HostRules are a plan's host globs. A glob is a host name ("api.example.com"),
// "*.example.com" (any name below example.com, not example.com itself) or
// "*" (any host). Names compare case-insensitively, without a trailing dot.
type HostRules struct {
	// Allow, when non-empty, restricts fetches to the hosts it matches.
	Allow []string
	// Deny hosts are never fetched; Deny wins over Allow.
	Deny []string
}

// Policy is the egress configuration. A zero field means its documented
// default. A Policy must not be modified after its first Transport call.
type Policy struct {
	// Deny lists the address ranges no fetch may connect to. Nil means
	// DefaultDeny(); an explicitly empty, non-nil slice denies nothing
	// (tests only).
	Deny []netip.Prefix
	// Platform lists the platform's own endpoints (admin API, S3,
	// database…), also denied: "host", "host:port", "IP", "IP:port" or a
	// CIDR prefix. An entry without a port denies every port. A host name
	// entry denies that name and, at dial time, the addresses it
	// resolves to.
	Platform []string
	// AllowAddrs are IP:port destinations exempt from Deny (never from
	// Platform): an internal service the operator means workers to reach,
	// or a test's local server. Host rules still apply to them.
	AllowAddrs []netip.AddrPort
	// Plans holds each plan's allow/deny host globs. A plan not listed
	// has no host rules beyond Deny and Platform.
	Plans map[string]HostRules
	// Timeout bounds one fetch: dialling, TLS, the response headers and
	// reading the body. Default 10s.
	Timeout time.Duration
	// MaxResponseBytes caps a response body (after transparent gzip
	// decoding). Default 10 MiB.
	MaxResponseBytes int64
	// Resolver resolves host names. Default net.DefaultResolver.
	Resolver Resolver
	// Dial connects to a checked address. Default: a net.Dialer whose
	// Control hook checks the connected address once more.
	Dial DialFunc
}

// Defaults of Policy.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 10 << 20
)

// DefaultDeny returns the address ranges denied by default: unspecified,
// loopback, RFC 1918 private, carrier-grade NAT, link-local (where cloud
// metadata services live), unique-local, multicast, broadcast and other
// reserved ranges, and the IPv6 forms that embed IPv4 addresses. IPv4-
// mapped IPv6 addresses (::ffff:a.b.c.d) are checked as the IPv4 address
// they map.
func DefaultDeny() []netip.Prefix {
	s := []string{
		"0.0.0.0/8",          // "this network"
		"10.0.0.0/8",         // RFC 1918
		"100.64.0.0/10",      // carrier-grade NAT
		"127.0.0.0/8",        // loopback
		"169.254.0.0/16",     // link-local, cloud metadata
		"172.16.0.0/12",      // RFC 1918
		"192.0.0.0/24",       // IETF protocol assignments
		"192.168.0.0/16",     // RFC 1918
		"198.18.0.0/15",      // benchmarking
		"224.0.0.0/4",        // multicast
		"240.0.0.0/4",        // reserved
		"255.255.255.255/32", // broadcast
		"::/96",              // unspecified, loopback, IPv4-compatible
		"::ffff:0:0/96",      // IPv4-mapped (also checked unmapped)
		"::ffff:0:0:0/96",    // IPv4-translated
		"64:ff9b::/96",       // NAT64: reaches IPv4 space through a gateway
		"64:ff9b:1::/48",     // local-use NAT64
		"100::/64",           // discard-only
		"2001::/32",          // Teredo: embeds an IPv4 address
		"2001:db8::/32",      // documentation
		"2002::/16",          // 6to4: embeds an IPv4 address
		"fc00::/7",           // unique-local
		"fe80::/10",          // link-local
		"fec0::/10",          // site-local (deprecated)
		"ff00::/8",           // multicast
	}
	out := make([]netip.Prefix, 0, len(s))
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// Errors. They wrap the hosting/worker sentinels the runtime maps to the
// guest's error codes (egress_denied, response_too_large).
var (
	// ErrDenied: the destination is not allowed. It wraps
	// worker.ErrEgressDenied.
	ErrDenied error = &sentinel{"egress: destination denied", worker.ErrEgressDenied}
	// ErrResponseTooLarge: the response body exceeded MaxResponseBytes.
	// It wraps worker.ErrResponseTooLarge.
	ErrResponseTooLarge error = &sentinel{"egress: response too large", worker.ErrResponseTooLarge}
)

// sentinel is an error of this package that is also the runtime's.
type sentinel struct {
	msg  string
	also error
}

func (s *sentinel) Error() string { return s.msg }
func (s *sentinel) Unwrap() error { return s.also }

// Transport returns the RoundTripper of plan's fetches. Each call builds a
// new transport with its own connection pool: callers keep one per plan.
// It never follows redirects and never uses a proxy.
func (p *Policy) Transport(plan string) http.RoundTripper {
	c := p.compile(plan)
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    c.timeout,
		ResponseHeaderTimeout:  c.timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &transport{c: c, next: t}
}

// compiled is a Policy resolved for one plan.
type compiled struct {
	deny      []netip.Prefix
	allowAPs  []netip.AddrPort // exempt from deny, unmapped
	platIPs   []platformIP     // IP and CIDR entries of Platform
	platNames []hostPort       // name entries of Platform
	allow     []string         // lowercased globs
	denyHosts []string
	timeout   time.Duration
	maxBody   int64
	resolver  Resolver
	dialer    DialFunc
}

type hostPort struct {
	host string // lowercase, no trailing dot
	port string // "" = any
}

type platformIP struct {
	prefix netip.Prefix
	port   string // "" = any
}

func (p *Policy) compile(plan string) *compiled {
	c := &compiled{
		deny:     p.Deny,
		timeout:  p.Timeout,
		maxBody:  p.MaxResponseBytes,
		resolver: p.Resolver,
		dialer:   p.Dial,
	}
	if c.deny == nil {
		c.deny = DefaultDeny()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	if c.dialer == nil {
		d := &net.Dialer{Timeout: c.timeout, Control: c.control}
		c.dialer = d.DialContext
	}
	for _, e := range p.Platform {
		c.addPlatform(e)
	}
	for _, ap := range p.AllowAddrs {
		c.allowAPs = append(c.allowAPs, netip.AddrPortFrom(ap.Addr().WithZone("").Unmap(), ap.Port()))
	}
	if r, ok := p.Plans[plan]; ok {
		for _, g := range r.Allow {
			c.allow = append(c.allow, canonicalHost(g))
		}
		for _, g := range r.Deny {
			c.denyHosts = append(c.denyHosts, canonicalHost(g))
		}
	}
	return c
}

// addPlatform classifies one Platform entry.
func (c *compiled) addPlatform(e string) {
	e = strings.TrimSpace(e)
	if e == "" {
		return
	}
	if pf, err := netip.ParsePrefix(e); err == nil {
		c.platIPs = append(c.platIPs, platformIP{prefix: pf.Masked()})
		return
	}
	host, port := e, ""
	if h, pt, err := net.SplitHostPort(e); err == nil {
		host, port = h, pt
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.WithZone("").Unmap()
		c.platIPs = append(c.platIPs, platformIP{prefix: netip.PrefixFrom(a, a.BitLen()), port: port})
		return
	}
	c.platNames = append(c.platNames, hostPort{host: canonicalHost(host), port: port})
}

// canonicalHost lowercases h and drops a trailing dot and IPv6 brackets.
func canonicalHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// matchGlob reports whether host matches glob ("*", "*.suffix" or a name).
func matchGlob(glob, host string) bool {
	switch {
	case glob == "*":
		return true
	case strings.HasPrefix(glob, "*."):
		return len(host) > len(glob)-1 && strings.HasSuffix(host, glob[1:])
	default:
		return glob == host
	}
}

// checkHost applies the name rules to a request's host and port.
func (c *compiled) checkHost(host, port string) error {
	for _, g := range c.denyHosts {
		if matchGlob(g, host) {
			return fmt.Errorf("%w: host %s is on the plan's deny list", ErrDenied, host)
		}
	}
	if len(c.allow) > 0 {
		ok := false
		for _, g := range c.allow {
			if matchGlob(g, host) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: host %s is not on the plan's allow list", ErrDenied, host)
		}
	}
	for _, n := range c.platNames {
		if n.host == host && (n.port == "" || n.port == port) {
			return fmt.Errorf("%w: host %s is a platform endpoint", ErrDenied, host)
		}
	}
	return nil
}

// checkAddr applies the address rules to one resolved address.
func (c *compiled) checkAddr(a netip.Addr, port string) error {
	a = a.WithZone("")
	forms := [2]netip.Addr{a, a.Unmap()}
	exempt := c.exempt(a.Unmap(), port)
	for _, f := range forms {
		for _, pf := range c.deny {
			if exempt {
				break
			}
			if pf.Contains(f) {
				return fmt.Errorf("%w: address %s is in denied range %s", ErrDenied, a, pf)
			}
		}
		for _, pi := range c.platIPs {
			if pi.prefix.Contains(f) && (pi.port == "" || pi.port == port) {
				return fmt.Errorf("%w: address %s is a platform endpoint", ErrDenied, a)
			}
		}
	}
	return nil
}

// exempt reports whether a (unmapped) and port are one of AllowAddrs.
func (c *compiled) exempt(a netip.Addr, port string) bool {
	for _, ap := range c.allowAPs {
		if ap.Addr() == a && strconv.Itoa(int(ap.Port())) == port {
			return true
		}
	}
	return false
}

// dial resolves addr's host, checks every address and the platform's own
// names' addresses, and connects to the first checked address that
// answers.
func (c *compiled) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: dialling %q: %w", addr, err)
	}
	host = canonicalHost(host)
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ipNet := "ip"
		switch network {
		case "tcp4":
			ipNet = "ip4"
		case "tcp6":
			ipNet = "ip6"
		}
		addrs, err = c.resolver.LookupNetIP(ctx, ipNet, host)
		if err != nil {
			return nil, fmt.Errorf("egress: resolving %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("egress: resolving %s: no addresses", host)
		}
	}
	// Every address must pass: a name that resolves to one public and one
	// private address is denied rather than dialled in an order the
	// resolver controls.
	for _, a := range addrs {
		if err := c.checkAddr(a, port); err != nil {
			return nil, fmt.Errorf("egress: %s: %w", host, err)
		}
	}
	if err := c.checkPlatformNames(ctx, addrs, port); err != nil {
		return nil, fmt.Errorf("egress: %s: %w", host, err)
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := c.dialer(ctx, network, netip.AddrPortFrom(a.WithZone(""), parsePort(port)).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("egress: connecting to %s: %w", host, firstErr)
}

// checkPlatformNames denies addrs that a platform host name resolves to.
// A failed lookup denies (fail closed).
func (c *compiled) checkPlatformNames(ctx context.Context, addrs []netip.Addr, port string) error {
	for _, n := range c.platNames {
		if n.port != "" && n.port != port {
			continue
		}
		var plat []netip.Addr
		if a, err := netip.ParseAddr(n.host); err == nil {
			plat = []netip.Addr{a}
		} else {
			var err error
			plat, err = c.resolver.LookupNetIP(ctx, "ip", n.host)
			if err != nil {
				return fmt.Errorf("%w: cannot resolve platform endpoint %s: %w", ErrDenied, n.host, err)
			}
		}
		for _, pa := range plat {
			for _, a := range addrs {
				if pa.WithZone("").Unmap() == a.WithZone("").Unmap() {
					return fmt.Errorf("%w: address %s is platform endpoint %s", ErrDenied, a, n.host)
				}
			}
		}
	}
	return nil
}

func parsePort(s string) uint16 {
	n, _ := strconv.ParseUint(s, 10, 16)
	return uint16(n)
}

// control re-checks the address the default dialer connects to.
func (c *compiled) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrDenied, address)
	}
	return c.checkAddr(ap.Addr(), strconv.Itoa(int(ap.Port())))
}

// transport applies the request-level rules around an http.Transport.
type transport struct {
	c    *compiled
	next *http.Transport
}

// RoundTrip makes one exchange under the policy: http(s) only, host rules,
// the overall timeout and the body cap.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		return nil, closeBody(req, fmt.Errorf("%w: request without URL", ErrDenied))
	}
	switch req.URL.Scheme {
	case "http", "https":
	default:
		return nil, closeBody(req, fmt.Errorf("%w: scheme %q (only http and https)", ErrDenied, req.URL.Scheme))
	}
	host := canonicalHost(req.URL.Hostname())
	if host == "" {
		return nil, closeBody(req, fmt.Errorf("%w: request without host", ErrDenied))
	}
	port := req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	if err := t.c.checkHost(host, port); err != nil {
		return nil, closeBody(req, err)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.c.timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.ContentLength > t.c.maxBody {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%w: %d bytes declared, the limit is %d", ErrResponseTooLarge, resp.ContentLength, t.c.maxBody)
	}
	resp.Body = &cappedBody{r: resp.Body, left: t.c.maxBody, max: t.c.maxBody, cancel: cancel}
	return resp, nil
}

// closeBody closes a request body RoundTrip will not send, as the
// RoundTripper contract requires, and returns err.
func closeBody(req *http.Request, err error) error {
	if req.Body != nil {
		req.Body.Close()
	}
	return err
}

// cappedBody fails once more than max bytes are read and releases the
// request's timeout when closed.
type cappedBody struct {
	r      io.ReadCloser
	left   int64
	max    int64
	cancel context.CancelFunc
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n + int(b.left), b.tooLarge()
	}
	return n, err
}

func (b *cappedBody) tooLarge() error {
	return fmt.Errorf("%w: the limit is %d bytes", ErrResponseTooLarge, b.max)
}

func (b *cappedBody) Close() error {
	err := b.r.Close()
	b.cancel()
	return err
}

var (
	_ Resolver          = (*net.Resolver)(nil)
	_ http.RoundTripper = (*transport)(nil)
)
