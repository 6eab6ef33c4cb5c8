package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/assets/s3blob"
	"github.com/pierhq/pier/certs"
	"github.com/pierhq/pier/certs/dnshook"
	"github.com/pierhq/pier/certs/pgstorage"
	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/hosting/egress"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/datadir"
	"github.com/pierhq/pier/internal/domainverify"
	"github.com/pierhq/pier/internal/gitserve"
	"github.com/pierhq/pier/internal/lazydeadline"
	"github.com/pierhq/pier/internal/lifecycle"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/internal/secretbox"
	"github.com/pierhq/pier/internal/tlspolicy"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/pgstore"
	"github.com/pierhq/pier/tenants/sqlitestore"
	"github.com/pierhq/pier/web"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	s, err := openServer(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	err = s.Run(ctx)
	if cerr := s.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("serve: shutting down: %w", cerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "pier: stopped")
	return nil
}

// server is `pier serve`: every part the platform runs, built by the open
// steps in order, served by Run and torn down by Close in reverse order.
type server struct {
	cfg     serveConfig
	stdout  io.Writer
	log     *slog.Logger
	closers []func(context.Context) error // Close runs them last first

	store     tenants.Store
	locked    time.Time // when this process took the data directory's lock
	blobs     assets.Backend
	blobsAt   string // where blobs live, for the banner
	cache     *assets.Cache
	tokenPath string
	edgeLn    net.Listener
	adminLn   net.Listener
	logs      *logstream.Hub
	workers   *worker.Runtime                   // nil with --workers=false
	outbound  *worker.Worker                    // the operator's outbound worker; nil without --outbound-worker
	outbounds map[string]hosting.OutboundWorker // by plan (--outbound-worker-plan)
	edge      *hosting.Edge
	usage     *hosting.UsageFlusher // per-site per-minute counters into the store
	policy    *tlspolicy.Policy
	changes   tenants.Followers // the edge's and the TLS policy's caches

	secretKeys  *secretbox.Keyring // seals sites' secrets (secrets_serve.go)
	siteSecrets *siteSecrets       // nil when the store keeps no secrets

	// TLS; certs and tlsLn are nil when it is off.
	certs    *certs.Manager
	status   *tlspolicy.StatusWriter
	tlsLn    net.Listener
	tlsSrv   *http.Server
	rootFile string // the internal CA's root, with --tls-internal

	api      *admin.API
	edgeURL  func(host string) string
	git      *gitserve.Server   // nil with --git=false or without git
	gc       *lifecycle.Sweeper // nil when the store has no lifecycle support
	edgeSrv  *http.Server
	adminSrv *http.Server
	console  http.Handler // the API and the web console (consoleAndAPI)
}

// openServer runs the open steps; on a failure what was opened is closed.
func openServer(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer) (*server, error) {
	s := &server{cfg: cfg, stdout: stdout}
	steps := []func(context.Context, io.Writer) error{
		s.openLogger, s.openStore, s.openSecrets, s.openBlobs, s.openListeners, s.openWorkers,
		s.openOutbound, s.openEdge, s.openTLS, s.openAPI, s.openGit, s.openHTTP,
	}
	for _, step := range steps {
		if err := step(ctx, stderr); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// onClose registers a teardown step.
func (s *server) onClose(f func(context.Context) error) { s.closers = append(s.closers, f) }

// closeTimeout bounds each teardown step: requests in flight when
// serving stops, workers still running, a store's last writes.
const closeTimeout = 10 * time.Second

// Close stops serving and releases everything opened, in reverse order,
// each step within closeTimeout. It may be called more than once.
func (s *server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		if err := s.closers[i](ctx); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		cancel()
	}
	s.closers = nil
	return errors.Join(errs...)
}

func (s *server) openLogger(_ context.Context, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.cfg.LogLevel)); err != nil {
		return fmt.Errorf("serve: --log-level: %w", err)
	}
	s.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// openStore opens the data directory, the database and the bootstrap
// admin token.
func (s *server) openStore(ctx context.Context, _ io.Writer) error {
	for _, dir := range []string{s.cfg.Data, filepath.Join(s.cfg.Data, "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("serve: creating data directory: %w", err)
		}
	}
	release, err := datadir.Lock(s.cfg.Data)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.locked = time.Now()
	s.onClose(func(context.Context) error { return release() })
	store, err := openStore(ctx, s.cfg.DB)
	if err != nil {
		return err
	}
	s.store = store
	s.onClose(func(context.Context) error { return store.Close() })
	s.tokenPath = filepath.Join(s.cfg.Data, "admin.token")
	return ensureAdminToken(ctx, store, s.tokenPath)
}

func (s *server) openBlobs(ctx context.Context, _ io.Writer) error {
	b, where, err := openBlobs(ctx, s.cfg)
	if err != nil {
		return err
	}
	s.blobs, s.blobsAt = b, where
	s.cache = assets.NewCache(b, s.cfg.CacheSize)
	return nil
}

// openListeners listens before anything runs, so a port clash fails
// start-up first.
func (s *server) openListeners(_ context.Context, _ io.Writer) error {
	for _, l := range []struct {
		ln         *net.Listener
		addr, name string
	}{{&s.edgeLn, s.cfg.HTTP, "edge"}, {&s.adminLn, s.cfg.Admin, "admin"}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("serve: %s listener: %w", l.name, err)
		}
		*l.ln = ln
		s.onClose(func(context.Context) error { return ln.Close() })
	}
	return nil
}

func (s *server) openWorkers(ctx context.Context, _ io.Writer) error {
	s.logs = logstream.New(s.cfg.LogBuffer)
	if !s.cfg.Workers {
		return nil
	}
	rt, err := worker.New(ctx, worker.Config{
		CacheDir: filepath.Join(s.cfg.Data, "wasm-cache"),
		Logger:   s.log.With("component", "worker"),
	})
	if err != nil {
		return fmt.Errorf("serve: worker runtime: %w", err)
	}
	s.workers = rt
	s.onClose(rt.Close)
	return nil
}

func (s *server) openEdge(_ context.Context, _ io.Writer) error {
	policy, err := egressPolicy(s.cfg, s.adminLn.Addr().String())
	if err != nil {
		return err
	}
	var rt *worker.Runtime
	if s.workers != nil {
		rt = s.workers // a nil *Runtime in the interface would not be nil
	}
	s.edge = hosting.New(hosting.Config{
		Domain:         s.cfg.Domain,
		Logger:         s.log.With("component", "edge"),
		Workers:        rt,
		Logs:           s.logs,
		Egress:         policy,
		Outbound:       s.outboundWorker(),
		OutboundByPlan: s.outbounds,
		KV:             s.kvStore(),
		// The API is opened after the edge; no request comes before.
		KVWriteAllowed: func(ctx context.Context, w hosting.KVWrite) error {
			return kvWriteAllowed(ctx, s.api, w)
		},
		// Per site on this node: N nodes give a site up to N times its rate.
		RateLimits: s.cfg.RateLimits,
		Secrets:    s.edgeSecrets(),
	}, s.store, s.cache)
	s.onClose(s.edge.Close)
	// Closed after the servers stop (nothing is counted any more) and
	// before the edge and the store: the last minute is written.
	s.usage = hosting.NewUsageFlusher(s.edge, s.store, hosting.UsageFlusherConfig{Logger: s.log.With("component", "usage")})
	s.onClose(s.usage.Flush)
	return nil
}

// kvStore is the store's KV side (both stores have one).
func (s *server) kvStore() tenants.KVStore {
	kv, _ := s.store.(tenants.KVStore)
	return kv
}

// kvWriteAllowed checks a worker's KV write against its tenant's storage
// quota; the guest sees a refusal as -9 kv_value_too_large.
func kvWriteAllowed(ctx context.Context, api *admin.API, w hosting.KVWrite) error {
	err := api.AllowKVWrite(ctx, w.TenantID, w.Bytes)
	if qe := (*admin.QuotaError)(nil); errors.As(err, &qe) {
		return fmt.Errorf("%w: %w", worker.ErrKVValueTooLarge, err)
	}
	return err
}

// openTLS loads the TLS policy and, with TLS on, listens on --https and
// builds the certificate manager: certificates for active custom domains
// (ACME, on demand, decided from memory) and for platform hosts (see
// tlspolicy.Mode).
func (s *server) openTLS(ctx context.Context, _ io.Writer) error {
	f := s.cfg.TLS
	s.policy = tlspolicy.New(s.store, tlspolicy.Config{
		Domain:      s.cfg.Domain,
		Mode:        f.mode(),
		ConsoleHost: s.cfg.ConsoleHost,
		Logger:      s.log.With("component", "tls"),
	})
	s.changes = tenants.Followers{s.edge, s.policy}
	if err := s.policy.Load(ctx); err != nil {
		s.log.Warn("loading custom domains and sites", "err", err)
	}
	if f.HTTPS == "" {
		return nil
	}
	ln, err := net.Listen("tcp", f.HTTPS)
	if err != nil {
		return fmt.Errorf("serve: https listener: %w", err)
	}
	s.tlsLn = ln
	s.onClose(func(context.Context) error { return ln.Close() })
	cfg, err := s.certsConfig(ctx)
	if err != nil {
		return err
	}
	if s.certs, err = certs.New(cfg); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.onClose(func(context.Context) error { return s.certs.Close() })
	if root := s.certs.InternalRootPEM(); root != nil {
		s.rootFile = filepath.Join(s.cfg.Data, "tls-internal-root.pem")
		if err := writeFileAtomic(s.rootFile, root); err != nil {
			return fmt.Errorf("serve: writing internal CA root: %w", err)
		}
	}
	s.policy.UseCertificates(s.certs)
	return nil
}

// certsConfig is the certificate manager's configuration from the flags:
// storage shared through PostgreSQL when --db is, the policy's decisions,
// DNS-01 for the wildcard when --dns01-webhook is set.
func (s *server) certsConfig(ctx context.Context) (certs.Config, error) {
	f := s.cfg.TLS
	listenHost, _, _ := net.SplitHostPort(f.HTTPS)
	s.status = tlspolicy.NewStatusWriter()
	cfg := certs.Config{
		DataDir:                   s.cfg.Data,
		CA:                        f.ACMECA,
		Email:                     f.ACMEEmail,
		CARootFile:                f.ACMECARoot,
		Internal:                  f.Internal,
		Allow:                     s.policy.Allow,
		AllowChallenge:            s.policy.AllowChallenge,
		TenantOf:                  s.policy.TenantOf,
		MaxOrdersPerHour:          f.OrdersPerHour,
		MaxOrdersPerHourPerTenant: f.OrdersPerHourTen,
		ListenHost:                listenHost,
		HTTPPort:                  s.edgeLn.Addr().(*net.TCPAddr).Port,
		TLSPort:                   s.tlsLn.Addr().(*net.TCPAddr).Port,
		OnChange:                  s.status.Changed,
		Logger:                    s.log.With("component", "tls"),
	}
	if isPostgresURL(s.cfg.DB) {
		pool, err := pgxpool.New(ctx, s.cfg.DB)
		if err != nil {
			return cfg, fmt.Errorf("serve: certificate storage: %w", err)
		}
		s.onClose(func(context.Context) error { pool.Close(); return nil })
		storage, err := pgstorage.New(ctx, pgstorage.Config{Pool: pool, Logger: cfg.Logger})
		if err != nil {
			return cfg, fmt.Errorf("serve: certificate storage: %w", err)
		}
		s.onClose(func(context.Context) error { storage.Close(); return nil })
		cfg.Storage = storage
	}
	if f.DNS01Webhook != "" {
		provider, err := dnshook.New(dnshook.Config{URL: f.DNS01Webhook, Username: f.DNS01User, Password: f.DNS01Password})
		if err != nil {
			return cfg, fmt.Errorf("serve: --dns01-webhook: %w", err)
		}
		cfg.DNS01Provider = provider
		cfg.Wildcards = []string{"*." + s.cfg.Domain}
		for _, r := range strings.Split(f.DNS01Resolver, ",") {
			if r = strings.TrimSpace(r); r != "" {
				cfg.DNS01Resolvers = append(cfg.DNS01Resolvers, r)
			}
		}
	}
	return cfg, nil
}

func (s *server) openAPI(_ context.Context, _ io.Writer) error {
	verifier := &domainverify.Verifier{PublicIPs: s.cfg.PublicIPs}
	if s.cfg.DNSResolver != "" {
		verifier.Resolver = domainverify.NewResolver(s.cfg.DNSResolver)
	}
	var validate func(context.Context, []byte) error
	if s.workers != nil {
		validate = s.workers.Validate
	}
	var certOrders func(context.Context) (int, int, error)
	if s.certs != nil {
		certOrders = s.certs.OrderBudget
	}
	s.edgeURL = s.policy.EdgeURL(portSuffix(s.edgeLn.Addr(), "80"), s.httpsPort())
	gc := s.openGC()
	s.api = admin.New(admin.Config{
		Domain:     s.cfg.Domain,
		EdgeURL:    s.edgeURL,
		Limits:     assets.Limits{MaxFiles: s.cfg.MaxFiles, MaxFileSize: s.cfg.MaxFileSize},
		UploadTTL:  s.cfg.UploadTTL,
		OnActivate: func(site tenants.Site) { s.changes.SiteChanged(site.Name) },
		Logger:     s.log.With("component", "admin"),
		SpoolDir:   filepath.Join(s.cfg.Data, "tmp"),
		Logs:       s.logs,
		// nil when workers are off: deploying one then fails with workers_disabled.
		ValidateWorker: validate,
		PublicIPs:      s.cfg.PublicIPs,
		Verifier:       verifier,
		TLS:            s.certs != nil,
		OnDomainChange: s.changes.DomainChanged,
		OnKVChange:     s.changes.KVChanged,
		CertOrders:     certOrders,
		GitURL:         s.siteGitURL,
		GC:             gc,
		SecretKeys:     s.secretKeys,
	}, s.store, s.blobs)
	return nil
}

// openGC builds the garbage collector (internal/lifecycle) and returns
// admin's POST /api/v1/gc callback, or nil when the store lacks
// lifecycle support.
func (s *server) openGC() func(context.Context, bool) (any, error) {
	ls, ok := s.store.(lifecycle.Store)
	if !ok {
		return nil
	}
	host, _ := os.Hostname()
	s.gc = &lifecycle.Sweeper{
		Store:         ls,
		Blobs:         s.blobs,
		Grace:         s.cfg.GCGrace,
		ZeroGrace:     s.cfg.GCGrace == 0,
		Holder:        fmt.Sprintf("%s/%d", host, os.Getpid()),
		Logger:        s.log.With("component", "gc"),
		OnSiteChanged: func(site tenants.Site) { s.changes.SiteChanged(site.Name) },
	}
	return func(ctx context.Context, dryRun bool) (any, error) {
		rep, err := collectGarbage(ctx, s.gc, s.git, dryRun, s.log)
		if errors.Is(err, lifecycle.ErrLeaseHeld) {
			return nil, admin.ErrGCBusy
		}
		return rep, err
	}
}

// openGit starts the git push server, unless --git=false; without the
// git program it warns and serves without it.
func (s *server) openGit(_ context.Context, _ io.Writer) error {
	if !s.cfg.Git {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("serve: git push: finding pier's own executable for the hook: %w", err)
	}
	g, err := gitserve.New(gitserve.Config{
		Dir:         filepath.Join(s.cfg.Data, "git"),
		HookCommand: []string{exe, "git-hook"},
		Path:        os.Getenv("PATH"),
		Store:       s.store,
		Backend:     s.blobs,
		Publisher:   s.api,
		Domain:      s.cfg.Domain,
		EdgeURL:     s.edgeURL,
		PushTimeout: s.cfg.GitTimeout,
		Log:         s.log.With("component", "git"),
	})
	if errors.Is(err, exec.ErrNotFound) {
		s.log.Warn("git push is off: the git program is not installed", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.git = g
	s.onClose(func(context.Context) error { return g.Close() })
	return nil
}

// gitURL is the URL of a site's repository people are told to push to:
// on the console host when there is one, else on the admin listener.
func (s *server) gitURL(site string) string {
	base := "http://" + dialAddr(s.adminLn.Addr())
	if h := s.cfg.ConsoleHost; h != "" {
		if s.certs != nil {
			base = "https://" + h + s.httpsPort()
		} else {
			base = "http://" + h + portSuffix(s.edgeLn.Addr(), "80")
		}
	}
	return base + gitserve.Prefix + site + ".git"
}

// siteGitURL is the remote GET /api/v1/sites/{site}/git shows: gitURL
// while the git push server runs, "" (no remote) when it does not.
func (s *server) siteGitURL(site string) string {
	if s.git == nil {
		return ""
	}
	return s.gitURL(site)
}

// httpsPort is ":port" for https URLs, empty for 443 or without TLS.
func (s *server) httpsPort() string {
	if s.tlsLn == nil {
		return ""
	}
	return portSuffix(s.tlsLn.Addr(), "443")
}

// openHTTP builds the HTTP servers: the edge (behind ACME HTTP-01 and the
// custom domains' redirect to HTTPS when TLS is on), HTTPS, and the admin
// listener (API, metrics, optional pprof).
func (s *server) openHTTP(_ context.Context, _ io.Writer) error {
	var git http.Handler
	if s.git != nil {
		git = s.git
	}
	s.console = consoleAndAPI(s.api.Handler(), web.Handler(), git)
	s.adminSrv = &http.Server{
		Handler:           hosting.CloseAfterChunked(s.adminHandler()),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // large blob uploads
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	// The console host (if any) reaches the API through the edge's
	// listeners, with the admin server's time for large uploads; metrics
	// and profiles stay on the private listener.
	edge := hosting.RouteHost(s.edge, hosting.HostRoute{
		Host: s.cfg.ConsoleHost, Handler: s.console,
		ReadTimeout: s.adminSrv.ReadTimeout, WriteTimeout: s.adminSrv.WriteTimeout,
	})
	plain := edge
	if s.certs != nil {
		plain = s.certs.HTTPChallengeHandler(hosting.RedirectToHTTPS(edge, s.policy.RedirectToHTTPS, s.httpsPort()))
		s.tlsSrv = hosting.NewServer(s.cfg.TLS.HTTPS, edge)
		s.tlsSrv.TLSConfig = s.certs.TLSConfig()
	}
	s.edgeSrv = hosting.NewServer(s.cfg.HTTP, plain)
	// Open log streams end when the server shuts down instead of holding
	// Shutdown until its deadline.
	s.adminSrv.RegisterOnShutdown(s.api.CloseStreams)
	s.onClose(s.shutdownServers)
	return nil
}

// shutdownServers stops every listener at once and waits for the
// requests in flight until ctx ends; a server still busy then has its
// connections closed, so that what is closed after it (workers, the
// store) is no longer in use.
func (s *server) shutdownServers(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, srv := range []*http.Server{s.edgeSrv, s.tlsSrv, s.adminSrv} {
		if srv == nil {
			continue
		}
		wg.Go(func() {
			if err := srv.Shutdown(ctx); err != nil {
				s.log.Warn("requests still running at shutdown; closing their connections", "err", err)
				srv.Close()
			}
		})
	}
	wg.Wait()
	return nil
}

// consoleAndAPI is what the admin listener and the console host serve:
// the API under /api/ and /healthz, the web console everywhere else. The
// private listener's own paths (/metrics, /debug/) go to the API, whose
// 404 they get on the console host, never the console's page.
func consoleAndAPI(api, console, git http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/api/", "/api", "/healthz", "/metrics", "/debug/"} {
		mux.Handle(p, api)
	}
	if git != nil {
		mux.Handle(gitserve.Prefix, git)
	}
	mux.Handle("/", console)
	return apiAsSent(api, mux)
}

// apiAsSent sends /api/ paths to api as they came and the others to mux.
// ServeMux would answer a path with a dot segment or a double slash (a
// KV key "." or "..") with a redirect to its cleaned form, in HTML, where
// the API answers JSON; the API's router matches segments and never
// serves a path it does not know.
func apiAsSent(api, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", s.console)
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.edge.WriteMetrics(w)
		if s.certs != nil {
			s.certs.WriteMetrics(w)
		}
	})
	return apiAsSent(s.console, mux)
}

// Run serves until ctx ends or a listener fails, then stops the
// background work; Close stops the servers.
func (s *server) Run(ctx context.Context) error {
	if s.workers != nil {
		// Compile the workers of live deployments before serving, so the
		// first request after a restart does not wait for it.
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PrewarmTimeout)
		start := time.Now()
		n, err := s.edge.PrewarmWorkers(pctx, s.store, s.cfg.PrewarmStart)
		cancel()
		if err != nil {
			s.log.Warn("prewarming workers", "err", err)
		} else if n > 0 {
			s.log.Info("prewarmed workers", "count", n, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	s.runBackground(bg, &wg)

	errc := make(chan error, 3)
	serve := func(srv *http.Server, ln net.Listener, tls bool) {
		var err error
		// The servers' timeouts hold, without a timer re-armed for
		// each far-off deadline (docs/architecture.md §2, Timeouts).
		ln = lazydeadline.Listen(ln, 0)
		defer ln.Close() // Serve closes it, but ServeTLS may fail first
		if tls {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	// The banner comes first: whoever sees a listener answer (a test, a
	// load balancer's health check) can read it. The listeners are bound
	// already; connections wait in their backlog.
	s.printBanner()
	go serve(s.edgeSrv, s.edgeLn, false)
	if s.tlsSrv != nil {
		go serve(s.tlsSrv, s.tlsLn, true)
	}
	go serve(s.adminSrv, s.adminLn, false)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
}

// runBackground starts the periodic and event-driven work: certificates
// for active domains and their status, upload and KV key expiry, domain
// verification, the TLS policy's reloads and the change feed.
func (s *server) runBackground(ctx context.Context, wg *sync.WaitGroup) {
	if s.certs != nil {
		wg.Go(func() { s.status.Run(ctx, s.certs.Status, s.api.SetCertStatus, s.log.With("component", "tls")) })
		if err := s.policy.ObtainAll(ctx); err != nil {
			s.log.Warn("requesting certificates of active domains", "err", err)
		}
	}
	wg.Go(func() { expireUploads(ctx, s.api, s.log) })
	wg.Go(func() { removeDebris(ctx, s.locked, s.api, s.blobs, s.log) })
	if s.gc != nil && s.cfg.GCInterval > 0 {
		wg.Go(func() { runGCLoop(ctx, s.gc, s.git, s.cfg.GCInterval, s.log) })
	}
	wg.Go(func() { s.api.RunVerifier(ctx) })
	wg.Go(func() { s.policy.Run(ctx) })
	wg.Go(func() { s.usage.Run(ctx) })
	if w, ok := s.store.(tenants.ChangeWatcher); ok {
		// Other nodes' changes (PostgreSQL LISTEN/NOTIFY) reach this
		// node's caches at once; the periodic reloads stay as a fallback.
		wg.Go(func() {
			w.WatchChanges(ctx, func(c tenants.Change) {
				if c.Kind == tenants.ChangeResync && c.Err != nil {
					s.log.Warn("change feed reconnected", "err", c.Err)
				}
				s.changes.Apply(c)
			})
		})
	}
}

// printBanner says where everything answers and what to type next.
func (s *server) printBanner() {
	out, cfg := s.stdout, s.cfg
	edgePort := portSuffix(s.edgeLn.Addr(), "80")
	mode := cfg.TLS.mode()
	if s.certs != nil {
		fmt.Fprintf(out, "pier: HTTPS on %s\n", s.tlsLn.Addr())
		if !cfg.TLS.Internal {
			contact := cfg.TLS.ACMEEmail
			if contact == "" {
				contact = "no contact e-mail (--acme-email)"
			}
			fmt.Fprintf(out, "pier: certificates from %s, %s\n", cfg.TLS.ACMECA, contact)
		}
		fmt.Fprintf(out, "pier: platform hosts: %s\n", mode.Summary(cfg.Domain))
		s.log.Info("TLS for platform hosts", "mode", mode, "covers", mode.Summary(cfg.Domain))
		if s.rootFile != "" {
			fmt.Fprintf(out, "pier: trust %s for https://<site>.%s%s/\n", s.rootFile, cfg.Domain, s.httpsPort())
		}
		fmt.Fprintf(out, "pier: sites at https://<site>.%s%s/ and http://<site>.%s%s/ (edge on %s)\n", cfg.Domain, s.httpsPort(), cfg.Domain, edgePort, s.edgeLn.Addr())
	} else {
		fmt.Fprintf(out, "pier: sites at http://<site>.%s%s/ (edge on %s)\n", cfg.Domain, edgePort, s.edgeLn.Addr())
	}
	if h := cfg.ConsoleHost; h != "" {
		if s.certs != nil {
			fmt.Fprintf(out, "pier: console and API at https://%s%s/ (the CLI's --api)\n", h, s.httpsPort())
		} else {
			fmt.Fprintf(out, "pier: console and API at http://%s%s/ (the CLI's --api; no TLS without --https)\n", h, edgePort)
		}
	}
	api := "http://" + dialAddr(s.adminLn.Addr())
	fmt.Fprintf(out, "pier: web console at %s/ (sign in with the admin token)\n", api)
	fmt.Fprintf(out, "pier: admin API for the CLI's --api: %s (reference %s/api/v1/openapi.json, health %s/healthz)\n", api, api, api)
	if s.git != nil {
		fmt.Fprintf(out, "pier: git push to %s (password: a token)\n", s.gitURL("<site>"))
	}
	fmt.Fprintf(out, "pier: admin token in %s\n", s.tokenPath)
	fmt.Fprintf(out, "pier: database %s, blobs in %s\n", redactDSN(cfg.DB), s.blobsAt)
	fmt.Fprintf(out, "pier: custom domains verified through %s\n", resolverName(cfg.DNSResolver))
	fmt.Fprintf(out, "pier: next, in another terminal: %s\n", nextStep(api, s.tokenPath))
}

// nextStep is the one command to try first: create a tenant with the
// CLI, telling it where the API and the token are when its defaults
// (http://127.0.0.1:8081, ./data/admin.token) would not find them.
func nextStep(api, tokenPath string) string {
	cmd := "pier tenants create acme"
	if filepath.Clean(tokenPath) != filepath.Join("data", "admin.token") {
		cmd = "PIER_TOKEN=$(cat " + tokenPath + ") " + cmd
	}
	if api != "http://127.0.0.1:8081" {
		cmd = "PIER_API=" + api + " " + cmd
	}
	return cmd
}

// dialAddr is a listener's address as a client dials it: a wildcard host
// becomes 127.0.0.1.
func dialAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// egressPolicy builds the workers' egress policy: the default private and
// internal ranges denied, plus the platform's own admin, S3 and database
// endpoints, plus the per-plan host lists.
func egressPolicy(cfg serveConfig, adminAddr string) (*egress.Policy, error) {
	p := &egress.Policy{Platform: []string{adminAddr}}
	if cfg.ConsoleHost != "" {
		p.Platform = append(p.Platform, cfg.ConsoleHost)
	}
	if cfg.S3Endpoint != "" {
		if u, err := url.Parse(cfg.S3Endpoint); err == nil && u.Host != "" {
			p.Platform = append(p.Platform, u.Host)
		}
	}
	if u, err := url.Parse(cfg.DB); err == nil && isPostgresURL(cfg.DB) && u.Host != "" {
		p.Platform = append(p.Platform, u.Host)
	}
	allow, err := parseAllowAddrs(cfg.EgressAllowAddr)
	if err != nil {
		return nil, err
	}
	p.AllowAddrs = allow
	p.Plans = map[string]egress.HostRules{}
	for _, spec := range []struct {
		flag, value string
		allow       bool
	}{{"--egress-allow", cfg.EgressAllow, true}, {"--egress-deny", cfg.EgressDeny, false}} {
		if err := addPlanHosts(p.Plans, spec.flag, spec.value, spec.allow); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// addPlanHosts adds a 'plan=host,host;plan=host' list to plans.
func addPlanHosts(plans map[string]egress.HostRules, flagName, value string, allow bool) error {
	if value == "" {
		return nil
	}
	for _, part := range strings.Split(value, ";") {
		plan, hosts, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || tenants.ValidatePlan(plan) != nil || hosts == "" {
			return fmt.Errorf("serve: %s: %q is not plan=host,host (plans: free, pro, enterprise)", flagName, part)
		}
		r := plans[plan]
		for _, h := range strings.Split(hosts, ",") {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			if allow {
				r.Allow = append(r.Allow, h)
			} else {
				r.Deny = append(r.Deny, h)
			}
		}
		plans[plan] = r
	}
	return nil
}

func openStore(ctx context.Context, db string) (tenants.Store, error) {
	if isPostgresURL(db) {
		s, err := pgstore.Open(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("serve: opening PostgreSQL: %w", err)
		}
		return s, nil
	}
	path := strings.TrimPrefix(db, "sqlite://")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("serve: opening SQLite %s: %w", path, err)
	}
	return s, nil
}

func openBlobs(ctx context.Context, cfg serveConfig) (assets.Backend, string, error) {
	if cfg.S3Bucket == "" {
		if cfg.S3Endpoint != "" {
			return nil, "", errors.New("serve: --s3-endpoint needs --s3-bucket")
		}
		dir := filepath.Join(cfg.Data, "blobs")
		b, err := fsblob.New(dir)
		if err != nil {
			return nil, "", fmt.Errorf("serve: %w", err)
		}
		return b, dir, nil
	}
	b, err := s3blob.New(ctx, s3blob.Config{
		Endpoint:        cfg.S3Endpoint,
		Bucket:          cfg.S3Bucket,
		Region:          cfg.S3Region,
		Prefix:          cfg.S3Prefix,
		PathStyle:       cfg.S3Endpoint != "",
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
	})
	if err != nil {
		return nil, "", fmt.Errorf("serve: %w", err)
	}
	if err := b.EnsureBucket(ctx); err != nil {
		hint := ""
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			hint = " (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set, so the SDK's default credential chain was used)"
		}
		return nil, "", fmt.Errorf("serve: bucket %s: %w%s", cfg.S3Bucket, err, hint)
	}
	return b, "s3://" + cfg.S3Bucket + "/" + cfg.S3Prefix, nil
}

// ensureAdminToken writes a bootstrap admin token to path (mode 0600) when
// the file does not hold a token the store knows.
func ensureAdminToken(ctx context.Context, store tenants.Store, path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if _, err := store.TokenByHash(ctx, admin.HashToken(strings.TrimSpace(string(b)))); err == nil {
			return nil
		}
	}
	secret := admin.NewTokenSecret()
	tok := tenants.Token{ID: tenants.NewID("tok_", 5), Name: "bootstrap", Hash: admin.HashToken(secret), Created: time.Now().UTC()}
	if err := store.CreateToken(ctx, tok); err != nil {
		return fmt.Errorf("serve: creating the bootstrap admin token: %w", err)
	}
	if err := writeFileAtomic(path, []byte(secret+"\n")); err != nil {
		return fmt.Errorf("serve: writing admin token: %w", err)
	}
	return nil
}

func expireUploads(ctx context.Context, api *admin.API, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := api.ExpireUploads(ctx); err != nil {
				log.Warn("expiring upload sessions", "err", err)
			} else if n > 0 {
				log.Info("expired upload sessions", "count", n)
			}
			if n, err := api.ExpireConsoleSessions(ctx); err != nil {
				log.Warn("expiring console sessions", "err", err)
			} else if n > 0 {
				log.Info("expired console sessions", "count", n)
			}
			if n, err := api.ExpireKV(ctx); err != nil {
				log.Warn("deleting expired KV keys", "err", err)
			} else if n > 0 {
				log.Info("deleted expired KV keys", "count", n)
			}
		}
	}
}

// debrisAge is how old a temporary file of an upload must be before the
// hourly sweep counts it as a crashed process's debris: uploads in
// progress keep theirs fresh. At start-up, everything from before the
// data directory's lock was taken is debris.
const debrisAge = time.Hour

// removeDebris deletes what crashed processes left behind, at start-up
// and every hour: spool files of unfinished uploads and, with local
// blobs, temporary files of unfinished writes.
func removeDebris(ctx context.Context, locked time.Time, api *admin.API, blobs assets.Backend, log *slog.Logger) {
	t := time.NewTicker(debrisAge)
	defer t.Stop()
	// At start-up, what is older than the data directory's lock belongs to
	// no live process; later, an upload in progress keeps its file fresh.
	cutoff := locked
	for {
		if n, err := api.RemoveSpoolDebris(cutoff); err != nil {
			log.Warn("removing spool debris", "err", err)
		} else if n > 0 {
			log.Info("removed spool files of unfinished uploads", "count", n)
		}
		if fs, ok := blobs.(interface {
			RemoveDebris(context.Context, time.Time) (int, error)
		}); ok {
			if n, err := fs.RemoveDebris(ctx, cutoff); err != nil && ctx.Err() == nil {
				log.Warn("removing blob debris", "err", err)
			} else if n > 0 {
				log.Info("removed temporary files of unfinished blob writes", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cutoff = time.Now().Add(-debrisAge)
	}
}

// runGCLoop runs the garbage collector every interval (the node holding
// the lease sweeps; the others find it held and wait for the next turn).
func runGCLoop(ctx context.Context, gc *lifecycle.Sweeper, git *gitserve.Server, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		collectGarbage(ctx, gc, git, false, log)
	}
}

// collectGarbage runs one collection, from the loop or on demand
// (pier gc), and logs what it freed; a real run also removes the git
// cache repositories of deleted sites.
func collectGarbage(ctx context.Context, gc *lifecycle.Sweeper, git *gitserve.Server, dryRun bool, log *slog.Logger) (lifecycle.Report, error) {
	rep, err := gc.Run(ctx, dryRun)
	switch {
	case dryRun || errors.Is(err, lifecycle.ErrLeaseHeld):
		return rep, err
	case err != nil && ctx.Err() == nil:
		log.Warn("garbage collection", "err", err)
	case err == nil && rep.Deployments+rep.Blobs+rep.Objects > 0:
		log.Info("garbage collection", "deployments", rep.Deployments, "blobs", rep.Blobs, "blob_bytes", rep.BlobBytes,
			"objects", rep.Objects, "bytes", rep.Bytes, "took", rep.Duration)
	}
	if git != nil {
		if n, gerr := git.RemoveDeletedRepos(ctx); gerr != nil && ctx.Err() == nil {
			log.Warn("removing git cache repositories of deleted sites", "err", gerr)
		} else if n > 0 {
			log.Info("removed git cache repositories of deleted sites", "count", n)
		}
	}
	return rep, err
}

// portSuffix is ":port" for URLs, empty for the scheme's default port.
func portSuffix(a net.Addr, defaultPort string) string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil || port == defaultPort {
		return ""
	}
	return ":" + port
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			return dsn[:i+3] + "…@" + dsn[at+1:]
		}
	}
	return dsn
}

// resolverName says which DNS resolver --dns-resolver selects.
func resolverName(addr string) string {
	if addr == "" {
		return "the system resolver"
	}
	return "the resolver at " + addr
}

// writeFileAtomic writes data to path (mode 0600) through a temporary
// file renamed into place, so a reader never sees half of it.
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
