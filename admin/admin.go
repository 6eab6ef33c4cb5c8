// Package admin owns Pier's control plane: the REST API under /api/v1
// (tenants, sites, custom domains, tokens, upload sessions, blob uploads,
// deployments), its authentication (bearer tokens, and the web console's
// session cookies with their CSRF check and security headers) and tenant
// scoping, the custom-domain verifier (RunVerifier), the OpenAPI document
// that describes it, and the publish pipeline (StartUpload → PutBlob →
// Deploy) that every publish goes through (today the CLI and the REST API;
// there is no web console front end or git push yet).
//
// admin imports tenants, assets, internal/dnsname, internal/siterules,
// internal/httperr, internal/logstream, internal/domainverify and
// internal/ratelimit; it never imports hosting, and only cmd/pier imports
// admin (docs/architecture.md).
package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/domainverify"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/internal/ratelimit"
	"github.com/pierhq/pier/tenants"
)

// Defaults of Config's zero fields.
const (
	DefaultDomain         = "localhost"
	DefaultUploadTTL      = time.Hour
	DefaultMaxRequestBody = 64 << 20 // a 100,000-file manifest is about 10 MB
	DefaultMaxWorkerSize  = 32 << 20
	DefaultLogKeepalive   = 15 * time.Second
)

// Config configures an API. A zero field means the documented default.
type Config struct {
	// Domain is the platform domain sites are served under
	// (<site>.<Domain>). Default "localhost".
	Domain string
	// EdgeURL returns the public URL of a hostname served by the edge, e.g.
	// func(h string) string { return "http://" + h + ":8080/" }.
	// Default "http://" + host + "/".
	EdgeURL func(host string) string
	// GitURL returns the clone URL of the git repository of the site
	// named site, as GET /api/v1/sites/{site}/git shows it (e.g.
	// "https://console.example.net/git/blog.git"). nil, or "" for a site:
	// git push is disabled and the answer has no remote.
	GitURL func(site string) string
	// Limits bounds deployments: files per deployment and bytes per file.
	// Zero fields take assets.DefaultMaxFiles and assets.DefaultMaxFileSize.
	Limits assets.Limits
	// UploadTTL is how long an upload session lives. Default 1h.
	UploadTTL time.Duration
	// MaxRequestBody bounds JSON request bodies (not blob uploads, which
	// are bounded by the manifest's size of the blob). Default 64 MiB.
	MaxRequestBody int64
	// SpoolDir is where blob uploads too large to hold in memory are
	// spooled while they are verified. Default os.TempDir().
	SpoolDir string
	// OnActivate is called after a site is created, after a deployment of
	// it goes live, and after it is deleted or its tenant deleted or
	// disabled (then site is the site as it was), so the edge can drop
	// what it cached and a new site's certificate can be obtained before
	// its first visitor. It must not block for long. Default: nothing.
	OnActivate func(site tenants.Site)
	// ValidateWorker checks a worker's compiled WebAssembly at deploy time
	// (cmd/pier sets it to the worker runtime's validation, which may also
	// compile and cache the module). Its error text is shown to the client
	// as is, so it must be user-safe and say once what is wrong ("worker:
	// invalid module: not a valid WebAssembly module (…)"). Default nil: the server runs without
	// workers and refuses deployments that carry one (400
	// workers_disabled).
	ValidateWorker func(ctx context.Context, wasm []byte) error
	// MaxWorkerSize bounds a worker's wasm in bytes. Default 32 MiB.
	MaxWorkerSize int64
	// Logs is the live log hub GET /api/v1/sites/{site}/logs streams from,
	// keyed by site name. Default nil: the endpoint answers 503.
	Logs *logstream.Hub
	// LogKeepalive is how often an idle log stream sends an SSE comment so
	// proxies and clients see it is alive. Default 15s.
	LogKeepalive time.Duration
	// PublicIPs are the platform's public addresses: the A/AAAA records an
	// apex custom domain points at, and how the verifier tells that an
	// active domain still points here. Empty: apexes are told to use a
	// CNAME (or their provider's CNAME flattening) and active domains are
	// never marked moved.
	PublicIPs []string
	// Verifier runs custom domains' DNS and HTTP checks. Default
	// &domainverify.Verifier{PublicIPs: PublicIPs} (the system resolver;
	// the HTTP proof fetched only from the platform's addresses, or from
	// public ones when none are configured).
	Verifier DomainChecker
	// CertOrders reports the certificate orders of the last hour and the
	// platform-wide cap (0: none) for the attention list (cmd/pier:
	// certs.Manager.OrderBudget). nil when TLS is off.
	CertOrders func(ctx context.Context) (lastHour, limit int, err error)
	// OnDomainChange is called with a hostname whenever it starts or stops
	// being an active custom domain (verified, moved, taken over by
	// another site, deleted), so the edge and the TLS layer drop what they
	// cached. It must not block for long. Default: nothing.
	OnDomainChange func(host string)
	// TLS says the platform obtains certificates for active custom
	// domains: a new claim's certificate status starts at
	// pending_validation and a claim turning active at pending_issuance,
	// and the TLS layer reports progress through SetCertStatus. Without
	// it the certificate status stays none.
	TLS bool
	// VerifyInterval is how often RunVerifier looks for claims due for a
	// check. Default 10s.
	VerifyInterval time.Duration
	// VerifyBatch bounds the claims RunVerifier checks per round.
	// Default 50.
	VerifyBatch int
	// ActiveRecheck is how often an active domain's DNS is re-checked.
	// Default 1h.
	ActiveRecheck time.Duration
	// DomainCheckTimeout bounds one domain check. Default 20s.
	DomainCheckTimeout time.Duration
	// Logger receives request logs and internal errors. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// BehindTLS says clients reach the admin handler over HTTPS even when
	// the request it sees has no TLS (a TLS-terminating proxy or listener
	// in front of it): the session cookie is then Secure and named
	// __Host-pier_session, and CSRF checks expect https origins. Requests
	// with r.TLS set count as HTTPS regardless.
	BehindTLS bool
	// SessionIdle is how long a console session lives without use; each
	// use extends it (written to the store at most once a minute).
	// Default 12h.
	SessionIdle time.Duration
	// SessionMaxAge is how long a console session lives at most, however
	// much it is used. Default 7 days.
	SessionMaxAge time.Duration
	// GC runs one garbage collection (internal/lifecycle's Sweeper.Run)
	// for POST /api/v1/gc and returns its report, encoded as the answer;
	// ErrGCBusy when another node is sweeping. nil: the endpoint answers
	// 503 gc_unavailable.
	GC func(ctx context.Context, dryRun bool) (any, error)
	// OnKVChange is called after a KV key is written or deleted through
	// the API (key "": the whole namespace, deleted or bulk-written), so
	// the edge drops what it cached (cmd/pier: Followers.KVChanged). It
	// must not block for long. Default: nothing.
	OnKVChange func(namespaceID, key string)
	// GarbageWait bounds how long PutBlob waits for a garbage collector
	// deleting the objects of the blob it uploads (then 503). Default 30s.
	GarbageWait time.Duration
	// SecretKeys seals sites' secrets (secrets.go). nil, or a store that
	// is not a tenants.SecretStore: the secrets routes answer 503
	// secrets_unavailable.
	SecretKeys SecretKeys
}

// API serves the admin REST API and runs the publish pipeline. It is safe
// for concurrent use.
type API struct {
	cfg   Config
	store tenants.Store
	blobs assets.Backend
	log   *slog.Logger
	// bigCompress bounds how many spooled (large) blobs are held in memory
	// for compression at once, so memory stays bounded under load.
	bigCompress chan struct{}
	sessions    *sessionCache
	// streamsDone is closed by CloseStreams to end the log streams.
	streamsDone  chan struct{}
	closeStreams sync.Once
	// verifyLimit rate-limits POST …/verify per claim.
	verifyLimit *ratelimit.Limiter
	// loginLimit rate-limits POST /api/v1/session per client IP.
	loginLimit *ratelimit.Limiter
	// quotas serialises quota checks with creations per tenant (quota.go).
	quotas quotaState
}

// sessionCacheSize bounds the upload sessions whose index is kept in
// memory (sessions being uploaded to right now).
const sessionCacheSize = 256

// New returns an API over store (the registry) and blobs (the blob
// backend).
func New(cfg Config, store tenants.Store, blobs assets.Backend) *API {
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.EdgeURL == nil {
		cfg.EdgeURL = func(host string) string { return "http://" + host + "/" }
	}
	if cfg.Limits.MaxFiles <= 0 {
		cfg.Limits.MaxFiles = assets.DefaultMaxFiles
	}
	if cfg.Limits.MaxFileSize <= 0 {
		cfg.Limits.MaxFileSize = assets.DefaultMaxFileSize
	}
	if cfg.GarbageWait <= 0 {
		cfg.GarbageWait = defaultGarbageWait
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = DefaultUploadTTL
	}
	if cfg.MaxRequestBody <= 0 {
		cfg.MaxRequestBody = DefaultMaxRequestBody
	}
	if cfg.MaxWorkerSize <= 0 {
		cfg.MaxWorkerSize = DefaultMaxWorkerSize
	}
	if cfg.LogKeepalive <= 0 {
		cfg.LogKeepalive = DefaultLogKeepalive
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	if cfg.OnActivate == nil {
		cfg.OnActivate = func(tenants.Site) {}
	}
	if cfg.Verifier == nil {
		cfg.Verifier = &domainverify.Verifier{PublicIPs: cfg.PublicIPs}
	}
	if cfg.OnDomainChange == nil {
		cfg.OnDomainChange = func(string) {}
	}
	if cfg.OnKVChange == nil {
		cfg.OnKVChange = func(string, string) {}
	}
	if cfg.VerifyInterval <= 0 {
		cfg.VerifyInterval = DefaultVerifyInterval
	}
	if cfg.VerifyBatch <= 0 {
		cfg.VerifyBatch = DefaultVerifyBatch
	}
	if cfg.ActiveRecheck <= 0 {
		cfg.ActiveRecheck = DefaultActiveRecheck
	}
	if cfg.DomainCheckTimeout <= 0 {
		cfg.DomainCheckTimeout = DefaultDomainCheckTime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = DefaultSessionMaxAge
	}
	return &API{
		cfg:         cfg,
		store:       store,
		blobs:       blobs,
		log:         cfg.Logger,
		bigCompress: make(chan struct{}, 2),
		sessions:    newSessionCache(sessionCacheSize),
		streamsDone: make(chan struct{}),
		verifyLimit: &ratelimit.Limiter{Interval: VerifyRateInterval, Burst: VerifyRateBurst},
		loginLimit:  &ratelimit.Limiter{Interval: LoginRateInterval, Burst: LoginRateBurst},
	}
}

// now is the clock at millisecond precision, the precision stores keep.
func (a *API) now() time.Time { return a.cfg.Now().UTC().Truncate(time.Millisecond) }

// ExpireUploads deletes upload sessions that have expired and returns how
// many it deleted. The caller (cmd/pier) runs it periodically.
func (a *API) ExpireUploads(ctx context.Context) (int, error) {
	n, err := a.store.DeleteExpiredUploadSessions(ctx, a.now())
	if err != nil {
		return n, fmt.Errorf("admin: expiring upload sessions: %w", err)
	}
	return n, nil
}

// allowProbe are the methods a 405's Allow header may name.
var allowProbe = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// setAllow sets the Allow header of a 405 to the methods routes answers
// at req's path (RFC 9110 §15.5.6 requires it) and reports whether there
// is any.
func setAllow(w http.ResponseWriter, routes chi.Routes, req *http.Request) bool {
	path := req.URL.RawPath
	if path == "" {
		path = req.URL.Path
	}
	var allow []string
	for _, m := range allowProbe {
		if routes.Match(chi.NewRouteContext(), m, path) {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return false
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return true
}

// Handler returns the HTTP handler serving /api/v1/… and /healthz. Every
// answer carries the console's security headers (Content-Security-Policy,
// X-Content-Type-Options, Referrer-Policy, X-Frame-Options).
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders, a.logRequests, a.recoverPanics)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errRouteNotFound)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		if !setAllow(w, r, req) {
			// chi answers 405 for a method it does not know, on any
			// path: one no method answers does not exist.
			a.writeError(w, req, errRouteNotFound)
			return
		}
		a.writeError(w, req, errMethodNotAllowed)
	})

	r.Get("/healthz", a.healthz)
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/openapi.json", serveOpenAPI)
		r.Post("/session", a.handle(a.createSession))
		r.Delete("/session", a.handle(a.deleteSession))
		r.Group(func(r chi.Router) {
			r.Use(a.authenticate)

			r.Get("/session", a.handle(a.getSession))

			// Routes With(a.tenantLevel) act on a tenant as a whole: a
			// site token gets 403 site_token_forbidden there, and acts
			// everywhere else as its tenant restricted to its site.
			r.With(a.adminOnly).Post("/tenants", a.handle(a.createTenant))
			r.With(a.tenantLevel).Get("/tenants", a.handle(a.listTenants))
			r.With(a.tenantLevel).Get("/tenants/{tenant}", a.handle(a.getTenant))
			r.With(a.adminOnly).Post("/tenants/bulk", a.handle(a.bulkTenants))
			r.With(a.adminOnly).Get("/attention", a.handle(a.attention))
			r.With(a.adminOnly).Post("/gc", a.handle(a.runGC))
			r.With(a.adminOnly).Patch("/tenants/{tenant}", a.handle(a.updateTenant))
			r.With(a.adminOnly).Delete("/tenants/{tenant}", a.handle(a.deleteTenant))
			r.With(a.tenantLevel).Post("/tenants/{tenant}/tokens", a.handle(a.createTenantToken))
			r.With(a.tenantLevel).Get("/tenants/{tenant}/tokens", a.handle(a.listTenantTokens))
			r.With(a.tenantLevel).Get("/tenants/{tenant}/usage", a.handle(a.tenantUsage))
			r.With(a.tenantLevel).Post("/tenants/{tenant}/kv", a.handle(a.createKVNamespace))
			r.With(a.tenantLevel).Get("/tenants/{tenant}/kv", a.handle(a.listKVNamespaces))
			r.With(a.tenantLevel).Get("/tenants/{tenant}/kv/{ns}", a.handle(a.getKVNamespace))
			r.With(a.tenantLevel).Delete("/tenants/{tenant}/kv/{ns}", a.handle(a.deleteKVNamespace))
			r.With(a.tenantLevel).Get("/kv/{ns}/keys", a.handle(a.listKVKeys))
			r.With(a.tenantLevel).Get("/kv/{ns}/keys/{key}", a.handle(a.getKVKey))
			r.With(a.tenantLevel).Head("/kv/{ns}/keys/{key}", a.handle(a.getKVKey)) // its headers (size, expiry), no body
			r.With(a.tenantLevel).Put("/kv/{ns}/keys/{key}", a.handle(a.putKVKey))
			r.With(a.tenantLevel).Delete("/kv/{ns}/keys/{key}", a.handle(a.deleteKVKey))
			r.With(a.tenantLevel).Post("/kv/{ns}/bulk", a.handle(a.bulkKV))

			r.With(a.adminOnly).Post("/tokens", a.handle(a.createAdminToken))
			r.With(a.adminOnly).Get("/tokens", a.handle(a.listAdminTokens))
			r.With(a.tenantLevel).Delete("/tokens/{token}", a.handle(a.deleteToken))

			r.With(a.tenantLevel).Post("/sites", a.handle(a.createSite))
			r.Get("/sites", a.handle(a.listSites))
			r.Get("/sites/{site}", a.handle(a.getSite))
			r.Patch("/sites/{site}", a.handle(a.updateSite))
			r.Get("/sites/{site}/git", a.handle(a.siteGit))
			r.With(a.tenantLevel).Delete("/sites/{site}", a.handle(a.deleteSite))
			r.With(a.tenantLevel).Post("/sites/{site}/tokens", a.handle(a.createSiteToken))
			r.With(a.tenantLevel).Get("/sites/{site}/tokens", a.handle(a.listSiteTokens))
			r.Get("/sites/{site}/logs", a.handle(a.streamLogs))
			r.Get("/sites/{site}/usage", a.handle(a.siteUsage))
			r.Get("/sites/{site}/secrets", a.handle(a.listSecrets))
			r.Put("/sites/{site}/secrets/{name}", a.handle(a.putSecret))
			r.Delete("/sites/{site}/secrets/{name}", a.handle(a.deleteSecret))
			r.With(a.adminOnly).Post("/secrets/rekey", a.handle(a.rekeySecrets))

			r.Post("/sites/{site}/domains", a.handle(a.createDomain))
			r.Get("/sites/{site}/domains", a.handle(a.listDomains))
			r.Get("/sites/{site}/domains/{host}", a.handle(a.getDomain))
			r.Post("/sites/{site}/domains/{host}/verify", a.handle(a.verifyDomain))
			r.Delete("/sites/{site}/domains/{host}", a.handle(a.deleteDomain))
			r.With(a.adminOnly).Post("/sites/{site}/domains/{host}/block", a.handle(a.blockDomain))
			r.With(a.adminOnly).Post("/sites/{site}/domains/{host}/unblock", a.handle(a.unblockDomain))

			r.Post("/sites/{site}/uploads", a.handle(a.createUpload))
			r.Put("/uploads/{upload}/blobs/{hash}", a.handle(a.putBlob))

			r.Post("/sites/{site}/deployments", a.handle(a.createDeployment))
			r.Get("/sites/{site}/deployments", a.handle(a.listDeployments))
			r.Get("/sites/{site}/deployments/{deployment}", a.handle(a.getDeployment))
			r.Post("/sites/{site}/deployments/{deployment}/activate", a.handle(a.activateDeployment))
		})
	})
	return r
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
