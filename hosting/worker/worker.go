package worker

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/pierhq/pier/hosting/worker/internal/wasmrewrite"
)

// Worker is one deployment's worker: its compiled module and, for a
// reactor, a pool of instances. A Worker is never shared between
// deployments, so never between sites or tenants. Its methods are safe for
// concurrent use.
type Worker struct {
	rt     *Runtime
	owner  Owner    // for the run slots and the body budget
	shares runShare // owner's shares of the run slots
	shared *sharedModule
	kind   moduleKind
	lim    Limits
	vars   map[string]string
	config string // vars as a JSON object, for get_config
	modCfg wazero.ModuleConfig
	alloc  memAllocator // instances' linear memory, capped at lim.MemoryBytes

	// secrets are the site's (WithSecrets): get_var and the WAGI
	// environment see them over vars; get_config never does.
	secrets map[string]string

	free  chan *instance // idle instances
	slots chan struct{}  // one token per live pooled instance
	extra chan struct{}  // one token per live temporary instance
	// hostWaits counts instances now waiting on the host (a fetch, an
	// asset, the request body) rather than running: only then does a
	// temporary instance help a queued request. When every instance is
	// busy computing, another would only compete for the same CPUs.
	hostWaits atomic.Int32
	mu        sync.Mutex    // guards closed against release
	done      chan struct{} // closed by Close
	once      sync.Once
	trim      *time.Timer // closes idle instances
}

// instance is one instantiated guest with its cached function handles.
type instance struct {
	mod            api.Module
	mem            api.Memory
	handleRequest  api.Function
	handleResponse api.Function // nil if not exported
	meter          *meter
	call           call
	ctx            context.Context // carries &call for host functions
	stack          [2]uint64
	features       uint32
	idleSince      time.Duration // when it was last returned to the pool (mono)
	temporary      bool          // created while the pool was busy; closed after its request
	hostWaits      *atomic.Int32
	shares         runShare
	sched          *scheduler
	running        bool            // holds a run slot; used by the goroutine running the guest only
	memory         *capturedMemory // the linear memory's allocator side, for refused grows

	// Response header names and values interned by send_response.
	names, values map[string]string
}

// waitHost marks the instance as waiting on the host: its CPU meter
// pauses, it gives its run slot back, and the Worker may start a
// temporary instance for a queued request. The returned func ends the
// wait.
func (in *instance) waitHost() func() {
	in.pauseRun()
	hold := in.call.hold
	hold.wait(in.meter.charged())
	in.hostWaits.Add(1)
	return func() {
		in.hostWaits.Add(-1)
		hold.resume()
		in.resumeRun()
	}
}

// run takes a run slot (waiting at most Config.QueueTimeout: errBusy,
// or until ctx is done), runs call under a CPU budget and gives the slot
// back, even if call panics (yield: see meter.begin). It reports whether
// the guest was (or may have been) interrupted and the CPU time charged.
func (in *instance) run(ctx context.Context, budget time.Duration, yield bool, call func()) (fired bool, used time.Duration, err error) {
	if err := in.sched.enter(ctx, in.shares); err != nil {
		return false, 0, err
	}
	in.running = true
	defer in.abandon()
	in.meter.begin(budget, yield)
	call()
	fired, used = in.endRun()
	return fired, used, nil
}

// abandon gives the run slot back if a panic left it taken: a slot held
// for good would stall every worker of the node. Deferred where the
// instance still belongs to the caller.
func (in *instance) abandon() {
	if in.running {
		in.endRun()
	}
}

// pauseRun pauses the CPU budget and gives the run slot back.
func (in *instance) pauseRun() {
	in.meter.pause()
	if in.running {
		in.running = false
		in.sched.leave(in.shares, nil, 0)
	}
}

// resumeRun takes a run slot back (ahead of new requests) and resumes
// the CPU budget.
func (in *instance) resumeRun() {
	if !in.running {
		in.sched.reenter(in.shares)
		in.running = true
	}
	in.meter.resume()
}

// endRun stops the CPU budget, gives the run slot back and reports
// whether the guest was (or may have been) interrupted and the CPU time
// charged.
func (in *instance) endRun() (fired bool, used time.Duration) {
	// The end of its run is when the instance fell idle (for trimIdle):
	// release reads no clock.
	fired, used, in.idleSince = in.meter.stop()
	if in.running {
		in.running = false
		// The request's CPU hold settles at what it used in the same turn
		// of the scheduler's lock (Serve's settle then has nothing to do).
		in.sched.leave(in.shares, in.call.hold, used)
	}
	return fired, used
}

// NewWorker compiles wasm (unless Validate or Prewarm just did, or another
// Worker runs it; from the compilation caches after a restart) and, for a
// reactor, starts one instance so that a guest failing in _initialize fails
// here. vars are the deployment's variables (get_config, pier.get_var, WAGI
// environment). A bad module, or one whose memory starts larger than
// lim.MemoryBytes, yields a *ModuleError. opts add what a deployment does
// not carry (WithSecrets).
func (r *Runtime) NewWorker(ctx context.Context, wasm []byte, vars map[string]string, lim Limits, opts ...Option) (*Worker, error) {
	return r.NewOwnedWorker(ctx, Owner{}, wasm, vars, lim, opts...)
}

// NewOwnedWorker is NewWorker for a Worker whose guest executions and
// buffered request bodies are charged to owner in the node's fair sharing
// (Config.MaxRunning, Config.MaxBufferedBodies).
func (r *Runtime) NewOwnedWorker(ctx context.Context, owner Owner, wasm []byte, vars map[string]string, lim Limits, opts ...Option) (*Worker, error) {
	lim = lim.withDefaults()
	sm, err := r.prepareFor(ctx, wasm, lim)
	if err != nil {
		return nil, err
	}
	kind := sm.kind
	cfgJSON, err := json.Marshal(vars)
	if err != nil {
		r.release(ctx, sm)
		return nil, fmt.Errorf("worker: encoding vars: %w", err)
	}
	if vars == nil {
		cfgJSON = []byte("{}")
	}
	w := &Worker{
		rt:     r,
		owner:  owner.withDefaults(),
		shared: sm,
		kind:   kind,
		lim:    lim,
		vars:   vars,
		config: string(cfgJSON),
		modCfg: wazero.NewModuleConfig().
			WithName("").
			WithStartFunctions().
			WithSysWalltime().
			WithSysNanotime().
			WithRandSource(rand.Reader),
		alloc: memAllocator{pool: r.mem, limit: uint64(lim.MemoryBytes / wasmPageSize * wasmPageSize)},
		free:  make(chan *instance, r.cfg.PoolSize),
		slots: make(chan struct{}, r.cfg.PoolSize),
		extra: make(chan struct{}, r.cfg.PoolSize),
		done:  make(chan struct{}),
	}
	for _, o := range opts {
		o(w)
	}
	w.shares = r.sched.register(w.owner, lim.CPURate)
	if kind == kindReactor {
		w.slots <- struct{}{}
		in, err := w.newInstance(ctx)
		if err != nil {
			<-w.slots
			r.sched.unregister(w.owner, w.shares)
			r.release(ctx, sm)
			return nil, err
		}
		w.free <- in
		w.trim = time.AfterFunc(r.cfg.IdleTimeout, w.trimIdle)
	}
	return w, nil
}

// trimIdle closes the instances idle for longer than Config.IdleTimeout,
// keeping at least one (whose CPU meter releases its threads: park), and
// reschedules itself.
func (w *Worker) trimIdle() {
	idle := w.rt.cfg.IdleTimeout
	var keep, drop []*instance
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		return
	default:
	}
	for len(w.free) > 0 {
		in := <-w.free
		if mono()-in.idleSince > idle && (len(keep) > 0 || len(w.free) > 0) {
			drop = append(drop, in)
		} else {
			keep = append(keep, in)
		}
	}
	for _, in := range keep {
		if mono()-in.idleSince > idle {
			in.meter.park() // the instance kept warm holds no threads
		}
		w.free <- in
	}
	w.trim.Reset(idle / 2)
	w.mu.Unlock()
	for _, in := range drop {
		in.close(context.Background())
		<-w.slots
	}
}

// Close discards the idle instances and releases the compiled module;
// instances serving requests are discarded when they finish.
func (w *Worker) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.mu.Lock()
		close(w.done)
		if w.trim != nil {
			w.trim.Stop()
		}
		w.mu.Unlock()
		for {
			select {
			case in := <-w.free:
				in.close(ctx)
				<-w.slots
			default:
				w.rt.sched.unregister(w.owner, w.shares)
				w.rt.release(ctx, w.shared)
				return
			}
		}
	})
	return nil
}

// newInstance instantiates the module and runs _initialize under the
// start-up CPU budget.
func (w *Worker) newInstance(ctx context.Context) (*instance, error) {
	mem := &capturedMemory{alloc: w.alloc}
	mod, err := w.rt.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, mem), w.shared.mod, w.modCfg)
	if err != nil {
		return nil, fmt.Errorf("worker: instantiating: %w", err)
	}
	in, err := w.bind(mod)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	in.memory = mem
	if init := mod.ExportedFunction(exportInitialize); init != nil {
		var err error
		fired, _, busy := in.run(ctx, w.lim.StartupCPU, false, func() { err = init.CallWithStack(in.ctx, in.stack[:]) })
		if busy != nil {
			in.close(ctx)
			return nil, busy
		}
		if err == nil && fired { // finished as its budget ran out: the interrupt is spent
			err = errors.New("worker: _initialize finished at the CPU limit")
		}
		if err != nil {
			in.close(ctx)
			if fired {
				return nil, &ModuleError{Msg: fmt.Sprintf("_initialize used more than %v of CPU", w.lim.StartupCPU), Err: err}
			}
			return nil, &ModuleError{Msg: "_initialize failed: " + firstLine(err.Error()), Err: err}
		}
	}
	// Idle from its start until a request runs it (endRun), even if the
	// first request to take it is refused before it runs.
	in.idleSince = mono()
	return in, nil
}

// bind caches an instance's exports and prepares its call context.
func (w *Worker) bind(mod api.Module) (*instance, error) {
	g, ok := mod.ExportedGlobal(wasmrewrite.InterruptExport).(api.MutableGlobal)
	if !ok {
		return nil, errors.New("worker: instrumented module lacks its interrupt global")
	}
	m, err := newMeter(g, w.rt.newInterruptSource)
	if err != nil {
		w.rt.interruptFallback.Do(func() {
			w.rt.log.Warn("worker: CPU limits use a Go timer, which a garbage collection during a runaway guest can hold up", "cause", err)
		})
	}
	in := &instance{
		mod:            mod,
		mem:            mod.Memory(),
		handleRequest:  mod.ExportedFunction(exportHandleRequest),
		handleResponse: mod.ExportedFunction(exportHandleResponse),
		meter:          m,
		hostWaits:      &w.hostWaits,
		shares:         w.shares,
		sched:          w.rt.sched,
	}
	in.call.w = w
	in.call.inst = in
	in.ctx = context.WithValue(context.Background(), callKey{}, &in.call)
	return in, nil
}

func (in *instance) close(ctx context.Context) {
	in.meter.close()
	_ = in.mod.Close(ctx)
}

// busyWait is how long a request waits for a pooled instance when all are
// busy before a temporary instance is started for it.
const busyWait = 5 * time.Millisecond

// acquire takes an idle instance or starts a new one while the pool has
// room. When every pooled instance is busy it waits for one for busyWait;
// then, if some instance is waiting on the host (a slow fetch), it starts
// a temporary instance (at most Config.PoolSize of them live), closed
// after its request, so that a few slow fetches do not queue the others.
// When all are busy computing it keeps waiting until ctx is done: starting
// instances would only add CPU work to a saturated machine.
func (w *Worker) acquire(ctx context.Context) (*instance, error) {
	// The common case, in two receives that do not block (a select of
	// one case and a default): cheaper than a select of both, which locks
	// both channels and shuffles its cases.
	select {
	case <-w.done:
		return nil, errWorkerClosed
	default:
	}
	select {
	case in := <-w.free:
		return in, nil
	default:
	}
	busy := time.NewTimer(busyWait)
	defer busy.Stop()
	select {
	case in := <-w.free:
		return in, nil
	case w.slots <- struct{}{}:
		return w.startInstance(ctx, w.slots, false)
	case <-busy.C:
	case <-w.done:
		return nil, errWorkerClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		extra := w.extra
		if w.hostWaits.Load() == 0 {
			extra = nil // a nil channel never takes the token
		}
		recheck := time.NewTimer(busyWait)
		select {
		case in := <-w.free:
			recheck.Stop()
			return in, nil
		case w.slots <- struct{}{}:
			recheck.Stop()
			return w.startInstance(ctx, w.slots, false)
		case extra <- struct{}{}:
			recheck.Stop()
			return w.startInstance(ctx, w.extra, true)
		case <-recheck.C:
		case <-w.done:
			recheck.Stop()
			return nil, errWorkerClosed
		case <-ctx.Done():
			recheck.Stop()
			return nil, ctx.Err()
		}
	}
}

// startInstance starts an instance for which a token was put in tokens,
// taking the token back if it fails.
func (w *Worker) startInstance(ctx context.Context, tokens chan struct{}, temporary bool) (*instance, error) {
	in, err := w.newInstance(ctx)
	if err != nil {
		<-tokens
		return nil, err
	}
	in.temporary = temporary
	return in, nil
}

var errWorkerClosed = errors.New("worker: closed")

// release returns a healthy pooled instance to the pool or discards it.
func (w *Worker) release(in *instance, healthy bool) {
	in.call.finish()
	if in.temporary {
		in.close(context.Background())
		<-w.extra
		return
	}
	if healthy {
		w.mu.Lock()
		select {
		case <-w.done:
		default:
			w.free <- in // never blocks: at most cap(slots) instances exist
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
	in.close(context.Background())
	<-w.slots
}

// memoryHigh reports whether an instance's memory grew past 3/4 of the cap,
// after which it is not reused.
func (w *Worker) memoryHigh(in *instance) bool {
	return in.mem != nil && int64(in.mem.Size()) > w.lim.MemoryBytes/4*3
}

// Serve runs one request through the worker and writes the response to rw:
// the guest's, or next's (when an http-wasm guest returns next=1; its
// response then goes through handle_response if exported). When the
// invocation fails before a response is written, Serve writes nothing and
// the Result's Code is set (503 worker_cpu_exceeded, 500 worker_exception
// or worker_memory_exceeded, 502 worker_response_too_large, 413
// request_too_large, 503 worker_unavailable): the caller answers the
// client, clearing rw.Header() first (the guest's response headers go
// straight into it as it sets them). host serves the guest's fetch,
// asset and log calls for this request only.
func (w *Worker) Serve(rw http.ResponseWriter, r *http.Request, host Host, next http.Handler) Result {
	if r.ContentLength > w.lim.MaxRequestBody {
		return w.fail(Result{Outcome: OutcomeRequestTooLarge, Err: errRequestTooLarge})
	}
	if hasBody(r) {
		// Read it all before taking an instance: a slow client must not
		// hold one (nor the tenant's CPU rate, reserved below).
		body, res, ok := w.readBody(r)
		if !ok {
			return w.fail(res)
		}
		defer w.releaseBody(body)
		r2 := new(http.Request)
		*r2 = *r
		r2.Body = body
		r = r2
	}
	hold, retry := w.rt.sched.admitCPU(w.shares, w.lim.CPU)
	if retry > 0 {
		return w.fail(Result{Outcome: OutcomeCPURateLimited, RetryAfter: retry})
	}
	if w.kind == kindCommand {
		h := hold // a copy that escapes (the instance keeps it), not hold
		res := w.serveCGI(rw, r, host, h.ref())
		h.ref().settle(res.CPU)
		return res
	}
	// The guest's hold settles as it ends (endRun), before its instance
	// goes back to the pool with the hold in it.
	return w.serveReactor(rw, r, host, next, hold)
}

// serveReactor runs the request through a pooled instance, once its body
// is read and the tenant's CPU rate let it in.
func (w *Worker) serveReactor(rw http.ResponseWriter, r *http.Request, host Host, next http.Handler, hold cpuHold) Result {
	in, err := w.acquire(r.Context())
	if err != nil {
		return w.fail(w.unavailable(r, err))
	}
	c := &in.call
	c.reset(r, host)
	c.holdVal = hold
	c.hold = c.holdVal.ref()
	c.out = rw
	in.memory.begin()
	// A run slot and the tenant's CPU rate; now is the guest's start,
	// for its meter.
	now, retry, err := in.sched.begin(r.Context(), in.shares, c.hold)
	if err != nil {
		w.release(in, true)
		return w.fail(w.unavailable(r, err))
	}
	if retry > 0 {
		w.release(in, true)
		return w.fail(Result{Outcome: OutcomeCPURateLimited, RetryAfter: retry})
	}
	in.running = true
	ctxNext, fired, used, err := w.invoke(in, rw, next, now)
	res := Result{Outcome: OutcomeOK, CPU: used, SubRequests: c.subrequests}
	c.kv.count(&res)
	if err != nil {
		res = w.classify(in, res, fired, err)
		sent := c.responseFinal
		res.Status = c.status
		w.release(in, false)
		if sent { // next already answered; only handle_response failed
			res.Detail = w.detail(res)
			return res
		}
		return w.fail(res)
	}
	res.Status = c.status
	if uint32(ctxNext)&1 == 0 || c.bufferedNext {
		writeBuffered(rw, c)
	}
	switch {
	case in.memory.refusedSince():
		// The guest handled a memory.grow refused at the plan's cap.
		res.Outcome, res.Detail = OutcomeExceededMemory, w.detail(Result{Outcome: OutcomeExceededMemory})
	case c.subrefused:
		res.Outcome = OutcomeExceededSubrequests
	case c.kv.refused:
		res.Outcome = OutcomeExceededKVOps
	}
	// An instance whose interrupt fired as it returned cannot be reused:
	// its flag is (or is about to be) set and its interrupt is spent.
	w.release(in, !fired && !w.memoryHigh(in))
	return res
}

// invoke runs handle_request (and next, and handle_response) on an
// instance holding a run slot, under the CPU budget, and gives the slot
// back, even if something panics. now is the clock (mono) read just
// before.
func (w *Worker) invoke(in *instance, rw http.ResponseWriter, next http.Handler, now time.Duration) (ctxNext uint64, fired bool, used time.Duration, err error) {
	defer in.abandon()
	in.meter.beginAt(w.lim.CPU, true, now)
	err = in.handleRequest.CallWithStack(in.ctx, in.stack[:])
	ctxNext = in.stack[0]
	if err == nil && uint32(ctxNext)&1 == 1 {
		if next == nil {
			next = http.NotFoundHandler()
		}
		err = w.runNext(in, rw, next, uint32(ctxNext>>32))
	}
	fired, used = in.endRun()
	return ctxNext, fired, used, err
}

// unavailable is the Result of a request that got no instance or no run
// slot.
func (w *Worker) unavailable(r *http.Request, err error) Result {
	switch {
	case errors.Is(err, errBusy):
		return Result{Outcome: OutcomeBusy, Err: err}
	case errors.Is(err, errWorkerClosed) || r.Context().Err() != nil:
		return Result{Outcome: OutcomeCanceled, Err: err}
	}
	return Result{Outcome: OutcomeException, Err: err} // a new instance failed to start
}

// runNext dispatches to next and then to handle_response if exported. With
// buffer_response, next's response is captured so handle_response can read
// and change it; otherwise next writes straight to rw and handle_response
// only observes it.
func (w *Worker) runNext(in *instance, rw http.ResponseWriter, next http.Handler, reqCtx uint32) error {
	c := &in.call
	req := c.req
	if req == c.orig && (c.reqRead > 0 || c.reqOverride != nil) {
		req = c.mutableRequest()
	}
	if req != c.orig {
		req.Body = c.nextBody()
		if c.reqOverride != nil {
			req.ContentLength = int64(c.reqOverride.Len())
			req.Header.Del("Content-Length")
		}
	}
	in.pauseRun()
	if in.handleResponse != nil && in.features&featureBufferResponse != 0 {
		// next writes into the guest's response (headers it set in
		// handle_request included); writeBuffered sends it afterwards.
		c.bufferedNext = true
		bw := &bufferedWriter{c: c}
		c.respHeader()
		c.body.Reset()
		func() {
			defer func() {
				if p := recover(); p != nil {
					if p == errResponseBodyTooLarge {
						return
					}
					panic(p)
				}
			}()
			next.ServeHTTP(bw, req)
		}()
		c.bodyFromNext = true
		c.bodyRead = 0
		if c.respTooLarge {
			in.resumeRun()
			return errResponseBodyTooLarge
		}
		if !bw.wrote {
			c.status = http.StatusOK
		}
	} else {
		if !c.headerDirect {
			for k, v := range c.header {
				rw.Header()[k] = v
			}
		}
		sw := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(sw, req)
		c.status = sw.status
		c.header = rw.Header()
		c.body.Reset()
		c.responseFinal = true
	}
	in.resumeRun()
	if in.handleResponse == nil {
		return nil
	}
	in.stack[0], in.stack[1] = uint64(reqCtx), 0
	return in.handleResponse.CallWithStack(in.ctx, in.stack[:])
}

// bufferedWriter captures next's response for handle_response.
type bufferedWriter struct {
	c     *call
	wrote bool
}

func (b *bufferedWriter) Header() http.Header { return b.c.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if !b.wrote {
		b.wrote = true
		b.c.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if int64(b.c.body.Len()+len(p)) > b.c.w.lim.MaxResponseBody {
		b.c.respTooLarge = true
		return 0, errResponseBodyTooLarge
	}
	return b.c.body.Write(p)
}

// statusWriter records the status next wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.wrote = true
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// writeBuffered sends the response the guest built. Its own framing
// headers are dropped: the body is whole, so net/http frames it with
// Content-Length. A body net/http buffers whole (netHTTPBuffered) gets the
// header from net/http itself, as it does for any handler that writes its
// answer at once; a larger one gets it here; an answer to HEAD with no
// body keeps the length it declared.
func writeBuffered(rw http.ResponseWriter, c *call) {
	h := rw.Header()
	if !c.headerDirect {
		for k, v := range c.header {
			h[k] = v
		}
	}
	delete(h, "Transfer-Encoding")
	n := c.body.Len()
	switch {
	case !bodyAllowed(c.status):
		delete(h, "Content-Length")
	case n == 0 && c.orig.Method == http.MethodHead:
		// A HEAD's answer keeps the length it declared (next's file's,
		// or the guest's), if it is one.
		if cl := h["Content-Length"]; len(cl) == 1 {
			if v, err := strconv.ParseInt(cl[0], 10, 64); err == nil && v >= 0 {
				h["Content-Length"] = []string{strconv.FormatInt(v, 10)}
				break
			}
		}
		delete(h, "Content-Length")
	case n > netHTTPBuffered || h["Trailer"] != nil:
		h["Content-Length"] = []string{strconv.Itoa(n)}
	default:
		delete(h, "Content-Length")
	}
	rw.WriteHeader(c.status)
	if bodyAllowed(c.status) && n > 0 {
		_, _ = rw.Write(c.body.Bytes())
	}
}

// netHTTPBuffered is the size of net/http's response buffer
// (bufferBeforeChunkingSize): a handler's body of at most this size,
// written in one call and not flushed, is sent with a Content-Length
// net/http computes when the handler returns.
const netHTTPBuffered = 2048

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// classify names what went wrong in a guest call that returned err.
func (w *Worker) classify(in *instance, res Result, fired bool, err error) Result {
	c := &in.call
	res.Err = err
	var exit *sys.ExitError
	switch {
	case fired:
		res.Outcome = OutcomeExceededCPU
	case c.respTooLarge:
		res.Outcome = OutcomeResponseTooLarge
	case c.reqTooLarge:
		res.Outcome = OutcomeRequestTooLarge
	case errors.As(err, &exit) && exit.ExitCode() == 0 && w.kind == kindCommand:
		res.Outcome = OutcomeOK
		res.Err = nil
	case in.memory.refusedSince() || w.memoryHigh(in):
		res.Outcome = OutcomeExceededMemory
	default:
		res.Outcome = OutcomeException
	}
	return res
}

// fail completes the Result of an invocation that failed before writing
// a response: the status, code and message the caller answers the client
// with, and what happened, in words, for the site's log stream.
func (w *Worker) fail(res Result) Result {
	switch res.Outcome {
	case OutcomeExceededCPU:
		res.Status, res.Code, res.Message = http.StatusServiceUnavailable, "worker_cpu_exceeded", "the worker exceeded its CPU time limit of "+millis(w.lim.CPU)
	case OutcomeExceededMemory:
		res.Status, res.Code, res.Message = http.StatusInternalServerError, "worker_memory_exceeded", "the worker exceeded its memory limit"
	case OutcomeResponseTooLarge:
		res.Status, res.Code, res.Message = http.StatusBadGateway, "worker_response_too_large", "the worker's response exceeded the size limit"
	case OutcomeRequestTooLarge:
		res.Status, res.Code, res.Message = http.StatusRequestEntityTooLarge, "request_too_large", "the request body exceeds the size limit"
	case OutcomeCanceled:
		res.Status, res.Code, res.Message = http.StatusServiceUnavailable, "worker_unavailable", "the worker is busy"
	case OutcomeBusy:
		res.Status, res.Code, res.Message = http.StatusServiceUnavailable, "worker_busy", "the server is too busy to run the worker; retry shortly"
	case OutcomeCPURateLimited:
		res.Status, res.Code, res.Message = http.StatusTooManyRequests, "worker_cpu_rate_exceeded", "the site's workers used their CPU time per second; retry shortly"
	case OutcomeClientError:
		var ce *clientError
		if errors.As(res.Err, &ce) && ce.timedOut() {
			res.Status, res.Code, res.Message = http.StatusRequestTimeout, "request_timeout", "the request body was not received in time"
		} else {
			res.Status, res.Code, res.Message = http.StatusBadRequest, "request_body_incomplete", "the request body was not received completely"
		}
	default:
		res.Status, res.Code, res.Message = http.StatusInternalServerError, "worker_exception", "the worker failed"
	}
	res.Detail = w.detail(res)
	return res
}

// detail says what happened in a failed invocation, once and in words:
// the limit that was hit, or the guest's failure without its stack trace.
func (w *Worker) detail(res Result) string {
	switch res.Outcome {
	case OutcomeExceededCPU:
		return "worker exceeded its CPU limit of " + millis(w.lim.CPU)
	case OutcomeExceededMemory:
		return "worker exceeded its memory limit of " + size(w.lim.MemoryBytes)
	case OutcomeResponseTooLarge:
		return "worker's response exceeded the size limit of " + size(w.lim.MaxResponseBody)
	case OutcomeRequestTooLarge:
		return "request body exceeded the size limit of " + size(w.lim.MaxRequestBody)
	case OutcomeCanceled:
		if errors.Is(res.Err, errWorkerClosed) {
			return "worker was replaced while the request waited for it"
		}
		return "request canceled before the worker answered"
	case OutcomeBusy:
		if errors.Is(res.Err, errBodiesFull) {
			return "worker not run: too many request bodies were being received"
		}
		return "worker not run: the request waited " + millis(w.rt.cfg.QueueTimeout) + " for a turn to run"
	case OutcomeCPURateLimited:
		return "worker not run: the tenant's workers used their CPU rate of " + millis(w.lim.CPURate) + " per second on this node"
	case OutcomeClientError:
		if res.Status == http.StatusRequestTimeout {
			return "worker not run: the client did not send its request body in time"
		}
		return "worker not run: the client did not send its whole request body"
	}
	return "worker failed: " + cause(res.Err)
}

// cause describes a guest's failure on one line: its exit status, its
// trap ("wasm error: integer divide by zero") without the stack trace, or
// why an instance could not start.
func cause(err error) string {
	var exit *sys.ExitError
	var me *ModuleError
	switch {
	case err == nil:
		return "unknown error"
	case errors.As(err, &exit):
		return "exited with status " + strconv.FormatUint(uint64(exit.ExitCode()), 10)
	case errors.As(err, &me):
		return me.Msg
	}
	return strings.TrimPrefix(firstLine(err.Error()), "worker: ")
}

// millis formats d in milliseconds: "50 ms", "0.5 ms".
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
}

// size formats n bytes in the largest binary unit that divides it.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
