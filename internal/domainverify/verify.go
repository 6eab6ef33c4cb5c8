// Package domainverify proves that a tenant controls a hostname: a TXT
// record _pier-challenge.<host> holding the domain's token, or an HTTP
// answer at http://<host>/.well-known/pier-challenge/<token>; and it tells
// whether a hostname still points at the platform (a CNAME to the site's
// platform hostname or an address among the platform's public IPs).
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
	DefaultTimeout  = 10 * time.Second
	maxChallengeLen = 1024
)

// Verifier runs ownership and pointing checks. The zero value uses the
// system resolver and a default HTTP client. It is safe for concurrent use.
type Verifier struct {
	// Resolver answers DNS questions. Nil: net.DefaultResolver (the
	// system's). NewResolver builds one that asks a given server.
	Resolver *net.Resolver
	// HTTPClient fetches HTTP proofs. Nil: a client with a 10s timeout
	// that resolves through Resolver and follows at most 3 redirects.
	HTTPClient *http.Client
}

// NewResolver returns a resolver that sends every query to the DNS server
// at addr ("host:port"; the port defaults to 53), over UDP or TCP as the
// resolver chooses.
func NewResolver(addr string) *net.Resolver {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "53")
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

func (v *Verifier) resolver() *net.Resolver {
	if v.Resolver != nil {
		return v.Resolver
	}
	return net.DefaultResolver
}

func (v *Verifier) client() *http.Client {
	if v.HTTPClient != nil {
		return v.HTTPClient
	}
	d := &net.Dialer{Timeout: DefaultTimeout, Resolver: v.Resolver}
	return &http.Client{
		Timeout: DefaultTimeout,
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			ResponseHeaderTimeout: DefaultTimeout,
			DisableKeepAlives:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

// notFound reports whether a DNS error means the name or record does not
// exist (rather than a failure to ask).
func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// CheckTXT reports nil when a TXT record of _pier-challenge.<host> equals
// token, an error wrapping ErrNotProven when the records were read and
// none matches, and another error when DNS could not be asked.
func (v *Verifier) CheckTXT(ctx context.Context, host, token string) error {
	name := "_pier-challenge." + host
	txts, err := v.resolver().LookupTXT(ctx, name)
	if err != nil && !notFound(err) {
		return fmt.Errorf("domainverify: looking up TXT %s: %w", name, err)
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
// wrapping ErrNotProven when it answers something else, and another error
// when it cannot be reached.
func (v *Verifier) CheckHTTP(ctx context.Context, host, token, expectBody string) error {
	u := "http://" + host + ChallengePath + token
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("domainverify: %w: %s is not a valid URL", ErrNotProven, u)
	}
	resp, err := v.client().Do(req)
	if err != nil {
		return fmt.Errorf("domainverify: fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxChallengeLen))
	if err != nil {
		return fmt.Errorf("domainverify: reading %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d", ErrNotProven, u, resp.StatusCode)
	}
	if strings.TrimSpace(string(body)) != expectBody {
		return fmt.Errorf("%w: %s did not answer the expected token", ErrNotProven, u)
	}
	return nil
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
			return false, fmt.Errorf("domainverify: looking up CNAME %s: %w", host, err)
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
		return false, fmt.Errorf("domainverify: looking up %s: %w", host, err)
	}
	for _, a := range addrs {
		if public[a.Unmap()] {
			return true, nil
		}
	}
	return false, nil
}
