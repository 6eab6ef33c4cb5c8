package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/caddyserver/certmagic"

	"github.com/pierhq/pier/certs"
	"github.com/pierhq/pier/certs/dnshook"
	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/internal/tlspolicy"
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
	// GCInterval is how often the garbage collector sweeps (0: never);
	// GCGrace how long collected objects wait before they are deleted.
	GCInterval time.Duration
	GCGrace    time.Duration
	CacheSize  int64
	// LogBuffer is the live-log events each reader may fall behind by.
	LogBuffer   int
	LogLevel    string
	Workers     bool
	RateLimits  bool // tenants' per-site request rates at the edge
	EgressAllow string
	EgressDeny  string
	// EgressAllowAddr lists IP:port destinations exempt from the denied
	// address ranges.
	EgressAllowAddr string
	// OutboundWorker is the operator's outbound worker module ("": none),
	// OutboundCPU its CPU time per fetch, OutboundVars its variables.
	OutboundWorker string
	OutboundCPU    time.Duration
	OutboundVars   stringList
	// OutboundPlans lists PLAN=PATH: a plan's outbound worker instead of
	// OutboundWorker (PLAN=: none for that plan).
	OutboundPlans stringList
	Pprof         bool
	Git           bool
	GitTimeout    time.Duration
	// PrewarmTimeout bounds compiling live workers at start-up.
	PrewarmTimeout time.Duration
	// PrewarmStart is how many of the live workers start-up also starts
	// (hosting.Edge.PrewarmWorkers).
	PrewarmStart int
	PublicIPs    stringList
	DNSResolver  string
	// ConsoleHost is the public name of the console and the API on the
	// edge's listeners ("" keeps them on --admin only).
	ConsoleHost string
	TLS         *tlsFlags
	// SecretsKeyFile is the key file sealing sites' secrets ("": the
	// data directory's secrets.key, generated on first start).
	SecretsKeyFile string
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
	f := envFlags{fs: fs, ev: ev}
	registerServeFlags(f, &c)
	c.TLS = registerTLSFlags(f)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := ev.err(); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if v, ok := ev.get(envName("public-ip")); ok && len(c.PublicIPs) == 0 {
		c.PublicIPs = strings.Split(v, ",")
	}
	if v, ok := ev.get(envName("outbound-worker-var")); ok && len(c.OutboundVars) == 0 && v != "" {
		c.OutboundVars = strings.Split(v, ";")
	}
	if v, ok := ev.get(envName("outbound-worker-plan")); ok && len(c.OutboundPlans) == 0 && v != "" {
		c.OutboundPlans = strings.Split(v, ";")
	}
	for _, ip := range c.PublicIPs {
		if _, err := netip.ParseAddr(strings.TrimSpace(ip)); err != nil {
			return c, fmt.Errorf("serve: --public-ip %q is not an IP address", ip)
		}
	}
	if c.LogBuffer < 1 {
		return c, fmt.Errorf("serve: --log-buffer %d: want at least 1 event", c.LogBuffer)
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.Data, "pier.db")
	}
	c.Domain = strings.TrimSuffix(strings.ToLower(c.Domain), ".")
	if !dnsname.ValidDomain(c.Domain) {
		return c, fmt.Errorf("serve: --domain %q is not a DNS name (sites answer at <site>.<domain>)", c.Domain)
	}
	if err := c.TLS.validate(f.given, c.HTTP, c.Domain); err != nil {
		return c, err
	}
	if err := c.validateConsoleHost(); err != nil {
		return c, err
	}
	return c, nil
}

// validateConsoleHost normalises --console-host and refuses one under
// --domain: tenants' code there would be same-site with the console (it
// could set cookies for it, and SameSite would not protect it).
func (c *serveConfig) validateConsoleHost() error {
	if c.ConsoleHost == "" {
		return nil
	}
	h, err := dnsname.Normalize(c.ConsoleHost)
	if err != nil {
		return fmt.Errorf("serve: --console-host: %w", err)
	}
	if dnsname.InDomain(h, c.Domain) {
		return fmt.Errorf("serve: --console-host %s is under --domain %s, where tenants' sites are: their code would be same-site with the console; use a name outside it (e.g. console.example.net)", h, c.Domain)
	}
	c.ConsoleHost = h
	return nil
}

// registerServeFlags adds every flag but the TLS ones.
func registerServeFlags(f envFlags, c *serveConfig) {
	f.String(&c.Data, "data", "./data", "data directory: SQLite database, local blobs, admin token")
	f.String(&c.Domain, "domain", "localhost", "platform domain: sites answer at <site>.<domain>")
	f.String(&c.HTTP, "http", ":8080", "edge listen address")
	f.String(&c.Admin, "admin", "127.0.0.1:8081", "admin API listen address")
	f.String(&c.DB, "db", "", "database: postgres://… for PostgreSQL, else a SQLite file (default <data>/pier.db)")
	f.String(&c.S3Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (MinIO, Ceph, R2; empty for AWS)")
	f.String(&c.S3Bucket, "s3-bucket", "", "store blobs in this S3 bucket instead of <data>/blobs (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
	f.String(&c.S3Region, "s3-region", "us-east-1", "S3 region")
	f.String(&c.S3Prefix, "s3-prefix", "", "key prefix inside the bucket")
	f.Int(&c.MaxFiles, "max-files", 100_000, "files per deployment")
	f.Int64(&c.MaxFileSize, "max-file-size", 25<<20, "bytes per file")
	f.Duration(&c.UploadTTL, "upload-ttl", time.Hour, "lifetime of an unused upload session")
	f.Duration(&c.GCInterval, "gc-interval", 10*time.Minute, "how often deployment retention and blob garbage collection run (one node at a time; 0: never, pier gc still runs it)")
	f.Duration(&c.GCGrace, "gc-grace", time.Hour, "how long the objects of collected blobs and deleted sites stay in the blob store before they are deleted")
	f.Int64(&c.CacheSize, "cache-size", 256<<20, "bytes of blobs kept in memory")
	f.Int(&c.LogBuffer, "log-buffer", 1024, "live-log events each reader (pier logs, the console) may fall behind by before the oldest are dropped and the reader told")
	f.String(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.Bool(&c.Workers, "workers", true, "run tenants' WebAssembly workers")
	f.Bool(&c.RateLimits, "rate-limits", true, "answer 429 to requests over their site's rate (the tenant's requestsPerSecond and requestBurst, per site on each node)")
	f.String(&c.EgressAllow, "egress-allow", "", "per-plan hosts workers may fetch, e.g. 'free=api.example.com,*.example.org;pro=*' (unset: any public host)")
	f.String(&c.EgressDeny, "egress-deny", "", "per-plan hosts workers may never fetch, same syntax as --egress-allow")
	f.String(&c.EgressAllowAddr, "egress-allow-addr", "", "IP:port destinations workers may fetch although their range is denied (an internal service; comma-separated); platform endpoints stay denied")
	f.String(&c.OutboundWorker, "outbound-worker", "", "the operator's outbound worker: an http-wasm module run for every fetch of every tenant's worker, before the egress policy (docs/workers.md)")
	f.Duration(&c.OutboundCPU, "outbound-worker-cpu", 50*time.Millisecond, "the outbound worker's CPU time per fetch")
	f.fs.Var(&c.OutboundPlans, "outbound-worker-plan", "PLAN=PATH: the outbound worker of a plan's tenants, instead of --outbound-worker (repeatable; PLAN= for none; PIER_OUTBOUND_WORKER_PLAN: pairs separated by ';')")
	f.fs.Var(&c.OutboundVars, "outbound-worker-var", "NAME=VALUE: a variable of the outbound worker (repeatable; PIER_OUTBOUND_WORKER_VAR: pairs separated by ';')")
	f.Duration(&c.PrewarmTimeout, "prewarm-timeout", 10*time.Second, "how long start-up may spend compiling live workers before serving")
	f.Int(&c.PrewarmStart, "prewarm-start", 32, "how many of the live workers start-up also starts (one instance each, its start-up run), so their first request finds them ready")
	f.fs.Var(&c.PublicIPs, "public-ip", "a public address of the platform (repeatable): the A/AAAA records apex custom domains point at (PIER_PUBLIC_IP, comma-separated)")
	f.String(&c.DNSResolver, "dns-resolver", "", "DNS server (host:port) that verifies custom domains' records (default: the system's)")
	f.Bool(&c.Pprof, "pprof", false, "serve Go's /debug/pprof/ profiles on the admin listener")
	f.Bool(&c.Git, "git", true, "publish with git push: serve sites' repositories at /git/<site>.git on the admin listener and the console host (needs the git program)")
	f.Duration(&c.GitTimeout, "git-timeout", 15*time.Minute, "longest a git push or fetch may take")
	f.String(&c.SecretsKeyFile, "secrets-key-file", "", "file of the keys sealing sites' secrets, one per line (64 hex digits or base64 of 32 bytes), the first one sealing (default <data>/secrets.key, generated on first start; nodes sharing a database need the same file)")
	f.String(&c.ConsoleHost, "console-host", "", "public hostname of the console and the API (e.g. console.example.net), served by the edge's listeners with its own certificate; must be outside --domain")
}

// isPostgresURL reports whether --db names a PostgreSQL database (shared
// by several nodes) rather than a SQLite file.
func isPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// envFlags registers flags whose defaults are their PIER_* twins (envName
// of the flag's name), so a variable's name is never spelt by hand.
type envFlags struct {
	fs *flag.FlagSet
	ev *envDefaults
}

func (f envFlags) String(p *string, name, def, usage string) {
	f.fs.StringVar(p, name, f.ev.str(envName(name), def), usage)
}

func (f envFlags) Bool(p *bool, name string, def bool, usage string) {
	f.fs.BoolVar(p, name, f.ev.boolean(envName(name), def), usage)
}

func (f envFlags) Int(p *int, name string, def int, usage string) {
	f.fs.IntVar(p, name, int(f.ev.integer(envName(name), int64(def))), usage)
}

func (f envFlags) Int64(p *int64, name string, def int64, usage string) {
	f.fs.Int64Var(p, name, f.ev.integer(envName(name), def), usage)
}

func (f envFlags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.fs.DurationVar(p, name, f.ev.duration(envName(name), def), usage)
}

// given reports whether flag name was set on the command line or through
// its PIER_* twin. Call it after Parse.
func (f envFlags) given(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set || f.ev.isSet(envName(name))
}

// envName is the PIER_* twin of a flag: --cert-orders-per-hour ↔
// PIER_CERT_ORDERS_PER_HOUR.
func envName(flagName string) string {
	return "PIER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
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

// registerTLSFlags adds the TLS flags.
func registerTLSFlags(f envFlags) *tlsFlags {
	t := &tlsFlags{}
	f.String(&t.HTTPS, "https", "", "HTTPS listen address (e.g. :443); turns on TLS, --http then also answers ACME HTTP-01 (default <host of --http>:8443 with --tls-internal)")
	f.String(&t.ACMECA, "acme-ca", certmagic.LetsEncryptProductionCA, "ACME directory URL of the CA issuing custom domains' certificates (using it accepts its subscriber agreement)")
	f.String(&t.ACMEEmail, "acme-email", "", "contact e-mail of the ACME account (expiry notices)")
	f.String(&t.ACMECARoot, "acme-ca-root", "", "PEM file of a root to trust when talking to the ACME CA (a private CA such as Pebble)")
	f.Bool(&t.Internal, "tls-internal", false, "issue certificates from a local self-signed CA instead of ACME (development: https://<site>.localhost:8443); its root is written to <data>/tls-internal-root.pem")
	f.Int(&t.OrdersPerHour, "cert-orders-per-hour", certs.DefaultMaxOrdersPerHour, "cap on new certificate orders per hour, counted across all nodes sharing the certificate storage (-1: no cap, 0: the default)")
	f.Int(&t.OrdersPerHourTen, "cert-orders-per-hour-per-tenant", certs.DefaultMaxOrdersPerHourPerTenant, "cap on new certificate orders per hour per tenant, counted across all nodes sharing the certificate storage (-1: no cap, 0: the default)")
	f.String(&t.DNS01Webhook, "dns01-webhook", "", "URL of a DNS webhook (lego httpreq protocol: POST <url>/present and <url>/cleanup) that sets ACME DNS-01 TXT records; with it platform hosts and previews share one wildcard certificate for *.<domain>")
	f.String(&t.DNS01User, "dns01-webhook-user", "", "HTTP basic-auth user for --dns01-webhook")
	// The password's env twin is read in validate, not as the default, so
	// --help never prints it.
	f.fs.StringVar(&t.DNS01Password, "dns01-webhook-password", "", "HTTP basic-auth password for --dns01-webhook (better: "+envName("dns01-webhook-password")+", as flags show in ps)")
	f.String(&t.DNS01Resolver, "dns01-resolver", "", "DNS servers (host:port, comma-separated) that find the zone of DNS-01 records and check they have propagated (default: the system's, then the zone's authoritative servers)")
	return t
}

// mode is how platform hosts get certificates with these flags (validate
// rejects contradictory ones).
func (f *tlsFlags) mode() tlspolicy.Mode {
	switch {
	case f.Internal:
		return tlspolicy.Internal
	case f.HTTPS == "":
		return tlspolicy.Off
	case f.DNS01Webhook != "":
		return tlspolicy.Wildcard
	}
	return tlspolicy.PerSite
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

// tlsOnlyFlags mean something only with TLS on; internalExcludes have no
// effect with --tls-internal.
var (
	tlsOnlyFlags     = []string{"acme-ca", "acme-email", "acme-ca-root", "cert-orders-per-hour", "cert-orders-per-hour-per-tenant", "dns01-webhook", "dns01-webhook-user", "dns01-webhook-password", "dns01-resolver"}
	internalExcludes = []string{"acme-ca", "acme-email", "acme-ca-root", "dns01-webhook"}
)

// validate checks the TLS flags before anything is written or listened
// on, sets the --tls-internal default of --https and reads the webhook
// password's env twin. given reports whether a flag was set on the
// command line or through its PIER_* twin.
func (f *tlsFlags) validate(given func(name string) bool, httpAddr, domain string) error {
	httpsDefaulted := false
	if f.Internal && f.HTTPS == "" {
		f.HTTPS = defaultHTTPS(httpAddr)
		httpsDefaulted = true
	}
	if f.DNS01Password == "" {
		f.DNS01Password = os.Getenv(envName("dns01-webhook-password"))
	}
	tlsOn := f.HTTPS != ""
	for _, name := range tlsOnlyFlags {
		if given(name) && !tlsOn {
			return fmt.Errorf("serve: --%s is set but TLS is off; add --https ADDR (e.g. --https :443) or --tls-internal", name)
		}
	}
	for _, name := range internalExcludes {
		if f.Internal && given(name) {
			return fmt.Errorf("serve: --%s has no effect with --tls-internal (the internal CA issues every certificate itself); drop one of them", name)
		}
	}
	if !tlsOn {
		return nil
	}
	if err := f.validateACME(); err != nil {
		return err
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

// validateACME checks the CA URL, the contact and the order caps.
func (f *tlsFlags) validateACME() error {
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
