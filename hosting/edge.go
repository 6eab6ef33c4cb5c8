package hosting

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/hosting/egress"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

// Registry is what the edge needs from the tenant registry; tenants.Store
// satisfies it. Lookups return errors wrapping tenants.ErrNotFound for
// absent records; any other error is treated as the registry being
// unavailable. Implementations are safe for concurrent use.
type Registry interface {
	// Site looks a site up by name (or ID; the edge checks the name).
	Site(ctx context.Context, ref string) (tenants.Site, error)
	// Tenant looks a tenant up by ID (or name).
	Tenant(ctx context.Context, ref string) (tenants.Tenant, error)
	// Deployment returns deployment id of site siteID.
	Deployment(ctx context.Context, siteID, id string) (tenants.Deployment, error)
}

// DomainRegistry is what the edge needs to serve tenants' custom
// hostnames; tenants.Store satisfies it. When the Registry given to New
// does not implement it, no custom hostname is served. Lookups follow the
// Registry's error contract.
type DomainRegistry interface {
	// ActiveDomain returns the active claim on host.
	ActiveDomain(ctx context.Context, host string) (tenants.Domain, error)
	// DomainClaims lists every site's claim on host (pending ones carry
	// the token the HTTP ownership proof answers).
	DomainClaims(ctx context.Context, host string) ([]tenants.Domain, error)
}

// BranchRegistry is what the edge needs to serve git branch aliases
// (<alias>--<site>.<Domain>, the latest push of a branch); tenants.Store
// satisfies it. When the Registry given to New does not implement it, no
// alias is served. Lookups follow the Registry's error contract.
type BranchRegistry interface {
	// GitAlias returns the site's branch whose alias is alias.
	GitAlias(ctx context.Context, siteID, alias string) (tenants.GitRef, error)
}

// ChallengePath is the URL path prefix of the HTTP ownership proof of a
// custom hostname: GET <ChallengePath><token> on the hostname answers the
// token when a pending claim on it carries that token.
const ChallengePath = "/.well-known/pier-challenge/"

// Blobs reads whole blobs; *assets.Cache satisfies it. Bytes returns an
// error wrapping assets.ErrNotFound for an absent blob (assets.ErrUnavailable
// when storage is down). Callers never mutate the returned slice.
type Blobs interface {
	Bytes(ctx context.Context, key string) ([]byte, error)
}

// Config configures an Edge. A zero field means its documented default.
type Config struct {
	// Domain is the platform domain: sites are served at <site>.<Domain>
	// and previews at <deployment>--<site>.<Domain>. Default "localhost".
	Domain string
	// Logger receives registry and storage failures. Default: discard.
	Logger *slog.Logger
	// RouteTTL is how long a cached route is trusted before it is
	// revalidated in the background (the stale route keeps serving until
	// the registry answers). Invalidate makes changes visible at once on
	// this node. Default 10s.
	RouteTTL time.Duration
	// NegativeTTL is how long an unknown host is remembered as unknown
	// before it is looked up again (in the background, like a stale
	// route). Default 2s.
	NegativeTTL time.Duration
	// MaxUnknownHosts bounds the number of unknown hosts remembered.
	// Default 10,000.
	MaxUnknownHosts int
	// MaxDeployments bounds the loaded deployments kept in memory
	// (identical deployments of several sites count once). Default 1,000.
	MaxDeployments int
	// LookupTimeout bounds one registry round trip for a route. Default 10s.
	LookupTimeout time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Workers runs deployments' workers (docs/architecture.md §2). Nil: every
	// request that would reach a worker is answered 503 workers_disabled
	// (never silently with static assets instead); requests the static
	// assets answer before the worker are still served.
	Workers *worker.Runtime
	// Logs receives one invocation event per worker request, one request
	// event per request of a site answered without the worker (built only
	// while someone follows the site) and the workers' log lines. Nil:
	// discarded.
	Logs *logstream.Hub
	// WorkerStartTimeout bounds reading a worker's module and starting it
	// (compiling it on a cold compilation cache, instantiating it). The
	// requests waiting for it give up with their own context. Default 60s.
	WorkerStartTimeout time.Duration
	// Egress is the policy of workers' fetches; one transport is built per
	// plan. Nil: an egress.Policy with every default (private, loopback,
	// link-local and other internal ranges denied; no platform endpoints
	// or host lists).
	Egress *egress.Policy
	// Outbound is the operator's outbound worker (pier serve
	// --outbound-worker, outbound.go): an http-wasm guest run for every
	// fetch of every site's worker, before the egress policy. It answers
	// the fetch itself or lets it continue through the plan's egress
	// transport. Create it with OutboundLimits. Nil: fetches go straight
	// to the egress policy. The edge does not close it.
	Outbound OutboundWorker
	// OutboundByPlan replaces Outbound for the tenants of a plan (pier
	// serve --outbound-worker-plan PLAN=PATH): a plan listed with a nil
	// worker has none; a plan not listed has Outbound.
	OutboundByPlan map[string]OutboundWorker
	// RateLimits applies each tenant's per-site request rate
	// (RequestsPerSecond, RequestBurst of its effective limits) on this
	// node: a request over it is answered 429 rate_limited with
	// Retry-After (ratelimit.go). False (the zero value): no rate limit.
	RateLimits bool
	// KV is the store of tenants' KV namespaces, which workers reach
	// through their deployment's bindings (kv.go; docs/workers.md §2,
	// "KV"). Nil: every binding answers kv_unbound.
	KV tenants.KVStore
	// KVCacheBytes bounds the node's read cache of KV values
	// (kvcache.go). Default DefaultKVCacheBytes; negative: no cache, every
	// read goes to the store.
	KVCacheBytes int64
	// KVCacheTenantBytes bounds one tenant's share of that cache, so one
	// tenant cannot evict every other's keys. Default KVCacheBytes/8.
	KVCacheTenantBytes int64
	// KVWriteAllowed, when set, is asked before each put and
	// compare-and-swap a worker makes (the storage quota's seam): an error
	// refuses the write, which the guest sees as -9 kv_value_too_large if
	// the error wraps worker.ErrKVValueTooLarge, else -11 kv_unavailable.
	// Nil: every write is allowed.
	KVWriteAllowed func(ctx context.Context, w KVWrite) error
	// Secrets loads sites' secrets for their workers (secrets.go). Nil:
	// workers get no secrets.
	Secrets Secrets
}

// Defaults of Config.
const (
	DefaultDomain             = "localhost"
	DefaultRouteTTL           = 10 * time.Second
	DefaultNegativeTTL        = 2 * time.Second
	DefaultMaxUnknownHosts    = 10_000
	DefaultMaxDeployments     = 1_000
	DefaultLookupTimeout      = 10 * time.Second
	DefaultWorkerStartTimeout = 60 * time.Second
)

// retryAfterError is how long a stale route keeps serving after a failed
// background revalidation before the next attempt.
const retryAfterError = time.Second

// Edge is the http.Handler for every host. It is safe for concurrent use.
type Edge struct {
	suffix      string // "." + domain
	log         *slog.Logger
	now         func() time.Time
	routeTTL    time.Duration
	negativeTTL time.Duration
	lookupTO    time.Duration
	workerTO    time.Duration
	reg         Registry
	doms        DomainRegistry // nil: no custom hostnames
	branches    BranchRegistry // nil: no branch aliases
	blobs       Blobs
	routes      *routeTable
	deps        *depCache
	vals        sharedValues
	date        dateCache
	usage       *usageTable
	rateLimits  bool
	epoch       time.Time // the rate limiters' time origin

	runtime    *worker.Runtime
	logs       *logstream.Hub
	egress     *egress.Policy
	outbound   OutboundWorker            // nil: none
	outbounds  map[string]OutboundWorker // by plan, over outbound
	transports sync.Map                  // plan → http.RoundTripper
	workers    *workerTable
	closing    sync.WaitGroup // workers being closed

	kv             tenants.KVStore
	kvCache        *kvCache // nil: no cache
	kvTurns        *kvTurns // compare-and-swaps' turns per key
	kvOwners       sync.Map // namespace ID → its tenant's ID, or kvOwnerGone
	kvWriteAllowed func(ctx context.Context, w KVWrite) error
	kvWriteLatency latencyHistogram // workers' KV writes, call to acknowledgement
	secrets        Secrets          // nil: none
}

// New returns an Edge serving the sites of reg from blobs.
func New(cfg Config, reg Registry, blobs Blobs) *Edge {
	domain := cfg.Domain
	if domain == "" {
		domain = DefaultDomain
	}
	if d, ok := normalizeHost(domain); ok {
		domain = d
	} else {
		domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	}
	e := &Edge{
		suffix:      "." + domain,
		log:         cfg.Logger,
		now:         cfg.Now,
		routeTTL:    cfg.RouteTTL,
		negativeTTL: cfg.NegativeTTL,
		lookupTO:    cfg.LookupTimeout,
		workerTO:    cfg.WorkerStartTimeout,
		reg:         reg,
		blobs:       blobs,
		vals:        newSharedValues(),
		usage:       newUsageTable(),
		runtime:     cfg.Workers,
		logs:        cfg.Logs,
		egress:      cfg.Egress,
		outbound:    cfg.Outbound,
		outbounds:   cfg.OutboundByPlan,
		workers:     newWorkerTable(),
		rateLimits:  cfg.RateLimits,
		secrets:     cfg.Secrets,

		kv:             cfg.KV,
		kvWriteAllowed: cfg.KVWriteAllowed,
		kvTurns:        newKVTurns(),
	}
	if cfg.KVCacheBytes >= 0 {
		limit := cmp.Or(cfg.KVCacheBytes, DefaultKVCacheBytes)
		e.kvCache = newKVCache(limit, cmp.Or(cfg.KVCacheTenantBytes, limit/8), KVCacheMaxValue)
	}
	e.doms, _ = reg.(DomainRegistry)
	e.branches, _ = reg.(BranchRegistry)
	if e.egress == nil {
		e.egress = &egress.Policy{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.epoch = e.now()
	if e.routeTTL <= 0 {
		e.routeTTL = DefaultRouteTTL
	}
	if e.negativeTTL <= 0 {
		e.negativeTTL = DefaultNegativeTTL
	}
	if e.lookupTO <= 0 {
		e.lookupTO = DefaultLookupTimeout
	}
	if e.workerTO <= 0 {
		e.workerTO = DefaultWorkerStartTimeout
	}
	maxUnknown := cfg.MaxUnknownHosts
	if maxUnknown <= 0 {
		maxUnknown = DefaultMaxUnknownHosts
	}
	maxDeps := cfg.MaxDeployments
	if maxDeps <= 0 {
		maxDeps = DefaultMaxDeployments
	}
	e.routes = newRouteTable(maxUnknown)
	e.deps = newDepCache(maxDeps)
	e.deps.onEvict = func(digest [sha256.Size]byte) {
		e.retireWorkers(func(k workerKey) bool { return k.digest == digest })
	}
	return e
}

// Invalidate forgets the cached routes of site (its production host, its
// previews and its branch aliases), so the next request sees the registry's current state,
// and retires the site's workers: each is closed once the requests using
// it finish, and the next worker request starts a fresh one. main calls
// it when a deployment is activated or a site is deleted.
func (e *Edge) Invalidate(siteName string) {
	site := strings.ToLower(siteName)
	e.routes.removeSite(site)
	e.retireWorkers(func(k workerKey) bool { return k.site == site })
}

// InvalidateHost forgets the cached route of a custom hostname, so the
// next request sees the registry's current state (main calls it when the
// hostname starts or stops being an active domain: verified, moved, taken
// over, deleted).
func (e *Edge) InvalidateHost(host string) {
	if h, ok := normalizeHost(host); ok {
		e.routes.removeHost(h)
	}
}

// ServeHTTP serves one request of any host.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, ok := normalizeHost(r.Host)
	if !ok {
		e.writeError(w, r, errMalformedHost)
		return
	}
	hr, ok := parseHost(host, e.suffix)
	if !ok {
		if e.doms == nil || !customHost(host, e.suffix) {
			e.writeError(w, r, errHostNotConfigured)
			return
		}
		if strings.HasPrefix(r.URL.Path, ChallengePath) && e.serveChallenge(w, r, host) {
			return
		}
		hr = hostRoute{custom: host}
	}
	now := e.now()
	limited := e.rateLimits
	if limited && hr.deployment != "" {
		// A preview or branch host: charge its site's bucket before the
		// prefix is looked up, so that made-up prefixes cost the store no
		// more lookups than the site's rate allows.
		served, checked := e.admitPrefixed(w, r, hr, now)
		if served {
			return
		}
		limited = !checked
	}
	ent, v, err := e.route(r.Context(), host, hr, now)
	var dep *deployment
	if err == nil && v.slot != nil {
		if dep = v.slot.p.Load(); dep == nil {
			// Evicted from the deployment cache: load the route again
			// (coalesced with any load of it in flight).
			if v, err = e.load(r.Context(), ent); err == nil && v.slot != nil {
				dep = v.slot.p.Load()
			}
		}
	}
	switch {
	case err != nil:
		if r.Context().Err() == nil {
			e.writeError(w, r, errServiceUnavailable)
		}
		return
	case v.negative():
		e.writeError(w, r, errHostNotConfigured)
		return
	case dep == nil: // a broken deployment (logged when loaded)
		e.writeError(w, r, errServiceUnavailable)
		return
	}
	if !dep.ref.Load() {
		dep.ref.Store(true) // CLOCK: written only when clear, to keep the line shared
	}
	x := exchange{e: e, w: w, r: r, d: dep, v: v, preview: v.preview}
	// The live log costs one atomic load while nobody follows any site.
	var start time.Time
	follow := e.logs != nil && e.logs.HasSubscribers(v.usage.site)
	if follow {
		start = e.now()
	}
	if !limited || x.admit(now) {
		x.serve()
	}
	v.usage.record(x.status, x.bytes)
	if follow && !x.invoked {
		x.publishRequest(start)
	}
}

// admitPrefixed charges the rate bucket of the site a preview or branch
// host (<prefix>--<site>) belongs to, found through the site's own cached
// route. served: the request was over the rate and is answered (429).
// checked: the bucket was charged; false when the site's own route has
// no counters (no such site, or no live deployment), and the request is
// then charged, if at all, once its own route is known.
func (e *Edge) admitPrefixed(w http.ResponseWriter, r *http.Request, hr hostRoute, now time.Time) (served, checked bool) {
	_, bv, err := e.route(r.Context(), hr.site+e.suffix, hostRoute{site: hr.site}, now)
	if err != nil || bv.usage == nil {
		return false, false
	}
	x := exchange{e: e, w: w, r: r, v: bv, preview: true}
	follow := e.logs != nil && e.logs.HasSubscribers(bv.usage.site)
	if x.admit(now) {
		// An ACME or proof path over the rate is admitted static-only:
		// the request's own route decides that again.
		return false, !x.staticOnly
	}
	bv.usage.record(x.status, x.bytes)
	if follow {
		x.publishRequest(now)
	}
	return true, true
}

// route returns the cached route of host, loading it on a miss (concurrent
// misses wait for one load) and revalidating a stale one in the
// background.
func (e *Edge) route(ctx context.Context, host string, hr hostRoute, now time.Time) (*routeEntry, *routeValue, error) {
	ent := e.routes.get(host)
	if ent != nil {
		if v := ent.val.Load(); v != nil {
			if now.After(v.expires) {
				e.revalidate(ctx, ent)
			}
			return ent, v, nil
		}
	} else {
		ent = e.routes.getOrCreate(host, hr)
		if v := ent.val.Load(); v != nil {
			return ent, v, nil
		}
	}
	v, err := e.load(ctx, ent)
	return ent, v, err
}

// load runs (or waits for) a synchronous load of an entry: the first one,
// or after its deployment was evicted. A failed first load removes the
// entry, so failures are not cached.
func (e *Edge) load(ctx context.Context, ent *routeEntry) (*routeValue, error) {
	call, leader := ent.begin()
	if !leader {
		return call.wait(ctx)
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.lookupTO)
	v, err := e.lookup(lctx, ent.route, nil)
	cancel()
	if err != nil {
		e.log.Error("hosting: route lookup failed", "host", ent.host, "err", err)
		if ent.val.Load() == nil {
			e.routes.remove(ent)
		}
	} else {
		e.routes.store(ent, v, e.now())
	}
	ent.finish(call, v, err)
	return v, err
}

// revalidate refreshes a stale entry in the background, once at a time;
// on failure the stale value keeps serving and is retried shortly.
func (e *Edge) revalidate(ctx context.Context, ent *routeEntry) {
	call, leader := ent.begin()
	if !leader {
		return
	}
	base := context.WithoutCancel(ctx)
	go func() {
		lctx, cancel := context.WithTimeout(base, e.lookupTO)
		defer cancel()
		old := ent.val.Load()
		v, err := e.lookup(lctx, ent.route, old)
		if err != nil {
			e.log.Warn("hosting: route revalidation failed; serving the cached route", "host", ent.host, "err", err)
			retry := *old
			retry.expires = e.now().Add(retryAfterError)
			v = &retry
		}
		e.routes.store(ent, v, e.now())
		if err == nil {
			site := ent.route.site
			if site == "" && old.usage != nil {
				site = old.usage.site // a custom hostname
			}
			e.retireReplaced(site, old, v)
		}
		ent.finish(call, v, err)
	}()
}

// retireReplaced retires the site's worker of the deployment a route no
// longer serves (a deployment activated on another node), so its
// instances do not wait for the deployment's eviction to be freed. A
// preview host of that deployment, if still requested, starts a new one,
// as does a request that was routed with the old value and reaches the
// worker after this ran; such a worker lives until the deployment is
// evicted or the site invalidated.
func (e *Edge) retireReplaced(site string, old, cur *routeValue) {
	if old == nil || old.slot == nil || old.slot == cur.slot {
		return
	}
	od := old.slot.p.Load()
	if od == nil || od.worker == "" {
		return // evicted (its workers were retired then) or no worker
	}
	if cur.slot != nil {
		if nd := cur.slot.p.Load(); nd != nil && nd.digest == od.digest {
			return
		}
	}
	e.retireWorkers(func(k workerKey) bool { return k.site == site && k.digest == od.digest })
}

// lookup asks the registry where hr routes. A host that is not configured
// yields a negative value, not an error; errors mean the registry (or a
// deployment's compilation) failed. prev, when set, lets an unchanged
// route keep its loaded deployment without fetching it again.
func (e *Edge) lookup(ctx context.Context, hr hostRoute, prev *routeValue) (*routeValue, error) {
	negative := &routeValue{expires: e.now().Add(e.negativeTTL)}
	ref := hr.site
	if hr.custom != "" {
		d, err := e.doms.ActiveDomain(ctx, hr.custom)
		if errors.Is(err, tenants.ErrNotFound) {
			return negative, nil
		}
		if err != nil {
			return nil, fmt.Errorf("hosting: looking up custom hostname %q: %w", hr.custom, err)
		}
		ref = d.SiteID
	}
	site, err := e.reg.Site(ctx, ref)
	if errors.Is(err, tenants.ErrNotFound) {
		return negative, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hosting: looking up site %q: %w", ref, err)
	}
	switch {
	case hr.custom != "" && site.ID != ref:
		return negative, nil // the claim's site is gone
	case hr.custom == "" && site.Name != hr.site:
		// The registry matched an ID; sites are routed by name only.
		return negative, nil
	}
	hr.site = site.Name
	depID := hr.deployment
	var found *tenants.Deployment // the deployment, when resolving a prefix read it
	if depID != "" && !dnsname.IsDeploymentIDShape(depID) {
		if depID, found, err = e.resolvePrefix(ctx, site, hr.deployment); err != nil {
			return nil, err
		}
	} else if depID == "" {
		depID = site.ActiveDeployment
	}
	if depID == "" {
		return negative, nil
	}
	tenant, err := e.reg.Tenant(ctx, site.TenantID)
	if errors.Is(err, tenants.ErrNotFound) {
		return negative, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hosting: looking up tenant of site %q: %w", hr.site, err)
	}
	if tenant.Disabled {
		return negative, nil
	}
	lim := tenant.EffectiveLimits()
	v := &routeValue{
		preview: hr.deployment != "",
		siteID:  site.ID,
		depID:   depID,
		expires: e.now().Add(e.routeTTL),
		usage:   e.usage.get(hr.site, site.ID, tenant.ID),
		tenant:  tenant.Name,
		plan:    tenant.Plan,
		limits:  workerLimits(lim),
		rate:    siteRate(lim),
		worker:  new(workerSlot),
	}
	if prev != nil && prev.slot != nil && prev.siteID == site.ID && prev.depID == depID && prev.slot.p.Load() != nil {
		v.slot = prev.slot
		return v, nil
	}
	var d tenants.Deployment
	if found != nil {
		d = *found
	} else if d, err = e.reg.Deployment(ctx, site.ID, depID); errors.Is(err, tenants.ErrNotFound) {
		return negative, nil
	} else if err != nil {
		return nil, fmt.Errorf("hosting: loading deployment %s of site %q: %w", depID, hr.site, err)
	}
	if d.SiteID != site.ID || d.TenantID != "" && d.TenantID != tenant.ID {
		return negative, nil
	}
	slot, err := e.deps.get(tenant.ID, &d)
	if errors.Is(err, errBadDeployment) {
		e.log.Error("hosting: cannot load deployment", "site", hr.site, "deployment", depID, "err", err)
		v.broken = true
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	v.slot = slot
	return v, nil
}

// resolvePrefix finds what the prefix of a preview host that does not
// have the shape of a generated deployment id names: a deployment with
// that id (short ids exist: tests and imported data make them), else the
// site's git branch whose alias it is, which serves the deployment of the
// branch's latest push. depID is "" when it names neither; found is the
// deployment when it was read by id.
func (e *Edge) resolvePrefix(ctx context.Context, site tenants.Site, prefix string) (depID string, found *tenants.Deployment, err error) {
	if dnsname.ValidDeploymentID(prefix) {
		d, err := e.reg.Deployment(ctx, site.ID, prefix)
		if err == nil {
			return prefix, &d, nil
		}
		if !errors.Is(err, tenants.ErrNotFound) {
			return "", nil, fmt.Errorf("hosting: loading deployment %s of site %q: %w", prefix, site.Name, err)
		}
	}
	if e.branches == nil {
		return "", nil, nil
	}
	ref, err := e.branches.GitAlias(ctx, site.ID, prefix)
	if errors.Is(err, tenants.ErrNotFound) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("hosting: looking up branch alias %q of site %q: %w", prefix, site.Name, err)
	}
	if ref.SiteID != "" && ref.SiteID != site.ID {
		return "", nil, nil
	}
	return ref.Deployment, nil, nil
}

// serveChallenge answers the HTTP ownership proof of a custom hostname:
// the token, when a pending (or moved) claim on host carries it. It
// reports false, writing nothing, when no claim does, so the request is
// routed as any other.
func (e *Edge) serveChallenge(w http.ResponseWriter, r *http.Request, host string) bool {
	token := strings.TrimPrefix(r.URL.Path, ChallengePath)
	if !validChallengeToken(token) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), e.lookupTO)
	defer cancel()
	claims, err := e.doms.DomainClaims(ctx, host)
	if err != nil {
		if !errors.Is(err, tenants.ErrNotFound) {
			e.log.Error("hosting: looking up domain claims", "host", host, "err", err)
			e.writeError(w, r, errServiceUnavailable)
			return true
		}
		return false
	}
	for _, d := range claims {
		if d.Token == token && (d.Status == tenants.DomainPending || d.Status == tenants.DomainMoved) {
			e.answerToken(w, token)
			return true
		}
	}
	return false
}

// validChallengeToken accepts what tenants.NewDomainToken makes: up to 128
// characters of a-z, 0-9 and '-'.
func validChallengeToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// answerToken answers the HTTP ownership proof of a custom hostname.
func (e *Edge) answerToken(w http.ResponseWriter, token string) {
	h := w.Header()
	h["Content-Type"] = e.vals.textPlain
	h["X-Content-Type-Options"] = e.vals.nosniff
	h["Cache-Control"] = e.vals.noStore
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, token)
}

var (
	_ http.Handler   = (*Edge)(nil)
	_ Registry       = tenants.Store(nil)
	_ DomainRegistry = tenants.Store(nil)
	_ Blobs          = (*assets.Cache)(nil)
)
