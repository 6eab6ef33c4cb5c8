package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/pierhq/pier/certs"
	"github.com/pierhq/pier/certs/dnshook"
	"github.com/pierhq/pier/certs/pgstorage"
	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/tenants"
)

// tlsFlags are `pier serve`'s TLS flags and their PIER_* twins.
type tlsFlags struct {
	HTTPS            string
	ACMECA           string
	ACMEEmail        string
	ACMECARoot       string
	Internal         bool
	OrdersPerHour    int
	OrdersPerHourTen int
	// DNS-01 for the platform's wildcard certificate.
	DNS01Webhook  string
	DNS01User     string
	DNS01Password string
	DNS01Resolver string
}

// How platform hosts (<site>.<domain>, previews) get certificates.
const (
	platformTLSOff      = ""         // no TLS
	platformTLSWildcard = "wildcard" // *.<domain> through DNS-01 (--dns01-webhook)
	platformTLSPerSite  = "per-site" // <site>.<domain> on demand, existing sites only; no previews
	platformTLSInternal = "internal" // every name under the domain from the internal CA
)

// platformTLS is how platform hosts get certificates with these flags
// (startTLS rejects contradictory ones).
func (f *tlsFlags) platformTLS() string {
	switch {
	case f.Internal:
		return platformTLSInternal
	case f.HTTPS == "":
		return platformTLSOff
	case f.DNS01Webhook != "":
		return platformTLSWildcard
	}
	return platformTLSPerSite
}

// platformSite returns the site of host when host is <site>.<domain>
// exactly — not a preview (<deployment>--<site>), nor a deeper name.
func platformSite(host, domain string) (string, bool) {
	return dnsname.SiteOf(host, domain)
}

// registerTLSFlags adds the TLS flags to fs.
func registerTLSFlags(fs *flag.FlagSet, ev *envDefaults) *tlsFlags {
	f := &tlsFlags{}
	fs.StringVar(&f.HTTPS, "https", ev.str("PIER_HTTPS", ""), "HTTPS listen address (e.g. :443); turns on TLS, --http then also answers ACME HTTP-01 (default <host of --http>:8443 with --tls-internal)")
	fs.StringVar(&f.ACMECA, "acme-ca", ev.str("PIER_ACME_CA", certmagic.LetsEncryptProductionCA), "ACME directory URL of the CA issuing custom domains' certificates (using it accepts its subscriber agreement)")
	fs.StringVar(&f.ACMEEmail, "acme-email", ev.str("PIER_ACME_EMAIL", ""), "contact e-mail of the ACME account (expiry notices)")
	fs.StringVar(&f.ACMECARoot, "acme-ca-root", ev.str("PIER_ACME_CA_ROOT", ""), "PEM file of a root to trust when talking to the ACME CA (a private CA such as Pebble)")
	fs.BoolVar(&f.Internal, "tls-internal", ev.boolean("PIER_TLS_INTERNAL", false), "issue certificates from a local self-signed CA instead of ACME (development: https://<site>.localhost:8443); its root is written to <data>/tls-internal-root.pem")
	fs.IntVar(&f.OrdersPerHour, "cert-orders-per-hour", int(ev.integer("PIER_CERT_ORDERS_PER_HOUR", certs.DefaultMaxOrdersPerHour)), "cap on new certificate orders per hour, counted across all nodes sharing the certificate storage (-1: no cap, 0: the default)")
	fs.IntVar(&f.OrdersPerHourTen, "cert-orders-per-hour-per-tenant", int(ev.integer("PIER_CERT_ORDERS_PER_HOUR_PER_TENANT", certs.DefaultMaxOrdersPerHourPerTenant)), "cap on new certificate orders per hour per tenant, counted across all nodes sharing the certificate storage (-1: no cap, 0: the default)")
	fs.StringVar(&f.DNS01Webhook, "dns01-webhook", ev.str("PIER_DNS01_WEBHOOK", ""), "URL of a DNS webhook (lego httpreq protocol: POST <url>/present and <url>/cleanup) that sets ACME DNS-01 TXT records; with it platform hosts and previews share one wildcard certificate for *.<domain>")
	fs.StringVar(&f.DNS01User, "dns01-webhook-user", ev.str("PIER_DNS01_WEBHOOK_USER", ""), "HTTP basic-auth user for --dns01-webhook")
	// The password's env twin is read in startTLS, not as the default, so
	// --help never prints it.
	fs.StringVar(&f.DNS01Password, "dns01-webhook-password", "", "HTTP basic-auth password for --dns01-webhook (better: PIER_DNS01_WEBHOOK_PASSWORD, as flags show in ps)")
	fs.StringVar(&f.DNS01Resolver, "dns01-resolver", ev.str("PIER_DNS01_RESOLVER", ""), "DNS servers (host:port, comma-separated) that find the zone of DNS-01 records and check they have propagated (default: the system's, then the zone's authoritative servers)")
	return f
}

// defaultHTTPS is the HTTPS address --tls-internal listens on without
// --https: port 8443 on the host of --http, so a loopback-only edge does
// not get an HTTPS listener on every interface.
func defaultHTTPS(httpAddr string) string {
	host, _, err := net.SplitHostPort(httpAddr)
	if err != nil {
		host = ""
	}
	return net.JoinHostPort(host, "8443")
}

// validate checks the TLS flags before anything is written or listened
// on, and sets the --tls-internal default of --https. given reports
// whether a flag was set on the command line or through its PIER_* twin.
func (f *tlsFlags) validate(given func(name string) bool, httpAddr, domain string) error {
	httpsDefaulted := false
	if f.Internal && f.HTTPS == "" {
		f.HTTPS = defaultHTTPS(httpAddr)
		httpsDefaulted = true
	}
	tlsOn := f.HTTPS != ""
	// Flags that only mean something with TLS on.
	for _, name := range []string{"acme-ca", "acme-email", "acme-ca-root", "cert-orders-per-hour", "cert-orders-per-hour-per-tenant", "dns01-webhook", "dns01-webhook-user", "dns01-webhook-password", "dns01-resolver"} {
		if given(name) && !tlsOn {
			return fmt.Errorf("serve: --%s is set but TLS is off; add --https ADDR (e.g. --https :443) or --tls-internal", name)
		}
	}
	if f.Internal {
		// The internal CA issues everything itself.
		for _, name := range []string{"acme-ca", "acme-email", "acme-ca-root", "dns01-webhook"} {
			if given(name) {
				return fmt.Errorf("serve: --%s has no effect with --tls-internal (the internal CA issues every certificate itself); drop one of them", name)
			}
		}
	}
	if !tlsOn {
		return nil
	}
	if u, err := url.Parse(f.ACMECA); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("serve: --acme-ca %q is not an https:// URL (an ACME directory, e.g. %s)", f.ACMECA, certmagic.LetsEncryptProductionCA)
	}
	if f.ACMEEmail != "" && !looksLikeEmail(f.ACMEEmail) {
		return fmt.Errorf("serve: --acme-email %q is not an e-mail address (like ops@example.com)", f.ACMEEmail)
	}
	for _, o := range []struct {
		name string
		v    int
	}{{"cert-orders-per-hour", f.OrdersPerHour}, {"cert-orders-per-hour-per-tenant", f.OrdersPerHourTen}} {
		if o.v < -1 {
			return fmt.Errorf("serve: --%s %d: use a positive cap, 0 for the default or -1 for no cap", o.name, o.v)
		}
	}
	if f.DNS01Webhook != "" {
		if _, err := dnshook.New(dnshook.Config{URL: f.DNS01Webhook}); err != nil {
			return fmt.Errorf("serve: --dns01-webhook: %w", err)
		}
		if _, ok := certs.Normalize(domain); !ok {
			return fmt.Errorf("serve: --dns01-webhook needs a public --domain with at least two labels (e.g. pier.example.com), not %q", domain)
		}
	}
	if sameListenAddr(f.HTTPS, httpAddr) {
		https := "--https " + f.HTTPS
		if httpsDefaulted {
			https = "--https (default " + f.HTTPS + " with --tls-internal)"
		}
		return fmt.Errorf("serve: %s and --http %s are the same address; give HTTPS its own port (e.g. --https :443, --http :80)", https, httpAddr)
	}
	return nil
}

// looksLikeEmail: exactly one @ with something either side, no spaces.
func looksLikeEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@") &&
		!strings.ContainsFunc(s, unicode.IsSpace)
}

// sameListenAddr reports whether listening on a and b would clash: the
// same port (not 0) on the same host, or on a wildcard host.
func sameListenAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// tlsOptions is what startTLS needs besides the flags.
type tlsOptions struct {
	Domain   string // platform domain: the wildcard is *.<Domain>
	Data     string // data directory (file certificate storage)
	DB       string // --db: PostgreSQL URLs share certificate storage between nodes
	HTTPAddr string // --http: where ACME HTTP-01 validation arrives
	// Allow: a certificate may be obtained and served for host (an active
	// custom domain, a platform host); from memory, no when unsure.
	Allow func(host string) bool
	// AllowChallenge: an ACME challenge for a name Allow refuses may be
	// answered (another node placed the order); rate-limited lookups.
	AllowChallenge func(host string) bool
	// TenantOf: the tenant host belongs to, for the order budget.
	TenantOf func(host string) string
	Logger   *slog.Logger
}

// tlsServer is the HTTPS side of `pier serve`.
type tlsServer struct {
	Manager  *certs.Manager
	srv      *http.Server
	ln       net.Listener
	allow    func(string) bool
	pool     *pgxpool.Pool
	storage  *pgstorage.Storage
	rootFile string
	status   *certStatusSync
}

// startTLS listens on --https and builds the certificate manager; it
// returns nil, nil when TLS is off. Serve it with Serve; handler is the
// edge.
func startTLS(ctx context.Context, f *tlsFlags, o tlsOptions, handler http.Handler) (*tlsServer, error) {
	if f.HTTPS == "" && f.Internal {
		f.HTTPS = defaultHTTPS(o.HTTPAddr)
	}
	if f.HTTPS == "" {
		return nil, nil
	}
	if o.Allow == nil {
		return nil, errors.New("serve: TLS needs a decision func")
	}
	var provider *dnshook.Provider
	if f.DNS01Webhook != "" {
		if f.Internal {
			return nil, errors.New("serve: --dns01-webhook and --tls-internal exclude each other (the internal CA covers platform hosts without DNS)")
		}
		if f.DNS01Password == "" {
			f.DNS01Password = os.Getenv("PIER_DNS01_WEBHOOK_PASSWORD")
		}
		var err error
		provider, err = dnshook.New(dnshook.Config{URL: f.DNS01Webhook, Username: f.DNS01User, Password: f.DNS01Password})
		if err != nil {
			return nil, fmt.Errorf("serve: --dns01-webhook: %w", err)
		}
		if _, ok := certs.Normalize(o.Domain); !ok {
			return nil, fmt.Errorf("serve: --dns01-webhook needs a public --domain with at least two labels (e.g. pier.example.com), not %q", o.Domain)
		}
	}
	ln, err := net.Listen("tcp", f.HTTPS)
	if err != nil {
		return nil, fmt.Errorf("serve: https listener: %w", err)
	}
	t := &tlsServer{ln: ln, allow: o.Allow, status: newCertStatusSync()}
	fail := func(err error) (*tlsServer, error) {
		t.close()
		return nil, err
	}
	var storage certmagic.Storage
	if strings.HasPrefix(o.DB, "postgres://") || strings.HasPrefix(o.DB, "postgresql://") {
		t.pool, err = pgxpool.New(ctx, o.DB)
		if err != nil {
			return fail(fmt.Errorf("serve: certificate storage: %w", err))
		}
		t.storage, err = pgstorage.New(ctx, pgstorage.Config{Pool: t.pool, Logger: o.Logger})
		if err != nil {
			return fail(fmt.Errorf("serve: certificate storage: %w", err))
		}
		storage = t.storage
	}
	listenHost, _, _ := net.SplitHostPort(f.HTTPS)
	cfg := certs.Config{
		Storage:                   storage,
		DataDir:                   o.Data,
		CA:                        f.ACMECA,
		Email:                     f.ACMEEmail,
		CARootFile:                f.ACMECARoot,
		Internal:                  f.Internal,
		Allow:                     o.Allow,
		AllowChallenge:            o.AllowChallenge,
		TenantOf:                  o.TenantOf,
		MaxOrdersPerHour:          f.OrdersPerHour,
		MaxOrdersPerHourPerTenant: f.OrdersPerHourTen,
		ListenHost:                listenHost,
		OnChange:                  t.status.changed,
		TLSPort:                   ln.Addr().(*net.TCPAddr).Port,
		Logger:                    o.Logger,
	}
	if provider != nil {
		cfg.DNS01Provider = provider
		cfg.Wildcards = []string{"*." + o.Domain}
		for _, r := range strings.Split(f.DNS01Resolver, ",") {
			if r = strings.TrimSpace(r); r != "" {
				cfg.DNS01Resolvers = append(cfg.DNS01Resolvers, r)
			}
		}
	}
	if _, port, err := net.SplitHostPort(o.HTTPAddr); err == nil {
		cfg.HTTPPort, _ = strconv.Atoi(port)
	}
	t.Manager, err = certs.New(cfg)
	if err != nil {
		return fail(fmt.Errorf("serve: %w", err))
	}
	if root := t.Manager.InternalRootPEM(); root != nil {
		t.rootFile = filepath.Join(o.Data, "tls-internal-root.pem")
		if err := writeFileAtomic(t.rootFile, root); err != nil {
			return fail(fmt.Errorf("serve: writing internal CA root: %w", err))
		}
	}
	t.srv = hosting.NewServer(f.HTTPS, handler)
	t.srv.TLSConfig = t.Manager.TLSConfig()
	return t, nil
}

// ReportStatus writes certificate progress (pending issuance, active,
// failed with the reason and next retry) through set until ctx ends;
// changes before the call are kept and written then. set's
// tenants.ErrNotFound (the domain is no longer active) is ignored.
func (t *tlsServer) ReportStatus(ctx context.Context, set func(ctx context.Context, host, status, certErr string, nextRetry time.Time) error, log *slog.Logger) {
	t.status.run(ctx, t.Manager.Status, set, log)
}

// HTTPHandler wraps the plain-HTTP edge: ACME HTTP-01 challenges are
// answered before anything else.
func (t *tlsServer) HTTPHandler(next http.Handler) http.Handler {
	return t.Manager.HTTPChallengeHandler(next)
}

// OnDomainChange follows a hostname that became or stopped being an
// active custom domain: an active one is obtained at once (so the first
// visitor does not wait), an inactive one forgotten (no longer served or
// renewed). Call it after the in-memory decision set has taken the change
// in.
func (t *tlsServer) OnDomainChange(host string) {
	if t.allow(host) {
		t.Manager.Obtain(context.Background(), host)
		return
	}
	t.Manager.Forget(host)
}

// ForgetUnlessAllowed forgets host's certificate (no longer served or
// renewed) when it is no longer allowed, e.g. a deleted site.
func (t *tlsServer) ForgetUnlessAllowed(host string) {
	if !t.allow(host) {
		t.Manager.Forget(host)
	}
}

// platformTLSSummary says, for the start-up log, what covers platform
// hosts in mode.
func platformTLSSummary(mode, domain string) string {
	switch mode {
	case platformTLSWildcard:
		return fmt.Sprintf("wildcard certificate for *.%s through ACME DNS-01 (--dns01-webhook), sites and previews", domain)
	case platformTLSPerSite:
		return fmt.Sprintf("per-site certificates on demand for existing <site>.%s (HTTP-01/TLS-ALPN-01); previews have no HTTPS without --dns01-webhook", domain)
	case platformTLSInternal:
		return fmt.Sprintf("internal CA for every name under %s (development)", domain)
	}
	return "no TLS"
}

// ObtainAll requests (or, when stored, loads) the certificate of every
// host; call it at start-up with the active custom domains.
func (t *tlsServer) ObtainAll(hosts []string) {
	for _, h := range hosts {
		t.Manager.Obtain(context.Background(), h)
	}
}

// Addr is the HTTPS listener's address.
func (t *tlsServer) Addr() net.Addr { return t.ln.Addr() }

// RootFile is where the internal CA's root was written ("" without
// --tls-internal).
func (t *tlsServer) RootFile() string { return t.rootFile }

// Serve serves HTTPS (HTTP/2 and HTTP/1.1) until Shutdown.
func (t *tlsServer) Serve() error {
	if err := t.srv.ServeTLS(t.ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops serving and releases the manager and its storage.
func (t *tlsServer) Shutdown(ctx context.Context) error {
	err := t.srv.Shutdown(ctx)
	t.close()
	return err
}

func (t *tlsServer) close() {
	if t.Manager != nil {
		t.Manager.Close()
	}
	if t.storage != nil {
		t.storage.Close()
	}
	if t.pool != nil {
		t.pool.Close()
	}
	t.ln.Close()
}

// writeFileAtomic writes data to path through a temporary file renamed
// into place, so a reader never sees half of it.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// certStatusSync carries the certificate manager's status changes to the
// store. The manager's notification may come on a handshake's goroutine,
// so it only marks the name; a single writer reads the manager's current
// status and stores it, which coalesces bursts and never blocks TLS.
type certStatusSync struct {
	mu    sync.Mutex
	dirty map[string]struct{}
	wake  chan struct{}
}

func newCertStatusSync() *certStatusSync {
	return &certStatusSync{dirty: make(map[string]struct{}), wake: make(chan struct{}, 1)}
}

func (s *certStatusSync) changed(host string) {
	s.mu.Lock()
	s.dirty[host] = struct{}{}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *certStatusSync) run(ctx context.Context, status func(string) certs.Status, set func(ctx context.Context, host, status, certErr string, nextRetry time.Time) error, log *slog.Logger) {
	for {
		s.mu.Lock()
		hosts := make([]string, 0, len(s.dirty))
		for h := range s.dirty {
			hosts = append(hosts, h)
		}
		clear(s.dirty)
		s.mu.Unlock()
		for _, h := range hosts {
			st, ok := domainCertStatus(status(h))
			if !ok {
				continue
			}
			err := set(ctx, h, st.status, st.err, st.retry)
			if err != nil && !errors.Is(err, tenants.ErrNotFound) && ctx.Err() == nil {
				log.Warn("recording certificate status", "host", h, "status", st.status, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
	}
}

type certStatusRecord struct {
	status, err string
	retry       time.Time
}

// domainCertStatus maps the manager's state to the domain's certificate
// status (DESIGN §3); false when there is nothing to record (the manager
// knows nothing of the name).
func domainCertStatus(s certs.Status) (certStatusRecord, bool) {
	switch s.State {
	case certs.StatePending:
		return certStatusRecord{status: tenants.CertPendingIssuance}, true
	case certs.StateActive:
		// A failed renewal keeps the current certificate active; its
		// reason is shown beside it.
		return certStatusRecord{status: tenants.CertActive, err: s.Reason}, true
	case certs.StateFailed:
		return certStatusRecord{status: tenants.CertFailed, err: s.Reason, retry: s.NextRetry}, true
	}
	return certStatusRecord{}, false
}

// challengeLookup decides ACME challenges for names the in-memory domain
// set does not know yet, from the store: with several nodes, the node
// that placed an order may not be the one the CA's validation reaches,
// and the others hear of a new domain a little later. Lookups are shared
// per name, their answers kept for a few seconds, and at most
// challengeLookupsPerSecond of them run (with a small burst), so junk
// challenge requests cannot load the database.
type challengeLookup struct {
	look  func(ctx context.Context, host string) bool
	group singleflight.Group
	now   func() time.Time

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	answers map[string]challengeAnswer
}

type challengeAnswer struct {
	yes bool
	at  time.Time
}

const (
	challengeLookupsPerSecond = 10
	challengeLookupBurst      = 20
	challengeAnswerTTL        = 5 * time.Second
	challengeAnswersMax       = 4096
	challengeLookupTimeout    = 3 * time.Second
)

func newChallengeLookup(look func(ctx context.Context, host string) bool) *challengeLookup {
	return &challengeLookup{look: look, now: time.Now, tokens: challengeLookupBurst, answers: make(map[string]challengeAnswer)}
}

// allow reports whether host is an active custom domain according to the
// store; no when the lookup budget is spent or the lookup fails.
func (c *challengeLookup) allow(host string) bool {
	now := c.now()
	c.mu.Lock()
	if a, ok := c.answers[host]; ok && now.Sub(a.at) < challengeAnswerTTL {
		c.mu.Unlock()
		return a.yes
	}
	c.tokens = min(challengeLookupBurst, c.tokens+now.Sub(c.last).Seconds()*challengeLookupsPerSecond)
	c.last = now
	if c.tokens < 1 {
		c.mu.Unlock()
		return false
	}
	c.tokens--
	c.mu.Unlock()
	v, _, _ := c.group.Do(host, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), challengeLookupTimeout)
		defer cancel()
		yes := c.look(ctx, host)
		c.mu.Lock()
		if len(c.answers) >= challengeAnswersMax {
			clear(c.answers)
		}
		c.answers[host] = challengeAnswer{yes: yes, at: c.now()}
		c.mu.Unlock()
		return yes, nil
	})
	return v.(bool)
}
