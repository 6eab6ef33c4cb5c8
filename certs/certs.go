// Package certs obtains, stores and serves TLS certificates for the edge
// with certmagic: an ACME issuer (Let's Encrypt by default; HTTP-01 and
// TLS-ALPN-01) or, for local development, an internal self-signed CA.
//
// Certificates are issued on demand during TLS handshakes, but only for
// names the caller's Allow func accepts, and proactively through Obtain as
// soon as a domain becomes active. A malformed or disallowed server name
// fails the handshake before certmagic sees it: no storage read, no ACME
// order. New orders are capped per hour, globally and per tenant, across
// every node sharing the Storage (an order ledger kept in it), and a name
// whose order failed is backed off on the node that ordered it; Status
// reports all of it.
//
// Wildcard certificates (Config.Wildcards, for the platform's own
// <site>.<domain> and preview names) are obtained through ACME DNS-01 with
// a Config.DNS01Provider (certs/dnshook speaks to an operator's webhook),
// kept managed and renewed by certmagic, and served from memory to every
// name directly under them without asking Allow or ordering anything.
//
// certs never imports tenants: main hands in Allow and TenantOf, answered
// from memory. Its hostname rules are internal/dnsname's. Shared storage for several nodes lives in certs/pgstorage.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// Certificate states reported by Status.
const (
	StateNone    = "none"    // nothing known: never requested on this node
	StatePending = "pending" // an order is under way
	StateActive  = "active"  // a certificate is loaded and being served
	StateFailed  = "failed"  // the last order failed or was refused; see Reason and NextRetry
)

// Defaults of Config's zero fields.
const (
	DefaultMaxOrdersPerHour          = 100 // Let's Encrypt allows 300 new orders per 3 hours per account
	DefaultMaxOrdersPerHourPerTenant = 10
	DefaultRetryBase                 = time.Minute
	DefaultRetryMax                  = 6 * time.Hour
	DefaultIssuanceWait              = 90 * time.Second
	// handshakeRest is the deadline for the rest of a handshake that
	// waited for its certificate (IssuanceWait): a client cannot keep the
	// longer one once the certificate is there.
	handshakeRest = 10 * time.Second
	// obtainTimeout bounds one proactive order, challenges included.
	obtainTimeout = 5 * time.Minute
)

// acmeTLS1 is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// challengePrefix is the path prefix of ACME HTTP-01 challenges.
const challengePrefix = "/.well-known/acme-challenge/"

// Errors a handshake or Obtain fails with for names no certificate is
// managed for.
var (
	ErrMalformedName = errors.New("certs: malformed or missing server name")
	ErrNotAllowed    = errors.New("certs: no certificate is managed for this name")
	ErrClosed        = errors.New("certs: manager closed")
)

// Config configures a Manager. Zero fields take the defaults documented
// on them.
type Config struct {
	// Storage holds certificates, keys, ACME accounts and locks. Several
	// nodes must share one with a real lock (certs/pgstorage). Default: a
	// certmagic.FileStorage in DataDir/certs.
	Storage certmagic.Storage
	// DataDir is where the default file storage lives; required when
	// Storage is nil.
	DataDir string

	// CA is the ACME directory URL. Default: Let's Encrypt production.
	CA string
	// Email is the ACME account's contact address (optional, but Let's
	// Encrypt mails expiry warnings to it). Using a Manager means
	// agreeing to the CA's subscriber agreement.
	Email string
	// CARoot, or the PEM file CARootFile, holds the roots trusted when
	// talking to the ACME server (a private CA such as Pebble). Default:
	// the system roots.
	CARoot     *x509.CertPool
	CARootFile string
	// ACMEProfile names the CA's certificate profile to order (for
	// instance Let's Encrypt's "shortlived"). Default: the CA's default.
	ACMEProfile string

	// Wildcards are wildcard names ("*.example.com") whose certificates
	// the manager obtains through ACME DNS-01 as soon as it starts, keeps
	// in memory and renews (certmagic's managed mode, separate from the
	// on-demand names Allow decides, which keep HTTP-01 and TLS-ALPN-01).
	// A handshake for any name directly under one (blog.example.com,
	// abc--blog.example.com, not a.b.example.com) is answered from that
	// certificate in memory, without Allow, a storage read or an order;
	// until it is obtained such handshakes fail. Their orders count
	// against MaxOrdersPerHour but are never refused by it (certmagic
	// retries failures on its own schedule) and are charged to no
	// tenant. Requires DNS01Provider; not with Internal.
	Wildcards []string
	// DNS01Provider creates and deletes the challenge TXT records
	// (certs/dnshook, or any libdns provider).
	DNS01Provider certmagic.DNSProvider
	// DNS01Resolvers are the DNS servers (host:port) that find the zone of
	// a challenge record and check that it has propagated. Default: the
	// system's resolvers to find the zone's authoritative servers, which
	// are then asked.
	DNS01Resolvers []string
	// DNS01PropagationTimeout bounds the wait for a challenge record to
	// be visible; -1 skips the check. Default: certmagic's (2 minutes).
	DNS01PropagationTimeout time.Duration

	// Internal issues certificates from a self-signed local CA (kept in
	// Storage) instead of ACME: for development, so that
	// https://<site>.localhost:8443 works once the root is trusted. No
	// order budget applies.
	Internal bool

	// Allow is the on-demand decision: whether a certificate may be
	// obtained, loaded or served for host (lowercase, punycode, no
	// trailing dot). It is called on every handshake, so it must answer
	// from memory, and say no when unsure. Required.
	Allow func(host string) bool
	// AllowChallenge, when set, is asked about an ACME challenge (an
	// HTTP-01 request, a TLS-ALPN-01 handshake) for a name Allow refuses:
	// with several nodes sharing Storage, another node may have placed
	// the order for a name this one has not heard of yet, and the CA's
	// validation can arrive here. It may look the name up in the
	// database but must bound how often; a yes costs a storage read.
	// Default: Allow alone decides.
	AllowChallenge func(host string) bool
	// TenantOf names the tenant host belongs to, for the per-tenant order
	// budget; "" (or a nil func) counts only against the global budget.
	TenantOf func(host string) string

	// MaxOrdersPerHour caps new certificate orders in any hour (a sliding
	// hour) across every node sharing Storage, which share one ACME
	// account; MaxOrdersPerHourPerTenant caps them per tenant. Default:
	// DefaultMaxOrdersPerHour and DefaultMaxOrdersPerHourPerTenant;
	// negative means unlimited.
	//
	// The orders are counted in an order ledger in Storage (key
	// "pier/order-ledger.json", read and rewritten under the storage lock
	// "pier_order_ledger" once per order, never on a handshake), so the
	// caps hold across nodes and restarts; give the nodes the same caps
	// and synchronised clocks. A ledger that cannot be decoded is treated
	// as empty and rewritten (logged). When the ledger cannot be read or
	// written the order is refused ("order budget unavailable: …") and
	// the name backed off as after a failure.
	MaxOrdersPerHour          int
	MaxOrdersPerHourPerTenant int
	// A name whose order failed is not ordered again for RetryBase,
	// doubling with each further failure up to RetryMax. Default:
	// DefaultRetryBase, DefaultRetryMax. The back-off, like Status, is
	// kept in this node's memory: it follows this node's orders.
	RetryBase, RetryMax time.Duration

	// ListenHost, HTTPPort and TLSPort are where the CA's validation
	// connections arrive (HTTP-01 on HTTPPort, TLS-ALPN-01 on TLSPort).
	// When Pier's own listeners hold those ports they answer the
	// challenges (HTTPChallengeHandler, TLSConfig); otherwise certmagic
	// binds them for the time of a challenge. Default: all interfaces,
	// ports 80 and 443.
	ListenHost        string
	HTTPPort, TLSPort int

	// OnChange, when set, is called with a name whose Status may have
	// changed (an order accepted, placed, refused, failed or finished, a
	// certificate loaded). It can run on a TLS handshake's goroutine, so
	// it must return at once: record the name and read Status later.
	OnChange func(host string)

	// IssuanceWait is how long a handshake for an allowed name with no
	// certificate in memory may wait while the certificate is loaded or
	// issued (it extends the connection's deadline, which the HTTP
	// server otherwise sets to its short header timeout). Default:
	// DefaultIssuanceWait.
	IssuanceWait time.Duration

	// Logger receives certmagic's and the manager's logs. Default:
	// slog.Default().
	Logger *slog.Logger

	// now is the clock (tests).
	now func() time.Time
	// renewCheck is how often managed certificates (Wildcards) are checked
	// for renewal (tests). Default: certmagic's, 10 minutes.
	renewCheck time.Duration
}

// Manager manages certificates for the edge. Its methods are safe for
// concurrent use.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	cache *certmagic.Cache
	magic *certmagic.Config
	acme  *certmagic.ACMEIssuer // nil with Config.Internal
	// wild manages Config.Wildcards through DNS-01 (nil without them);
	// wildBases holds their parents ("example.com" for "*.example.com").
	wild      *certmagic.Config
	wildBases map[string]bool
	internal  *internalIssuer // nil without Config.Internal
	budget    *budget
	count     counters

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	obtaining map[string]bool
	retries   map[string]*time.Timer
}

// New builds a Manager: one certmagic Cache and Config with the
// configured issuer. Close releases it.
func New(cfg Config) (*Manager, error) {
	if cfg.Allow == nil {
		return nil, errors.New("certs: Config.Allow is required")
	}
	if cfg.Storage == nil {
		if cfg.DataDir == "" {
			return nil, errors.New("certs: Config.Storage or Config.DataDir is required")
		}
		cfg.Storage = &certmagic.FileStorage{Path: filepath.Join(cfg.DataDir, "certs")}
	}
	if cfg.CA == "" {
		cfg.CA = certmagic.LetsEncryptProductionCA
	}
	if cfg.MaxOrdersPerHour == 0 {
		cfg.MaxOrdersPerHour = DefaultMaxOrdersPerHour
	}
	if cfg.MaxOrdersPerHourPerTenant == 0 {
		cfg.MaxOrdersPerHourPerTenant = DefaultMaxOrdersPerHourPerTenant
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.IssuanceWait <= 0 {
		cfg.IssuanceWait = DefaultIssuanceWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	roots := cfg.CARoot
	if cfg.CARootFile != "" {
		pemBytes, err := os.ReadFile(cfg.CARootFile)
		if err != nil {
			return nil, fmt.Errorf("certs: reading ACME CA root: %w", err)
		}
		if roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("certs: %s holds no PEM certificate", cfg.CARootFile)
		}
	}

	wildBases := make(map[string]bool)
	cfg.Wildcards = slices.Clone(cfg.Wildcards)
	for i, w := range cfg.Wildcards {
		base, ok := Normalize(strings.TrimPrefix(w, "*."))
		if !strings.HasPrefix(w, "*.") || !ok {
			return nil, fmt.Errorf("certs: wildcard %q is not of the form *.example.com", w)
		}
		cfg.Wildcards[i] = "*." + base
		wildBases[base] = true
	}
	if len(cfg.Wildcards) > 0 && cfg.Internal {
		return nil, errors.New("certs: Config.Wildcards need ACME DNS-01, not Config.Internal")
	}
	if len(cfg.Wildcards) > 0 && cfg.DNS01Provider == nil {
		return nil, errors.New("certs: Config.Wildcards need a Config.DNS01Provider")
	}

	m := &Manager{
		cfg:       cfg,
		wildBases: wildBases,
		log:       cfg.Logger.With("component", "certs"),
		obtaining: make(map[string]bool),
		retries:   make(map[string]*time.Timer),
	}
	m.budget = newBudget(cfg.Storage, m.log, max(cfg.MaxOrdersPerHour, 0), max(cfg.MaxOrdersPerHourPerTenant, 0), cfg.RetryBase, cfg.RetryMax, cfg.now)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	zl := newZapLogger(cfg.Logger.With("component", "certmagic"))
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(c certmagic.Certificate) (*certmagic.Config, error) {
			if m.wild != nil && m.isWildcard(c.Names) {
				return m.wild, nil
			}
			return m.magic, nil
		},
		Logger:             zl,
		RenewCheckInterval: cfg.renewCheck,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: cfg.Storage,
		Logger:  zl,
		OnDemand: &certmagic.OnDemandConfig{
			DecisionFunc: m.decide,
		},
		OnEvent:        m.onEvent,
		ShouldEmitFunc: shouldEmit,
	})
	if cfg.Internal {
		iss, err := loadInternalIssuer(m.ctx, cfg.Storage)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.internal = iss
		m.magic.Issuers = []certmagic.Issuer{iss}
	} else {
		m.acme = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
			CA:             cfg.CA,
			Email:          acmeEmail(cfg.Email),
			Agreed:         true,
			Profile:        cfg.ACMEProfile,
			TrustedRoots:   roots,
			ListenHost:     cfg.ListenHost,
			AltHTTPPort:    cfg.HTTPPort,
			AltTLSALPNPort: cfg.TLSPort,
			Logger:         zl,
		})
		m.magic.Issuers = []certmagic.Issuer{m.acme}
	}
	if len(cfg.Wildcards) > 0 {
		m.wild = certmagic.New(m.cache, certmagic.Config{
			Storage:        cfg.Storage,
			Logger:         zl,
			OnEvent:        m.onWildcardEvent,
			ShouldEmitFunc: func(event string) bool { return event == "cached_managed_cert" || shouldEmit(event) },
		})
		m.wild.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(m.wild, certmagic.ACMEIssuer{
			CA:           cfg.CA,
			Email:        acmeEmail(cfg.Email),
			Agreed:       true,
			Profile:      cfg.ACMEProfile,
			TrustedRoots: roots,
			Logger:       zl,
			DNS01Solver: &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
				DNSProvider:        cfg.DNS01Provider,
				Resolvers:          cfg.DNS01Resolvers,
				PropagationTimeout: cfg.DNS01PropagationTimeout,
				Logger:             zl,
			}},
		})}
		for _, w := range cfg.Wildcards {
			m.budget.pending(w)
			m.changed(w)
		}
		m.wg.Add(1)
		go m.manageWildcards()
	}
	return m, nil
}

// manageWildcards hands Config.Wildcards to certmagic, which loads each
// from storage or obtains it (retrying failures), then renews it, until
// Close. A stored wildcard that cannot be read is deleted first, so it is
// obtained again rather than left unmanaged.
func (m *Manager) manageWildcards() {
	defer m.wg.Done()
	for _, w := range m.cfg.Wildcards {
		_, err := m.wild.CacheManagedCertificate(m.ctx, w)
		if err == nil {
			// Evicted again so that ManageAsync loads it itself and checks
			// it for renewal at once.
			m.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: w}})
			m.budget.pending(w)
			continue
		}
		if errors.Is(err, fs.ErrNotExist) || m.ctx.Err() != nil {
			continue
		}
		m.log.Warn("stored wildcard certificate unreadable; obtaining a new one", "name", w, "error", err)
		if err := m.deleteStored(m.ctx, w); err != nil {
			m.log.Error("deleting unreadable wildcard certificate", "name", w, "error", err)
		}
	}
	if err := m.wild.ManageAsync(m.ctx, m.cfg.Wildcards); err != nil && m.ctx.Err() == nil {
		m.log.Error("managing wildcard certificates", "error", err)
	}
}

// isWildcard reports whether names (a certificate's subjects) include one
// of Config.Wildcards.
func (m *Manager) isWildcard(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, "*.") && m.wildBases[n[2:]] {
			return true
		}
	}
	return false
}

// underWildcard reports whether name (normalized) lies directly under one
// of Config.Wildcards. It does not allocate.
func (m *Manager) underWildcard(name string) bool {
	if len(m.wildBases) == 0 {
		return false
	}
	i := strings.IndexByte(name, '.')
	return i > 0 && m.wildBases[name[i+1:]]
}

// noEmail stands for "no contact address" to certmagic. With an empty
// Email, certmagic's proactive (interactive) obtain asks for an address on
// standard input and waits for an answer: a `pier serve` started from a
// terminal or with an open stdin pipe would hang its first order. A blank
// address skips the question and is trimmed to none (an ACME account
// without contact) — see certmagic's ACMEIssuer.setEmail.
const noEmail = " "

func acmeEmail(email string) string {
	if email == "" {
		return noEmail
	}
	return email
}

// shouldEmit limits certmagic's events to those the manager acts on, so
// handshakes do not build event data for nothing.
func shouldEmit(event string) bool {
	switch event {
	case "cert_obtaining", "cert_obtained", "cert_failed":
		return true
	}
	return false
}

// decide is certmagic's on-demand DecisionFunc. The handshake path has
// already asked Allow; certmagic also asks before renewals.
func (m *Manager) decide(_ context.Context, name string) error {
	if !m.cfg.Allow(name) {
		return ErrNotAllowed
	}
	return nil
}

// onEvent charges the order budget (the ledger in storage) when certmagic
// is about to place an order (after it took the issuance lock and found no
// certificate in storage, so an order that another node already placed
// costs nothing) and records outcomes for Status.
func (m *Manager) onEvent(ctx context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	switch event {
	case "cert_obtaining":
		if !m.cfg.Allow(name) {
			return certmagic.ErrNoRetry{Err: ErrNotAllowed}
		}
		if m.internal != nil {
			return nil
		}
		tenant := ""
		if m.cfg.TenantOf != nil {
			tenant = m.cfg.TenantOf(name)
		}
		ok, reason, retry := m.budget.take(ctx, name, tenant)
		m.changed(name)
		if !ok {
			m.count.ordersRefused.Add(1)
			m.log.Warn("certificate order refused", "host", name, "tenant", tenant, "reason", reason, "next_retry", retry)
			return certmagic.ErrNoRetry{Err: fmt.Errorf("certs: %s (next retry %s)", reason, retry.UTC().Format(time.RFC3339))}
		}
		m.count.ordersStarted.Add(1)
	case "cert_obtained":
		m.count.obtained.Add(1)
		m.budget.succeeded(name)
		m.changed(name)
	case "cert_failed":
		reason := "certificate order failed"
		if err, ok := data["error"].(error); ok {
			reason = err.Error()
		}
		if renewal, _ := data["renewal"].(bool); renewal {
			// The current certificate is still served; certmagic
			// retries the renewal itself.
			m.log.Error("certificate renewal failed", "host", name, "error", reason)
			return nil
		}
		m.count.ordersFailed.Add(1)
		retry := m.budget.failed(name, reason)
		m.changed(name)
		m.log.Error("certificate order failed", "host", name, "error", reason, "next_retry", retry)
	}
	return nil
}

// onWildcardEvent is the wildcard config's OnEvent: it records the orders
// and outcomes of Config.Wildcards certificates — charged to the global
// budget, never refused by it, retried by certmagic rather than by the
// back-off, and active once loaded into memory. An order whose charge
// cannot be written to the ledger is not placed (certmagic could not store
// its certificate either) and certmagic retries it.
func (m *Manager) onWildcardEvent(ctx context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	switch event {
	case "cached_managed_cert":
		sans, _ := data["sans"].([]string)
		for _, n := range sans {
			if strings.HasPrefix(n, "*.") && m.wildBases[n[2:]] {
				m.budget.succeeded(n)
				m.changed(n)
			}
		}
	case "cert_obtaining":
		if err := m.budget.charge(ctx, name); err != nil {
			m.count.ordersRefused.Add(1)
			m.changed(name)
			m.log.Error("wildcard certificate order not placed; certmagic retries it", "name", name, "error", err)
			return fmt.Errorf("certs: %w", err)
		}
		m.count.ordersStarted.Add(1)
		m.changed(name)
	case "cert_obtained":
		// Active once cached (cached_managed_cert), not before.
		m.count.obtained.Add(1)
	case "cert_failed":
		reason := "certificate order failed"
		if err, ok := data["error"].(error); ok {
			reason = err.Error()
		}
		if renewal, _ := data["renewal"].(bool); renewal {
			m.log.Error("wildcard certificate renewal failed; certmagic retries it", "name", name, "error", reason)
			return nil
		}
		m.count.ordersFailed.Add(1)
		m.budget.failedRetrying(name, reason)
		m.changed(name)
		m.log.Error("wildcard certificate order failed; certmagic retries it", "name", name, "error", reason)
	}
	return nil
}

// TLSConfig returns a TLS configuration for the HTTPS listener: the
// certificate comes from certmagic (issued on demand for allowed names),
// and NextProtos offers h2, http/1.1 and acme-tls/1 (TLS-ALPN-01).
func (m *Manager) TLSConfig() *tls.Config {
	memo := new(handshakeMemo)
	return &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) { return m.getCertificate(hello, memo) },
		NextProtos:     []string{"h2", "http/1.1", acmeTLS1},
		MinVersion:     tls.VersionTLS12,
	}
}

// getCertificate gates certmagic: a malformed or disallowed name, or a
// name backed off after a failed order and with no certificate in memory,
// fails here, before certmagic reads storage or orders anything. An
// allowed name's certificate comes from memo when certmagic returned it
// less than handshakeMemoTTL ago.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo, memo *handshakeMemo) (*tls.Certificate, error) {
	name, ok := Normalize(hello.ServerName)
	if !ok {
		m.count.refusedMalform.Add(1)
		return nil, ErrMalformedName
	}
	if hello.ServerName != name {
		// certmagic looks up the name as sent: give it the normal form
		// (a trailing dot or upper case would otherwise find nothing).
		h := *hello
		h.ServerName = name
		hello = &h
	}
	if m.underWildcard(name) {
		// From memory only: m.wild has no on-demand issuance, so a
		// wildcard not obtained yet fails here without a storage read.
		return m.wild.GetCertificate(hello)
	}
	challenge := len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1
	if !m.cfg.Allow(name) && !(challenge && m.allowChallenge(name)) {
		m.count.refusedDisallow.Add(1)
		return nil, ErrNotAllowed
	}
	if challenge {
		return m.magic.GetCertificate(hello)
	}
	if cert := memo.get(name); cert != nil {
		return cert, nil
	}
	if len(m.cache.AllMatchingCertificates(name)) == 0 {
		if m.budget.backedOff(name) {
			st := m.budget.snapshot(name)
			return nil, fmt.Errorf("certs: no certificate for %s yet: %s (next retry %s)", name, st.reason, st.nextRetry.UTC().Format(time.RFC3339))
		}
		// certmagic loads or issues the certificate now, or waits for
		// the order under way: give the handshake time to see it
		// through instead of the server's short handshake deadline,
		// then only handshakeRest for what is left of the handshake.
		// The server restores its own deadlines once the handshake ends.
		if hello.Conn != nil {
			hello.Conn.SetDeadline(time.Now().Add(m.cfg.IssuanceWait))
			defer hello.Conn.SetDeadline(time.Now().Add(handshakeRest))
		}
	}
	cert, err := m.magic.GetCertificate(hello)
	if err != nil {
		// Let the proactive path repair what the handshake could not
		// (for instance an unreadable stored certificate); it is
		// deduplicated per name and respects the budget and back-off.
		if oerr := m.Obtain(name); oerr != nil {
			m.log.Debug("certificate not requested after a failed handshake", "host", name, "error", oerr)
		}
		return nil, err
	}
	memo.put(name, cert)
	return cert, nil
}

// allowChallenge is Config.AllowChallenge, or no.
func (m *Manager) allowChallenge(name string) bool {
	return m.cfg.AllowChallenge != nil && m.cfg.AllowChallenge(name)
}

// HTTPChallengeHandler answers ACME HTTP-01 challenges under
// /.well-known/acme-challenge/ — before anything else, and only for
// allowed names (or ones Config.AllowChallenge accepts; others get a 404
// without a storage read, so tenants cannot answer challenges for names
// Pier manages) — and passes every other request to next. The challenge
// may have been started by another node sharing the storage.
func (m *Manager) HTTPChallengeHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, challengePrefix) {
			next.ServeHTTP(w, r)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		name, ok := Normalize(host)
		if ok && m.acme != nil && (m.cfg.Allow(name) || m.allowChallenge(name)) && m.acme.HandleHTTPChallenge(w, r) {
			return
		}
		http.NotFound(w, r)
	})
}

// Obtain requests a certificate for host in the background — call it as
// soon as a domain becomes active (and at start-up for every active
// domain, which also loads stored certificates into memory). It returns
// at once; an error means the request was not accepted (malformed or
// disallowed name, closed manager). The order runs for the manager's
// lifetime, not the caller's: Close cancels it. It respects the budget; a
// failure is retried after the back-off while Allow still says yes.
// Calling it again while an order for host is under way does nothing.
func (m *Manager) Obtain(host string) error {
	name, ok := Normalize(host)
	if !ok {
		return fmt.Errorf("%w: %q", ErrMalformedName, host)
	}
	if !m.cfg.Allow(name) {
		return fmt.Errorf("%w: %s", ErrNotAllowed, name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.obtaining[name] {
		return nil
	}
	if t := m.retries[name]; t != nil {
		t.Stop()
		delete(m.retries, name)
	}
	m.obtaining[name] = true
	m.budget.pending(name)
	m.changed(name)
	m.wg.Add(1)
	go m.obtain(name)
	return nil
}

// changed tells Config.OnChange that name's Status may have changed.
func (m *Manager) changed(name string) {
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(name)
	}
}

func (m *Manager) obtain(name string) {
	defer m.wg.Done()
	err := m.obtainOnce(name)
	defer m.changed(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.obtaining, name)
	if err == nil {
		m.budget.succeeded(name)
		return
	}
	if m.closed {
		return
	}
	st := m.budget.snapshot(name)
	if st.state != StateFailed {
		// Not an order failure certmagic reported (storage, lock…).
		st.nextRetry = m.budget.failed(name, err.Error())
	}
	m.log.Warn("obtaining certificate", "host", name, "error", err, "next_retry", st.nextRetry)
	m.retries[name] = time.AfterFunc(max(st.nextRetry.Sub(m.cfg.now()), 0), func() {
		m.mu.Lock()
		delete(m.retries, name)
		m.mu.Unlock()
		if err := m.Obtain(name); err != nil && !errors.Is(err, ErrNotAllowed) && !errors.Is(err, ErrClosed) {
			m.log.Warn("retrying certificate order", "host", name, "error", err)
		}
	})
}

// obtainOnce obtains name's certificate (a no-op when storage has one)
// and loads it into memory. A stored certificate that cannot be read is
// treated as missing: deleted under the issuance lock and obtained again.
func (m *Manager) obtainOnce(name string) error {
	ctx, cancel := context.WithTimeout(m.ctx, obtainTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		if err := m.magic.ObtainCertSync(ctx, name); err != nil {
			return fmt.Errorf("certs: obtaining %s: %w", name, err)
		}
		_, err := m.magic.CacheManagedCertificate(ctx, name)
		if err == nil {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) || attempt > 0 || ctx.Err() != nil {
			return fmt.Errorf("certs: loading %s: %w", name, err)
		}
		m.log.Warn("stored certificate unreadable; obtaining a new one", "host", name, "error", err)
		if err := m.deleteStored(ctx, name); err != nil {
			return err
		}
	}
}

// deleteStored removes name's certificate resources under the lock
// certmagic takes to issue one.
func (m *Manager) deleteStored(ctx context.Context, name string) error {
	lock := "issue_cert_" + name
	if err := m.cfg.Storage.Lock(ctx, lock); err != nil {
		return fmt.Errorf("certs: locking %s: %w", name, err)
	}
	defer m.cfg.Storage.Unlock(context.WithoutCancel(ctx), lock)
	issuers := m.magic.Issuers
	if m.wild != nil {
		issuers = append(slices.Clip(issuers), m.wild.Issuers...)
	}
	for _, iss := range issuers {
		key := iss.IssuerKey()
		for _, k := range []string{
			certmagic.StorageKeys.SiteCert(key, name),
			certmagic.StorageKeys.SitePrivateKey(key, name),
			certmagic.StorageKeys.SiteMeta(key, name),
		} {
			if err := m.cfg.Storage.Delete(ctx, k); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("certs: deleting unreadable %s: %w", k, err)
			}
		}
	}
	return nil
}

// Status is what the manager knows of a name's certificate.
type Status struct {
	State     string    // StateNone, StatePending, StateActive or StateFailed
	Reason    string    // why the last order failed or was refused
	NextRetry time.Time // when a failed name is ordered again (zero unless failed)
	NotAfter  time.Time // expiry of the certificate served (zero unless active)
}

// Status reports host's certificate state from memory: active when a
// certificate for it is loaded, else what the last order did. host may be
// one of Config.Wildcards; a name under one reports the wildcard's
// certificate once it is loaded.
func (m *Manager) Status(host string) Status {
	name, ok := m.statusName(host)
	if !ok {
		return Status{State: StateNone, Reason: ErrMalformedName.Error()}
	}
	st := m.budget.snapshot(name)
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && m.cfg.now().Before(c.Leaf.NotAfter) {
			s := Status{State: StateActive, NotAfter: c.Leaf.NotAfter}
			if st.state == StateFailed {
				s.Reason = st.reason // e.g. a failed renewal
			}
			return s
		}
	}
	return Status{State: st.state, Reason: st.reason, NextRetry: st.nextRetry}
}

// HasCertificate reports whether a valid certificate for host (its own or
// a wildcard covering it) is in memory, that is, whether an HTTPS
// handshake for it would succeed now. From memory only.
func (m *Manager) HasCertificate(host string) bool {
	name, ok := Normalize(host)
	if !ok {
		return false
	}
	now := m.cfg.now()
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && now.Before(c.Leaf.NotAfter) {
			return true
		}
	}
	return false
}

// statusName normalizes host, or one of Config.Wildcards.
func (m *Manager) statusName(host string) (string, bool) {
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		base, ok := Normalize(rest)
		if !ok || !m.wildBases[base] {
			return "", false
		}
		return "*." + base, true
	}
	return Normalize(host)
}

// Forget stops managing host: a pending retry is cancelled, its state
// dropped and its certificate evicted from memory (storage keeps it; it is
// no longer served or renewed while Allow says no). Call it when a domain
// is deleted or moves to another site.
func (m *Manager) Forget(host string) {
	name, ok := Normalize(host)
	if !ok {
		return
	}
	m.mu.Lock()
	if t := m.retries[name]; t != nil {
		t.Stop()
		delete(m.retries, name)
	}
	m.mu.Unlock()
	m.budget.forget(name)
	m.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: name}})
}

// InternalRootPEM returns the internal CA's root certificate (to install
// in a browser's trust store), or nil unless Config.Internal.
func (m *Manager) InternalRootPEM() []byte {
	if m.internal == nil {
		return nil
	}
	return m.internal.rootPEM
}

// Close stops retries and maintenance and waits for orders under way to
// end (they are cancelled).
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for name, t := range m.retries {
		t.Stop()
		delete(m.retries, name)
	}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.cache.Stop()
	return nil
}
