// Package tlspolicy is the one home of Pier's TLS policy: which hostnames
// may get a certificate (active custom domains; platform hosts by Mode),
// whose order budget pays for it, which ACME challenges another node's
// order may have sent here, which names are redirected to HTTPS, and how
// certificate progress reaches the store. It keeps what it needs in memory
// (DomainSet, SiteSet) so that a TLS handshake never waits on the
// database, and follows changes as the admin API and the store's change
// feed report them (SiteChanged, DomainChanged, Resync).
//
// certs stays free of tenants: the Policy's methods are the decision funcs
// cmd/pier hands to certs.Config. Only cmd/ imports this package.
package tlspolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/certs"
	"github.com/pierhq/pier/internal/dnsname"
)

// Mode is how platform hosts (<site>.<domain> and previews) get
// certificates. Custom domains get theirs whenever TLS is on.
type Mode string

// The modes.
const (
	Off      Mode = ""         // no TLS
	Wildcard Mode = "wildcard" // one *.<domain> through ACME DNS-01
	PerSite  Mode = "per-site" // <site>.<domain> on demand, existing sites only; no previews
	Internal Mode = "internal" // every name under the domain from the internal CA
)

// Summary says, for the start-up log, what covers platform hosts.
func (m Mode) Summary(domain string) string {
	switch m {
	case Wildcard:
		return fmt.Sprintf("wildcard certificate for *.%s through ACME DNS-01 (--dns01-webhook), sites and previews", domain)
	case PerSite:
		return fmt.Sprintf("per-site certificates on demand for existing <site>.%s (HTTP-01/TLS-ALPN-01); previews have no HTTPS without --dns01-webhook", domain)
	case Internal:
		return fmt.Sprintf("internal CA for every name under %s (development)", domain)
	}
	return "no TLS"
}

// Covers reports whether platform host (a name under domain) is served
// over HTTPS in this mode: every name under the domain with the wildcard
// or the internal CA, sites but not previews per site.
func (m Mode) Covers(host, domain string) bool {
	switch m {
	case Wildcard, Internal:
		return dnsname.InDomain(host, domain) && host != domain
	case PerSite:
		_, ok := PlatformSite(host, domain)
		return ok
	}
	return false
}

// PlatformSite returns the site of host when host is <site>.<domain>
// exactly — not a preview (<deployment>--<site>), nor a deeper name.
func PlatformSite(host, domain string) (string, bool) { return dnsname.SiteOf(host, domain) }

// Store is what the policy reads; tenants.Store satisfies it.
type Store interface {
	DomainLister
	SiteLister
}

// Certificates is what the policy asks of the certificate manager;
// *certs.Manager satisfies it.
type Certificates interface {
	// Obtain requests host's certificate in the background.
	Obtain(host string) error
	// Forget stops serving and renewing host's certificate.
	Forget(host string)
	// HasCertificate reports whether a valid certificate for host is in
	// memory.
	HasCertificate(host string) bool
}

// Config configures a Policy. Zero fields take the defaults documented on
// them.
type Config struct {
	// Domain is the platform domain: sites are <site>.<Domain>. Required.
	Domain string
	// Mode is how platform hosts get certificates. Default Off (custom
	// domains only, when a Certificates is attached).
	Mode Mode
	// ConsoleHost, when set, is the public name of the console and the
	// API (pier serve --console-host): it gets a certificate like a
	// platform host, charged to no tenant, and plain HTTP for it is
	// redirected to HTTPS once the certificate is in memory.
	ConsoleHost string
	// Sets configures the in-memory copies of the active custom domains
	// and of the sites (reload period, staleness, lookup timeout, clock).
	Sets DomainSetConfig
	// TenantLookupTimeout bounds the store lookup TenantOf makes for a
	// custom domain (once per order, never per handshake). Default 5s.
	TenantLookupTimeout time.Duration
	// Logger receives reload and certificate-request failures. Default:
	// discard.
	Logger *slog.Logger
}

// Policy decides which names get certificates. Build it with New, Load it
// before serving, attach the certificate manager with UseCertificates,
// and Run it. Its methods are safe for concurrent use.
type Policy struct {
	cfg        Config
	store      Store
	log        *slog.Logger
	domains    *DomainSet
	sites      *SiteSet // nil unless Mode is PerSite
	challenges *challengeLookup

	certs atomic.Pointer[Certificates] // nil until UseCertificates
}

// New returns a Policy over store; it knows nothing until Load.
func New(store Store, cfg Config) *Policy {
	if cfg.TenantLookupTimeout <= 0 {
		cfg.TenantLookupTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Policy{
		cfg:     cfg,
		store:   store,
		log:     cfg.Logger,
		domains: NewDomainSet(store, cfg.Sets),
	}
	if cfg.Mode == PerSite {
		p.sites = NewSiteSet(store, cfg.Sets)
		// A site that leaves the set (deleted, its tenant disabled) has
		// its certificate forgotten: no longer served or renewed.
		p.sites.removed = func(name string) {
			if c := p.attached(); c != nil {
				c.Forget(name + "." + p.cfg.Domain)
			}
		}
	}
	p.challenges = newChallengeLookup(func(ctx context.Context, h string) bool {
		_, err := store.ActiveDomain(ctx, h)
		return err == nil
	})
	return p
}

// Load fills the in-memory sets from the store. A failure is returned but
// not fatal: the sets say no until Run loads them.
func (p *Policy) Load(ctx context.Context) error {
	err := p.domains.Refresh(ctx)
	if p.sites != nil {
		err = errors.Join(err, p.sites.Refresh(ctx))
	}
	return err
}

// UseCertificates attaches the certificate manager that the site set's
// removals, DomainChanged and ObtainAll drive.
func (p *Policy) UseCertificates(c Certificates) { p.certs.Store(&c) }

// attached is the certificate manager, or nil before UseCertificates.
func (p *Policy) attached() Certificates {
	if c := p.certs.Load(); c != nil {
		return *c
	}
	return nil
}

// Run reloads the sets periodically until ctx ends.
func (p *Policy) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		p.domains.Run(ctx, func(err error) { p.log.Warn("reloading active custom domains", "err", err) })
	})
	if p.sites != nil {
		wg.Go(func() {
			p.sites.Run(ctx, func(err error) { p.log.Warn("reloading sites", "err", err) })
		})
	}
	wg.Wait()
}

// Allow is certs.Config.Allow: whether a certificate may be obtained,
// loaded or served for host (lowercase, punycode): an active custom
// domain, or a platform host the Mode covers on demand — under the
// internal CA any name under the domain, per site only sites that exist,
// so junk names under the domain spend no ACME budget and touch no
// storage. From memory; no when unsure.
func (p *Policy) Allow(host string) bool {
	if p.domains.IsActive(host) || host == p.cfg.ConsoleHost && host != "" {
		return true
	}
	switch p.cfg.Mode {
	case Internal:
		return dnsname.InDomain(host, p.cfg.Domain) && host != p.cfg.Domain
	case PerSite:
		site, ok := PlatformSite(host, p.cfg.Domain)
		return ok && p.sites.Has(site)
	}
	return false
}

// AllowChallenge is certs.Config.AllowChallenge: whether an ACME
// challenge for host, which Allow refused, may be answered because host
// is an active custom domain in the store (another node placed the
// order). Rate-limited; no when over the limit or unsure.
func (p *Policy) AllowChallenge(host string) bool { return p.challenges.allow(host) }

// TenantOf is certs.Config.TenantOf: the tenant whose order budget pays
// for host's certificate; "" counts only against the global budget (the
// wildcard, unknown names). Asked once per order, never per handshake, so
// for a custom domain it may ask the store.
func (p *Policy) TenantOf(host string) string {
	if site, ok := PlatformSite(host, p.cfg.Domain); ok {
		if p.sites == nil {
			return ""
		}
		t, _ := p.sites.TenantOf(site)
		return t
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.TenantLookupTimeout)
	defer cancel()
	if d, err := p.store.ActiveDomain(ctx, host); err == nil {
		return d.TenantID
	}
	return ""
}

// RedirectToHTTPS reports whether a plain-HTTP request for host
// (normalised) is sent to HTTPS: an active custom domain, or the console
// host, whose certificate is in memory. Until then, and when issuance
// fails, the name stays reachable over HTTP rather than redirected to a
// failing handshake.
func (p *Policy) RedirectToHTTPS(host string) bool {
	c := p.attached()
	if c == nil {
		return false
	}
	console := host == p.cfg.ConsoleHost && host != ""
	return (console || p.domains.IsActive(host)) && c.HasCertificate(host)
}

// SiteChanged follows a site that was created, deployed, deleted, or
// whose tenant was disabled or enabled: per site, the site set is
// reloaded soon (by Run), and a site that left it has its certificate
// forgotten then. A site's certificate is obtained on its first HTTPS
// handshake, which waits for the issuance (certs.Config.IssuanceWait)
// instead of failing. Returns at once.
func (p *Policy) SiteChanged(name string) {
	if p.sites != nil {
		p.sites.Changed(name)
	}
}

// DomainChanged follows a hostname that started or stopped being an
// active custom domain: the domain set applies the store's answer at
// once, then an active name's certificate is obtained and an inactive
// one forgotten (no longer served or renewed). Returns at once.
func (p *Policy) DomainChanged(host string) {
	p.domains.Changed(host)
	if c := p.attached(); c != nil {
		go p.follow(c, host)
	}
}

// Resync reloads the sets after changes may have been missed (the change
// feed reconnected).
func (p *Policy) Resync() {
	p.domains.Changed("")
	if p.sites != nil {
		p.sites.Changed("")
	}
}

// follow obtains host's certificate when Allow says yes, and forgets it
// otherwise. A certificate already stored or in memory is not ordered
// again, but Obtain still reports its status, which a claim that took
// the name over needs.
func (p *Policy) follow(c Certificates, host string) {
	if !p.Allow(host) {
		c.Forget(host)
		return
	}
	if err := c.Obtain(host); err != nil && !errors.Is(err, certs.ErrNotAllowed) && !errors.Is(err, certs.ErrClosed) {
		p.log.Warn("requesting certificate", "host", host, "err", err)
	}
}

// ObtainAll requests (or, when stored, loads into memory) the certificate
// of every active custom domain and of the console host. Call it at start-up, after Load and
// UseCertificates. Sites' certificates are not: they are obtained on
// demand, at a site's first HTTPS handshake, so a platform with many idle
// sites neither loads nor orders them all.
func (p *Policy) ObtainAll(ctx context.Context) error {
	c := p.attached()
	if c == nil {
		return nil
	}
	hosts, err := p.store.ActiveDomains(ctx)
	if err != nil {
		return fmt.Errorf("tlspolicy: listing active domains: %w", err)
	}
	if p.cfg.ConsoleHost != "" {
		hosts = append(hosts, p.cfg.ConsoleHost)
	}
	for _, h := range hosts {
		p.follow(c, h)
	}
	return nil
}

// EdgeURL returns the URL of a platform host for API answers: https on
// the HTTPS port when the Mode serves host over HTTPS, else http on the
// HTTP port. Ports are ":port" suffixes, empty for the default.
func (p *Policy) EdgeURL(httpPort, httpsPort string) func(host string) string {
	return func(host string) string {
		if p.cfg.Mode.Covers(host, p.cfg.Domain) {
			return "https://" + host + httpsPort + "/"
		}
		return "http://" + host + httpPort + "/"
	}
}
