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
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/assets/s3blob"
	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/hosting/egress"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/internal/domainverify"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/pgstore"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// serveConfig is everything `pier serve` reads from flags and their PIER_*
// environment twins. Only this file reads them; every package gets a Config.
type serveConfig struct {
	Data        string
	Domain      string
	HTTP        string
	Admin       string
	DB          string
	S3Endpoint  string
	S3Bucket    string
	S3Region    string
	S3Prefix    string
	MaxFiles    int
	MaxFileSize int64
	UploadTTL   time.Duration
	CacheSize   int64
	LogLevel    string
	Workers     bool
	EgressAllow string
	EgressDeny  string
	Pprof       bool
	// PrewarmTimeout bounds compiling live workers at start-up.
	PrewarmTimeout time.Duration
	PublicIPs      stringList
	DNSResolver    string
	TLS            *tlsFlags
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pier serve [flags]\n\nRuns the edge (every site, on --http) and the admin API (on --admin).\nEvery flag has a PIER_* environment twin, e.g. --s3-bucket ↔ PIER_S3_BUCKET.\n\n")
		fs.PrintDefaults()
	}
	ev := newEnvDefaults()
	fs.StringVar(&c.Data, "data", ev.str("PIER_DATA", "./data"), "data directory: SQLite database, local blobs, admin token")
	fs.StringVar(&c.Domain, "domain", ev.str("PIER_DOMAIN", "localhost"), "platform domain: sites answer at <site>.<domain>")
	fs.StringVar(&c.HTTP, "http", ev.str("PIER_HTTP", ":8080"), "edge listen address")
	fs.StringVar(&c.Admin, "admin", ev.str("PIER_ADMIN", "127.0.0.1:8081"), "admin API listen address")
	fs.StringVar(&c.DB, "db", ev.str("PIER_DB", ""), "database: postgres://… for PostgreSQL, else a SQLite file (default <data>/pier.db)")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", ev.str("PIER_S3_ENDPOINT", ""), "S3-compatible endpoint URL (MinIO, Ceph, R2; empty for AWS)")
	fs.StringVar(&c.S3Bucket, "s3-bucket", ev.str("PIER_S3_BUCKET", ""), "store blobs in this S3 bucket instead of <data>/blobs (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&c.S3Region, "s3-region", ev.str("PIER_S3_REGION", "us-east-1"), "S3 region")
	fs.StringVar(&c.S3Prefix, "s3-prefix", ev.str("PIER_S3_PREFIX", ""), "key prefix inside the bucket")
	fs.IntVar(&c.MaxFiles, "max-files", int(ev.integer("PIER_MAX_FILES", 100_000)), "files per deployment")
	fs.Int64Var(&c.MaxFileSize, "max-file-size", ev.integer("PIER_MAX_FILE_SIZE", 25<<20), "bytes per file")
	fs.DurationVar(&c.UploadTTL, "upload-ttl", ev.duration("PIER_UPLOAD_TTL", time.Hour), "lifetime of an unused upload session")
	fs.Int64Var(&c.CacheSize, "cache-size", ev.integer("PIER_CACHE_SIZE", 256<<20), "bytes of blobs kept in memory")
	fs.StringVar(&c.LogLevel, "log-level", ev.str("PIER_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.BoolVar(&c.Workers, "workers", ev.boolean("PIER_WORKERS", true), "run tenants' WebAssembly workers")
	fs.StringVar(&c.EgressAllow, "egress-allow", ev.str("PIER_EGRESS_ALLOW", ""), "per-plan hosts workers may fetch, e.g. 'free=api.example.com,*.example.org;pro=*' (unset: any public host)")
	fs.DurationVar(&c.PrewarmTimeout, "prewarm-timeout", ev.duration("PIER_PREWARM_TIMEOUT", 10*time.Second), "how long start-up may spend compiling live workers before serving")
	fs.Var(&c.PublicIPs, "public-ip", "a public address of the platform (repeatable): the A/AAAA records apex custom domains point at (PIER_PUBLIC_IP, comma-separated)")
	fs.StringVar(&c.DNSResolver, "dns-resolver", ev.str("PIER_DNS_RESOLVER", ""), "DNS server (host:port) that verifies custom domains' records (default: the system's)")
	c.TLS = registerTLSFlags(fs, ev)
	fs.BoolVar(&c.Pprof, "pprof", ev.boolean("PIER_PPROF", false), "serve Go's /debug/pprof/ profiles on the admin listener")
	fs.StringVar(&c.EgressDeny, "egress-deny", ev.str("PIER_EGRESS_DENY", ""), "per-plan hosts workers may never fetch, same syntax as --egress-allow")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := ev.err(); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if v, ok := ev.get("PIER_PUBLIC_IP"); ok && len(c.PublicIPs) == 0 {
		c.PublicIPs = strings.Split(v, ",")
	}
	for _, ip := range c.PublicIPs {
		if _, err := netip.ParseAddr(strings.TrimSpace(ip)); err != nil {
			return c, fmt.Errorf("serve: --public-ip %q is not an IP address", ip)
		}
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.Data, "pier.db")
	}
	c.Domain = strings.TrimSuffix(strings.ToLower(c.Domain), ".")
	if !validDomain(c.Domain) {
		return c, fmt.Errorf("serve: --domain %q is not a DNS name (sites answer at <site>.<domain>)", c.Domain)
	}
	// A flag counts as given when it is on the command line or its PIER_*
	// twin is set.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if ev.isSet(envName(f.Name)) {
			given[f.Name] = true
		}
	})
	if err := c.TLS.validate(func(name string) bool { return given[name] }, c.HTTP, c.Domain); err != nil {
		return c, err
	}
	return c, nil
}

// validDomain reports whether d is a syntactically valid DNS name.
func validDomain(d string) bool {
	return dnsname.ValidDomain(d)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("serve: --log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("serve: creating data directory: %w", err)
	}
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()

	backend, where, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	cache := assets.NewCache(backend, cfg.CacheSize)

	tokenPath := filepath.Join(cfg.Data, "admin.token")
	if err := ensureAdminToken(ctx, store, tokenPath); err != nil {
		return err
	}

	// Listen first so a port clash fails start-up before anything runs.
	edgeLn, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("serve: edge listener: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin)
	if err != nil {
		edgeLn.Close()
		return fmt.Errorf("serve: admin listener: %w", err)
	}

	edgePort := portSuffix(edgeLn.Addr())
	logs := logstream.New(0)
	var (
		workers  *worker.Runtime
		validate func(context.Context, []byte) error
	)
	if cfg.Workers {
		workers, err = worker.New(ctx, worker.Config{
			CacheDir: filepath.Join(cfg.Data, "wasm-cache"),
			Logger:   log.With("component", "worker"),
		})
		if err != nil {
			edgeLn.Close()
			adminLn.Close()
			return fmt.Errorf("serve: worker runtime: %w", err)
		}
		defer workers.Close(context.Background())
		validate = workers.Validate
	}
	policy, err := egressPolicy(cfg, adminLn.Addr().String())
	if err != nil {
		edgeLn.Close()
		adminLn.Close()
		return err
	}
	domains := hosting.NewDomainSet(store, hosting.DomainSetConfig{})
	verifier := &domainverify.Verifier{PublicIPs: cfg.PublicIPs}
	if cfg.DNSResolver != "" {
		verifier.Resolver = domainverify.NewResolver(cfg.DNSResolver)
	}
	edge := hosting.New(hosting.Config{
		Domain:  cfg.Domain,
		Logger:  log.With("component", "edge"),
		Workers: workers,
		Logs:    logs,
		Egress:  policy,
	}, store, cache)
	defer edge.Close(context.Background())

	// TLS: certificates for active custom domains (ACME, on demand, decided
	// from memory) and for platform hosts: one wildcard through DNS-01
	// (--dns01-webhook; certs serves every <x>.<domain> from it without
	// asking allow), else per existing site on demand (no previews: their
	// names are unbounded), or anything under the domain from the internal
	// CA (--tls-internal).
	if err := domains.Refresh(ctx); err != nil {
		log.Warn("loading active custom domains", "err", err)
	}
	platformTLS := cfg.TLS.platformTLS()
	var sites *hosting.SiteSet
	if platformTLS == platformTLSPerSite {
		sites = hosting.NewSiteSet(store, hosting.SiteSetConfig{})
		if err := sites.Refresh(ctx); err != nil {
			log.Warn("loading sites", "err", err)
		}
	}
	platformSuffix := "." + cfg.Domain
	allow := func(h string) bool {
		if domains.IsActive(h) {
			return true
		}
		switch platformTLS {
		case platformTLSInternal:
			return strings.HasSuffix(h, platformSuffix)
		case platformTLSPerSite:
			// Only sites that exist: junk names under the domain must not
			// spend the ACME budget or touch storage.
			site, ok := platformSite(h, cfg.Domain)
			return ok && sites.Has(site)
		}
		return false
	}
	tenantOf := func(h string) string {
		if site, ok := platformSite(h, cfg.Domain); ok {
			if sites == nil {
				return ""
			}
			t, _ := sites.TenantOf(site)
			return t
		}
		// A custom domain. Asked once per order, never per handshake, so
		// the store may answer; unknown counts only against the global cap.
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if d, err := store.ActiveDomain(lctx, h); err == nil {
			return d.TenantID
		}
		return ""
	}
	challenges := newChallengeLookup(func(ctx context.Context, h string) bool {
		_, err := store.ActiveDomain(ctx, h)
		return err == nil
	})
	tlsSrv, err := startTLS(ctx, cfg.TLS, tlsOptions{
		Domain:         cfg.Domain,
		Data:           cfg.Data,
		DB:             cfg.DB,
		HTTPAddr:       cfg.HTTP,
		Allow:          allow,
		AllowChallenge: challenges.allow,
		TenantOf:       tenantOf,
		Logger:         log.With("component", "tls"),
	}, edge)
	if err != nil {
		edgeLn.Close()
		adminLn.Close()
		return err
	}
	// siteChanged and domainChanged apply a change of routing or domain
	// state to this node's caches: called by the admin API for its own
	// writes and, with PostgreSQL, for every node's (the store's change
	// feed). Both are idempotent and return quickly.
	siteChanged := func(name string) {
		edge.Invalidate(name)
		if sites != nil {
			// Created, deployed, deleted or its tenant disabled: reload the
			// set, then stop serving the certificate of a site that is gone.
			sites.Changed(name)
			if tlsSrv != nil {
				go func() {
					if sites.Refresh(ctx) == nil {
						tlsSrv.ForgetUnlessAllowed(name + platformSuffix)
					}
				}()
			}
		}
	}
	domainChanged := func(h string) {
		edge.InvalidateHost(h)
		domains.Changed(h) // applies the store's answer for h at once
		if tlsSrv != nil {
			// An active name is obtained at once, an inactive one forgotten
			// (no longer served or renewed).
			go tlsSrv.OnDomainChange(h)
		}
	}
	// Sites' and previews' URLs (deploy, sites get) say https when the
	// platform serves their names over HTTPS.
	httpsPort := ""
	if tlsSrv != nil {
		httpsPort = httpsPortSuffix(tlsSrv.Addr())
	}
	edgeURL := platformURL(platformTLS, cfg.Domain, edgePort, httpsPort)
	api := admin.New(admin.Config{
		Domain:     cfg.Domain,
		EdgeURL:    edgeURL,
		Limits:     assets.Limits{MaxFiles: cfg.MaxFiles, MaxFileSize: cfg.MaxFileSize},
		UploadTTL:  cfg.UploadTTL,
		OnActivate: func(s tenants.Site) { siteChanged(s.Name) },
		Logger:     log.With("component", "admin"),
		SpoolDir:   filepath.Join(cfg.Data, "tmp"),
		Logs:       logs,
		// nil when workers are off: deploying one then fails with workers_disabled.
		ValidateWorker: validate,
		PublicIPs:      cfg.PublicIPs,
		Verifier:       verifier,
		TLS:            tlsSrv != nil,
		OnDomainChange: domainChanged,
	}, store, backend)
	if err := os.MkdirAll(filepath.Join(cfg.Data, "tmp"), 0o700); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if tlsSrv != nil {
		go tlsSrv.ReportStatus(ctx, api.SetCertStatus, log.With("component", "tls"))
	}
	adminMux := http.NewServeMux()
	adminMux.Handle("/", api.Handler())
	if cfg.Pprof {
		adminMux.HandleFunc("/debug/pprof/", pprof.Index)
		adminMux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		adminMux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		adminMux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	adminMux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		edge.WriteMetrics(w)
		if tlsSrv != nil {
			tlsSrv.Manager.WriteMetrics(w)
		}
	})

	edgeSrv := hosting.NewServer(cfg.HTTP, edge)
	if tlsSrv != nil {
		// ACME HTTP-01 before any tenant rule, then custom domains to https
		// once their certificate is in (until then, and if issuance fails,
		// they stay reachable over http rather than redirected to a
		// failing handshake).
		toHTTPS := func(h string) bool { return domains.IsActive(h) && tlsSrv.Manager.HasCertificate(h) }
		edgeSrv.Handler = tlsSrv.HTTPHandler(hosting.RedirectToHTTPS(edge, toHTTPS, httpsPort))
		if hosts, err := store.ActiveDomains(ctx); err == nil {
			tlsSrv.ObtainAll(hosts)
		}
	}
	adminSrv := &http.Server{
		Handler:           adminMux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // large blob uploads
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}

	// Open log streams end when the server shuts down instead of holding
	// Shutdown until its deadline.
	adminSrv.RegisterOnShutdown(api.CloseStreams)

	// Compile the workers of live deployments before serving, so the first
	// request after a restart does not wait for it; bounded, so a platform
	// with many workers still starts (the rest compile on first use).
	if workers != nil {
		pctx, cancel := context.WithTimeout(ctx, cfg.PrewarmTimeout)
		prewarmWorkers(pctx, store, cache, workers, log)
		cancel()
	}

	errc := make(chan error, 3)
	go func() { errc <- serveUntilClosed(edgeSrv, edgeLn) }()
	if tlsSrv != nil {
		go func() { errc <- tlsSrv.Serve() }()
		fmt.Fprintf(stdout, "pier: HTTPS on %s\n", tlsSrv.Addr())
		if !cfg.TLS.Internal {
			contact := cfg.TLS.ACMEEmail
			if contact == "" {
				contact = "no contact e-mail (--acme-email)"
			}
			fmt.Fprintf(stdout, "pier: certificates from %s, %s\n", cfg.TLS.ACMECA, contact)
		}
		cover := platformTLSSummary(platformTLS, cfg.Domain)
		fmt.Fprintf(stdout, "pier: platform hosts: %s\n", cover)
		log.Info("TLS for platform hosts", "mode", platformTLS, "covers", cover)
		if f := tlsSrv.RootFile(); f != "" {
			fmt.Fprintf(stdout, "pier: trust %s for https://<site>.%s%s/\n", f, cfg.Domain, httpsPort)
		}
	}
	go func() { errc <- serveUntilClosed(adminSrv, adminLn) }()
	go expireUploads(ctx, api, log)
	go api.RunVerifier(ctx)
	go domains.Run(ctx, func(err error) { log.Warn("reloading active custom domains", "err", err) })
	if sites != nil {
		go sites.Run(ctx, func(err error) { log.Warn("reloading sites", "err", err) })
	}
	if w, ok := store.(tenants.ChangeWatcher); ok {
		// Other nodes' changes (PostgreSQL LISTEN/NOTIFY) reach this
		// node's caches at once; the periodic reloads stay as a fallback.
		go w.WatchChanges(ctx, func(c tenants.Change) {
			switch c.Kind {
			case tenants.ChangeSite:
				siteChanged(c.Key)
			case tenants.ChangeDomain:
				domainChanged(c.Key)
			case tenants.ChangeResync:
				// Changes may have been missed: reload the sets now; cached
				// routes revalidate within RouteTTL.
				if c.Err != nil {
					log.Warn("change feed reconnected", "err", c.Err)
				}
				domains.Changed("")
				if sites != nil {
					sites.Changed("")
				}
			}
		})
	}

	if platformTLS != platformTLSOff {
		fmt.Fprintf(stdout, "pier: sites at https://<site>.%s%s/ and http://<site>.%s%s/ (edge on %s)\n", cfg.Domain, httpsPort, cfg.Domain, edgePort, edgeLn.Addr())
	} else {
		fmt.Fprintf(stdout, "pier: sites at http://<site>.%s%s/ (edge on %s)\n", cfg.Domain, edgePort, edgeLn.Addr())
	}
	fmt.Fprintf(stdout, "pier: admin API at http://%s/api/v1 — admin token in %s\n", adminLn.Addr(), tokenPath)
	fmt.Fprintf(stdout, "pier: database %s, blobs in %s\n", redactDSN(cfg.DB), where)
	fmt.Fprintf(stdout, "pier: custom domains verified through %s\n", resolverName(cfg.DNSResolver))

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	edgeSrv.Shutdown(shutdownCtx)
	adminSrv.Shutdown(shutdownCtx)
	if tlsSrv != nil {
		tlsSrv.Shutdown(shutdownCtx)
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(stdout, "pier: stopped")
	return nil
}

// prewarmWorkers compiles (from the on-disk caches) the worker of every
// live deployment until ctx ends, so the first request after a restart
// does not pay for it.
func prewarmWorkers(ctx context.Context, store tenants.Store, blobs *assets.Cache, rt *worker.Runtime, log *slog.Logger) {
	sites, err := store.Sites(ctx, "")
	if err != nil {
		log.Warn("prewarming workers: listing sites", "err", err)
		return
	}
	start, n := time.Now(), 0
	for _, site := range sites {
		if ctx.Err() != nil {
			return
		}
		if site.ActiveDeployment == "" {
			continue
		}
		d, err := store.Deployment(ctx, site.ID, site.ActiveDeployment)
		if err != nil || d.Worker == "" {
			continue
		}
		t, err := store.Tenant(ctx, d.TenantID)
		if err != nil {
			continue
		}
		wasm, err := blobs.Bytes(ctx, assets.Key(d.TenantID, d.Worker, ""))
		if err != nil {
			log.Warn("prewarming worker: reading module", "site", site.Name, "err", err)
			continue
		}
		l := t.EffectiveLimits()
		lim := worker.Limits{CPU: time.Duration(l.CPUMs) * time.Millisecond, SubRequests: l.SubRequests, MemoryBytes: int64(l.MemoryMB) << 20}
		if err := rt.Prewarm(ctx, wasm, lim); err != nil {
			log.Warn("prewarming worker", "site", site.Name, "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		log.Info("prewarmed workers", "count", n, "took", time.Since(start).Round(time.Millisecond))
	}
}

// egressPolicy builds the workers' egress policy: the default private and
// internal ranges denied, plus the platform's own admin, S3 and database
// endpoints, plus the per-plan host lists.
func egressPolicy(cfg serveConfig, adminAddr string) (*egress.Policy, error) {
	p := &egress.Policy{Platform: []string{adminAddr}}
	if cfg.S3Endpoint != "" {
		if u, err := url.Parse(cfg.S3Endpoint); err == nil && u.Host != "" {
			p.Platform = append(p.Platform, u.Host)
		}
	}
	if u, err := url.Parse(cfg.DB); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Host != "" {
		p.Platform = append(p.Platform, u.Host)
	}
	p.Plans = map[string]egress.HostRules{}
	for _, spec := range []struct {
		flag, value string
		allow       bool
	}{{"--egress-allow", cfg.EgressAllow, true}, {"--egress-deny", cfg.EgressDeny, false}} {
		if spec.value == "" {
			continue
		}
		for _, part := range strings.Split(spec.value, ";") {
			plan, hosts, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || tenants.ValidatePlan(plan) != nil || hosts == "" {
				return nil, fmt.Errorf("serve: %s: %q is not plan=host,host (plans: free, pro, enterprise)", spec.flag, part)
			}
			r := p.Plans[plan]
			for _, h := range strings.Split(hosts, ",") {
				if h = strings.TrimSpace(h); h != "" {
					if spec.allow {
						r.Allow = append(r.Allow, h)
					} else {
						r.Deny = append(r.Deny, h)
					}
				}
			}
			p.Plans[plan] = r
		}
	}
	return p, nil
}

func serveUntilClosed(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func openStore(ctx context.Context, db string) (tenants.Store, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
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
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("serve: writing admin token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
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
		}
	}
}

// portSuffix is ":port" for URLs, empty for port 80.
func portSuffix(a net.Addr) string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil || port == "80" {
		return ""
	}
	return ":" + port
}

// httpsPortSuffix is ":port" for https URLs, empty for port 443.
func httpsPortSuffix(a net.Addr) string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil || port == "443" {
		return ""
	}
	return ":" + port
}

// platformURL returns admin.Config.EdgeURL: https://host<httpsPort>/ for
// the platform hosts served over HTTPS in TLS mode (docs/tls.md: every
// name under the domain with the wildcard or the internal CA, sites but
// not previews per site), else http://host<httpPort>/.
func platformURL(mode, domain, httpPort, httpsPort string) func(host string) string {
	return func(host string) string {
		https := false
		switch mode {
		case platformTLSWildcard, platformTLSInternal:
			https = strings.HasSuffix(host, "."+domain)
		case platformTLSPerSite:
			_, https = platformSite(host, domain)
		}
		if https {
			return "https://" + host + httpsPort + "/"
		}
		return "http://" + host + httpPort + "/"
	}
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			return dsn[:i+3] + "…@" + dsn[at+1:]
		}
	}
	return dsn
}

// envDefaults reads the PIER_* environment twins of `pier serve`'s flags
// as their defaults. Values are parsed strictly: a value that does not
// parse is recorded (see err) instead of being silently replaced by the
// default.
type envDefaults struct {
	lookup func(string) (string, bool)
	errs   []error
}

func newEnvDefaults() *envDefaults { return &envDefaults{lookup: os.LookupEnv} }

// get returns the variable's value; ok is false when it is unset or empty.
func (e *envDefaults) get(name string) (string, bool) {
	v, ok := e.lookup(name)
	return v, ok && v != ""
}

// isSet reports whether the variable is set to a non-empty value.
func (e *envDefaults) isSet(name string) bool {
	_, ok := e.get(name)
	return ok
}

func (e *envDefaults) bad(name, v, what string) {
	e.errs = append(e.errs, fmt.Errorf("%s=%q is not %s", name, v, what))
}

func (e *envDefaults) str(name, def string) string {
	if v, ok := e.get(name); ok {
		return v
	}
	return def
}

func (e *envDefaults) boolean(name string, def bool) bool {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.bad(name, v, "a boolean (accepted: true, false, 1, 0, t, f, TRUE, FALSE, True, False, T, F)")
		return def
	}
	return b
}

func (e *envDefaults) integer(name string, def int64) int64 {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.bad(name, v, "an integer (decimal digits, e.g. 100 or -1)")
		return def
	}
	return n
}

func (e *envDefaults) duration(name string, def time.Duration) time.Duration {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.bad(name, v, "a duration (a number with a unit: ms, s, m or h, e.g. 90s, 10m, 1h30m)")
		return def
	}
	return d
}

// err is every bad value found, nil when all parsed.
func (e *envDefaults) err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("serve: %w", errors.Join(e.errs...))
}

// envName is the PIER_* twin of a flag: --cert-orders-per-hour ↔
// PIER_CERT_ORDERS_PER_HOUR.
func envName(flagName string) string {
	return "PIER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// resolverName says which DNS resolver --dns-resolver selects.
func resolverName(addr string) string {
	if addr == "" {
		return "the system resolver"
	}
	return "the resolver at " + addr
}
