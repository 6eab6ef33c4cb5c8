package hosting

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

// workerCloseTimeout bounds closing a retired worker in the background.
const workerCloseTimeout = 30 * time.Second

// Errors of worker dispatch, each answered once by workerError.
var (
	errWorkersDisabled = errors.New("hosting: workers are disabled on this node")
	errWorkerLoad      = errors.New("hosting: loading worker")
)

// workerKey identifies a worker instance set: one per site and loaded
// deployment. Deployments are interned across sites; workers never are,
// so two sites deployed from identical content still get separate
// instances (a guest's memory outlives a request and must not be shared).
type workerKey struct {
	site   string
	digest [sha256.Size]byte
}

// siteWorker is the lazily created *worker.Worker of one key. It is
// created by the first request that needs it (concurrent ones wait for
// it), retired by Invalidate, eviction or a change of the tenant's limits,
// and closed once retired and no request uses it any more.
type siteWorker struct {
	key    workerKey
	siteID string // for its secrets
	limits worker.Limits
	asOf   time.Time // expiry of the route value whose limits it has

	mu       sync.Mutex
	w        *worker.Worker
	err      error         // a permanent load failure (an invalid module)
	loading  chan struct{} // non-nil while a load is in flight
	inflight int
	retired  bool
}

// workerTable holds the site workers of an Edge.
type workerTable struct {
	mu sync.Mutex
	m  map[workerKey]*siteWorker
}

func newWorkerTable() *workerTable { return &workerTable{m: map[workerKey]*siteWorker{}} }

// acquireWorker returns the worker of (site, d) with the limits of route
// value v, creating it if needed, and counts the caller as using it until
// releaseWorker. A worker created with other limits is replaced only by a
// newer route value (v.expires later than the one it was created for): a
// stale route of another host of the site, still carrying the old limits,
// uses the current worker rather than flapping between the two.
func (e *Edge) acquireWorker(ctx context.Context, site string, d *deployment, v *routeValue) (*siteWorker, *worker.Worker, error) {
	// The one the route's requests used last, unless it is not d's or
	// the route is newer than its limits: no node-wide lock, no hashing.
	if v.worker != nil {
		if sw := v.worker.p.Load(); sw != nil && sw.key.digest == d.digest && sw.key.site == site && !sw.outdated(v) {
			if w, err, again := e.useWorker(ctx, sw, d); !again {
				return sw, w, err
			}
		}
	}
	key := workerKey{site: site, digest: d.digest}
	for {
		e.workers.mu.Lock()
		sw := e.workers.m[key]
		if sw != nil && sw.outdated(v) {
			// The tenant's limits changed: retire the old instances.
			delete(e.workers.m, key)
			e.retire(sw)
			sw = nil
		}
		if sw == nil {
			sw = &siteWorker{key: key, siteID: v.siteID, limits: v.limits, asOf: v.expires}
			e.workers.m[key] = sw
		}
		e.workers.mu.Unlock()

		w, err, again := e.useWorker(ctx, sw, d)
		if !again {
			if v.worker != nil {
				v.worker.p.Store(sw)
			}
			return sw, w, err
		}
	}
}

// workerSlot is a route value's last site worker (routeValue.worker).
type workerSlot struct{ p atomic.Pointer[siteWorker] }

// outdated reports whether sw was created with limits other than v's
// and v is newer than the route value sw's limits came from: the
// tenant's limits changed, and sw must be retired.
func (sw *siteWorker) outdated(v *routeValue) bool {
	return sw.limits != v.limits && v.expires.After(sw.asOf)
}

// useWorker loads sw if needed and takes a reference on it. again asks
// the caller to look the key up again (sw was retired meanwhile).
func (e *Edge) useWorker(ctx context.Context, sw *siteWorker, d *deployment) (w *worker.Worker, err error, again bool) {
	sw.mu.Lock()
	for {
		switch {
		case sw.retired:
			sw.mu.Unlock()
			return nil, nil, true
		case sw.w != nil:
			sw.inflight++
			w := sw.w
			sw.mu.Unlock()
			return w, nil, false
		case sw.err != nil:
			err := sw.err
			sw.mu.Unlock()
			return nil, err, false
		case sw.loading != nil:
			ch := sw.loading
			sw.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err(), false
			}
			sw.mu.Lock()
			continue
		}
		// This request loads it.
		ch := make(chan struct{})
		sw.loading = ch
		sw.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.workerTO)
		nw, lerr := e.newWorker(lctx, sw.key.site, sw.siteID, d, sw.limits)
		cancel()
		sw.mu.Lock()
		sw.loading = nil
		close(ch)
		if lerr != nil {
			var me *worker.ModuleError
			if errors.As(lerr, &me) || errors.Is(lerr, assets.ErrNotFound) {
				sw.err = lerr // permanent until redeploy or eviction
			}
			sw.mu.Unlock()
			return nil, lerr, false
		}
		// Even if sw was retired while loading, this request uses the
		// worker; the release that drops the last reference closes it.
		sw.w = nw
		sw.inflight++
		sw.mu.Unlock()
		return nw, nil, false
	}
}

// newWorker reads the deployment's module and the site's secrets and
// instantiates its worker.
func (e *Edge) newWorker(ctx context.Context, site, siteID string, d *deployment, lim worker.Limits) (*worker.Worker, error) {
	wasm, err := e.blobs.Bytes(ctx, assets.Key(d.tenantID, d.worker, ""))
	if err != nil {
		return nil, fmt.Errorf("%w %s of site %q: reading module: %w", errWorkerLoad, d.worker, site, err)
	}
	opts, err := e.secretsOption(ctx, site, siteID)
	if err != nil {
		return nil, err
	}
	// The site's and tenant's share of the node's run slots and body
	// buffers (docs/architecture.md §7).
	owner := worker.Owner{Tenant: d.tenantID, Site: site}
	w, err := e.runtime.NewOwnedWorker(ctx, owner, wasm, d.vars, lim, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w %s of site %q: %w", errWorkerLoad, d.worker, site, err)
	}
	return w, nil
}

// releaseWorker drops a reference taken by acquireWorker; the last one
// closes the worker if it was retired meanwhile.
func (e *Edge) releaseWorker(sw *siteWorker) {
	sw.mu.Lock()
	sw.inflight--
	closeNow := sw.retired && sw.inflight == 0
	w := sw.w
	if closeNow {
		sw.w = nil
	}
	sw.mu.Unlock()
	if closeNow && w != nil {
		e.closeWorker(w)
	}
}

// retire marks sw retired (the caller removed it from the table) and
// closes its worker once no request uses it.
func (e *Edge) retire(sw *siteWorker) {
	sw.mu.Lock()
	if sw.retired {
		sw.mu.Unlock()
		return
	}
	sw.retired = true
	w := sw.w
	closeNow := sw.inflight == 0
	if closeNow {
		sw.w = nil
	}
	sw.mu.Unlock()
	if closeNow && w != nil {
		e.closeWorker(w)
	}
}

// closeWorker closes w in the background: Close may wait for instances to
// be torn down and must not hold up the request or admin call that
// retired it.
func (e *Edge) closeWorker(w *worker.Worker) {
	e.closing.Add(1)
	go func() {
		defer e.closing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), workerCloseTimeout)
		defer cancel()
		w.Close(ctx)
	}()
}

// retireWorkers retires every worker whose key matches.
func (e *Edge) retireWorkers(match func(workerKey) bool) {
	e.workers.mu.Lock()
	var old []*siteWorker
	for k, sw := range e.workers.m {
		if match(k) {
			delete(e.workers.m, k)
			old = append(old, sw)
		}
	}
	e.workers.mu.Unlock()
	for _, sw := range old {
		e.retire(sw)
	}
}

// Close retires every worker and waits (up to ctx) until they are closed.
// The edge keeps serving static assets afterwards; a later worker request
// creates its worker again. main calls it at shutdown, before closing the
// worker runtime.
func (e *Edge) Close(ctx context.Context) error {
	e.retireWorkers(func(workerKey) bool { return true })
	done := make(chan struct{})
	go func() {
		e.closing.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hosting: closing workers: %w", ctx.Err())
	}
}

// workerLimits maps a tenant's effective plan limits to the runtime's.
func workerLimits(l tenants.Limits) worker.Limits {
	return worker.Limits{
		CPU:         time.Duration(l.CPUMs) * time.Millisecond,
		CPURate:     time.Duration(l.CPUMsPerSecond) * time.Millisecond,
		SubRequests: l.SubRequests,
		MemoryBytes: int64(l.MemoryMB) << 20,
		KVOps:       l.KVOps,
		// 0 (no limit set) is the worker's default, 1 MiB.
		KVValueBytes: int64(l.KVValueKB) << 10,
	}
}

// runWorker answers the request with the deployment's worker.
func (x *exchange) runWorker() {
	e := x.e
	ctx := x.r.Context()
	if e.runtime == nil {
		x.workerError(errWorkersDisabled)
		return
	}
	v := x.v
	sw, w, err := e.acquireWorker(ctx, v.usage.site, x.d, v)
	if err != nil {
		x.workerError(err)
		return
	}
	defer e.releaseWorker(sw)

	// One allocation for the per-invocation parts.
	c := &workerCall{
		ww:   workerWriter{e: e, w: x.w, vals: &e.vals, preview: x.preview},
		host: requestHost{e: e, d: x.d, site: v.usage.site, tenant: v.tenant, plan: v.plan},
		next: staticNext{e: e, d: x.d, v: v, preview: x.preview},
	}
	c.ww.turns, c.next.turns = &c.host.turns, &c.host.turns
	ww := &c.ww
	// The invocation's start, read only while someone follows the site
	// (for the events' durations).
	var start time.Time
	if e.logs != nil && e.logs.HasSubscribers(v.usage.site) {
		start = e.now()
	}
	res := w.Serve(ww, x.r, &c.host, &c.next)
	c.host.turns.drop()
	if !res.Invoked() {
		x.notInvoked(&res, start)
		return
	}
	x.invoked = true
	x.status, x.bytes = ww.status, ww.bytes
	if res.Code != "" && x.status == 0 {
		// The worker failed before answering: Serve wrote nothing, but
		// the headers the guest set are in the map.
		clear(x.w.Header())
		x.fail(workerFailure(&res))
	}
	if x.status == 0 {
		x.status = res.Status
	}
	v.usage.invocation(&res)
	if res.Detail != "" {
		// A tenant's failures are theirs: debug level here, the site's
		// log stream and counters carry them.
		e.log.Debug("hosting: worker invocation failed", "site", v.usage.site, "outcome", res.Outcome, "detail", res.Detail)
	}
	if e.logs != nil && e.logs.HasSubscribers(v.usage.site) {
		end := e.now()
		ev := logstream.Event{
			Time:        end,
			Site:        v.usage.site,
			Kind:        logstream.KindInvocation,
			Method:      x.r.Method,
			Path:        x.r.URL.Path,
			Status:      x.status,
			DurationMs:  millisSince(start, end),
			CPUMs:       float64(res.CPU) / float64(time.Millisecond),
			SubRequests: res.SubRequests,
			KVReads:     res.KVReads,
			KVWrites:    res.KVWrites,
			KVBytes:     res.KVBytes,
			BytesOut:    x.bytes,
			Outcome:     res.Outcome,
		}
		ev.Message = res.Detail
		e.logs.Publish(v.usage.site, ev)
	}
}

// notInvoked answers a request whose guest did not run: the node had no
// turn or no body buffer for it in time (503 worker_busy, the platform's
// failure), the tenant's workers had used their CPU rate (429
// worker_cpu_rate_exceeded, the tenant's limit) or the client did not
// send its body (408 or 400, the client's). None is the worker's: the
// site's counters see a request but no invocation, and the live log a
// request event (logstream.OutcomeError, OutcomeRateLimited or
// OutcomeClientError) rather than an invocation.
func (x *exchange) notInvoked(res *worker.Result, start time.Time) {
	e, site := x.e, x.v.usage.site
	// Answered even when the request's context is done: a failed body
	// read cancels it, yet a client that was too slow may still read
	// its 408.
	clear(x.w.Header())
	switch res.Outcome {
	case worker.OutcomeBusy:
		x.w.Header()["Retry-After"] = retryAfterBusy
	case worker.OutcomeCPURateLimited:
		x.w.Header().Set("Retry-After", strconv.Itoa(int((res.RetryAfter+time.Second-1)/time.Second)))
	}
	x.fail(workerFailure(res))
	if res.Outcome == worker.OutcomeBusy {
		e.log.Debug("hosting: worker not run", "site", site, "detail", res.Detail)
	}
	if e.logs == nil || !e.logs.HasSubscribers(site) {
		x.invoked = true // nothing to publish: ServeHTTP need not look
		return
	}
	ev := x.requestEvent(start)
	ev.Outcome, ev.Message = logstream.OutcomeClientError, res.Detail
	switch res.Outcome {
	case worker.OutcomeBusy:
		ev.Outcome = logstream.OutcomeError
		ev.Message = res.Detail + " (" + res.Code + ")"
	case worker.OutcomeCPURateLimited:
		ev.Outcome = logstream.OutcomeRateLimited
	}
	e.logs.Publish(site, ev)
	x.invoked = true // published here, not by ServeHTTP
}

// retryAfterBusy is the Retry-After of a 503 worker_busy (shared: never
// edited in place).
var retryAfterBusy = []string{"1"}

// workerCall holds what one invocation hands the runtime.
type workerCall struct {
	ww   workerWriter
	host requestHost
	next staticNext
}

// workerError answers a request the worker could not take: the one place
// dispatch errors become responses.
func (x *exchange) workerError(err error) {
	if x.r.Context().Err() != nil {
		return
	}
	if errors.Is(err, errWorkersDisabled) {
		x.fail(errWorkersOff)
		return
	}
	x.e.log.Error("hosting: worker unavailable", "site", x.v.usage.site, "err", err)
	x.fail(errWorkerUnavailable)
}

// workerWriter passes a worker's response through, adding
// X-Content-Type-Options: nosniff when the worker did not set it, and
// counts what was written.
type workerWriter struct {
	e       *Edge
	w       http.ResponseWriter
	vals    *sharedValues
	preview bool
	status  int
	bytes   int64
	turns   *kvTurnKeeper // the request's; the answer gives a KV turn back
}

func (ww *workerWriter) Header() http.Header { return ww.w.Header() }

func (ww *workerWriter) WriteHeader(status int) {
	if ww.status == 0 && status >= 200 {
		ww.turns.drop()
		ww.status = status
		h := ww.w.Header()
		if _, ok := h["X-Content-Type-Options"]; !ok {
			h["X-Content-Type-Options"] = ww.vals.nosniff
		}
		if ww.preview {
			h["X-Robots-Tag"] = ww.vals.noindex
		}
		ww.e.setDate(h)
	}
	ww.w.WriteHeader(status)
}

func (ww *workerWriter) Write(p []byte) (int, error) {
	if ww.status == 0 {
		ww.WriteHeader(http.StatusOK)
	}
	n, err := ww.w.Write(p)
	ww.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (ww *workerWriter) Unwrap() http.ResponseWriter { return ww.w }

// staticNext is the next handler of an http-wasm guest (next=1): the
// deployment's static logic for the request as the guest left it, without
// invoking the worker again.
type staticNext struct {
	e       *Edge
	d       *deployment
	v       *routeValue
	preview bool
	turns   *kvTurnKeeper // the request's; next gives a KV turn back
}

func (n *staticNext) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.turns.drop()
	x := exchange{e: n.e, w: w, r: r, d: n.d, v: n.v, preview: n.preview, staticOnly: true}
	x.serve()
}

// requestHost is worker.Host for one request: egress through the plan's
// transport, the deployment's own assets, the site's log stream.
type requestHost struct {
	e      *Edge
	d      *deployment
	site   string
	tenant string // the tenant's name
	plan   string
	turns  kvTurnKeeper // a KV key's turn kept after a lost compare-and-swap
}

// Fetch sends req through the operator's outbound worker, if any
// (outbound.go), and the egress policy of the tenant's plan.
func (h *requestHost) Fetch(ctx context.Context, req *http.Request) (*http.Response, error) {
	h.turns.drop()
	if req.Context() != ctx {
		req = req.WithContext(ctx)
	}
	if ow := h.e.outboundFor(h.plan); ow != nil {
		return h.fetchOutbound(ow, req)
	}
	resp, err := h.e.transport(h.plan).RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("hosting: fetch of site %q: %w", h.site, err)
	}
	return resp, nil
}

// Asset serves path from the deployment's static assets in-process, as
// the edge would answer a GET of it (html_handling, not_found_handling,
// _headers; identity encoding). A 404 is reported as
// worker.ErrAssetNotFound.
func (h *requestHost) Asset(ctx context.Context, path string) (*http.Response, error) {
	h.turns.drop()
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://asset.invalid"+path, nil)
	if err != nil {
		return nil, fmt.Errorf("hosting: asset %q: %w: %w", path, worker.ErrAssetNotFound, err)
	}
	rec := newRecorder()
	x := exchange{e: h.e, w: rec, r: r, d: h.d, staticOnly: true}
	x.serve()
	if rec.status == http.StatusNotFound {
		return nil, fmt.Errorf("hosting: asset %q: %w", path, worker.ErrAssetNotFound)
	}
	return rec.response(r), nil
}

// Log publishes one line of the guest's output to the site's stream.
func (h *requestHost) Log(line string) {
	if h.e.logs == nil {
		return
	}
	h.e.logs.Publish(h.site, logstream.Event{Time: h.e.now(), Site: h.site, Kind: logstream.KindLog, Message: line})
}

// transport returns the egress RoundTripper of plan, built once per plan.
func (e *Edge) transport(plan string) http.RoundTripper {
	if t, ok := e.transports.Load(plan); ok {
		return t.(http.RoundTripper)
	}
	t, _ := e.transports.LoadOrStore(plan, e.egress.Transport(plan))
	return t.(http.RoundTripper)
}

var (
	_ worker.Host  = (*requestHost)(nil)
	_ http.Handler = (*staticNext)(nil)
)
