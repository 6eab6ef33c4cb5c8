package worker

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/pierhq/pier/hosting/worker/internal/wasmrewrite"
)

// Config configures a Runtime. A zero field means the documented default.
type Config struct {
	// CacheDir is wazero's compilation cache directory (data/wasm-cache),
	// so a restart does not recompile. "" keeps compiled code in memory only.
	CacheDir string
	// PoolSize is the number of instances kept per reactor Worker. When all
	// are busy a request waits briefly (5 ms) for one, then gets a temporary
	// instance, closed after its request; at most PoolSize temporary
	// instances live at once, and requests beyond them wait for any
	// instance. Default runtime.NumCPU().
	PoolSize int
	// MaxModuleSize caps a module's size in bytes. Default 32 MiB.
	MaxModuleSize int64
	// IdleTimeout closes a reactor Worker's idle instances, all but one,
	// once unused for this long (each live instance holds memory and, on
	// Linux, two OS threads for its CPU interrupt), and the one kept
	// releases its threads until its next request. Default 1 minute.
	IdleTimeout time.Duration
	// KeepCompiled is how long a compiled module no Worker uses stays in
	// memory: after Validate, Prewarm or the close of its last Worker.
	// Default 5 minutes.
	KeepCompiled time.Duration
	// MaxRunning is how many guests may compute at once on the node,
	// whatever their tenants (see Owner): compiled guest code holds its
	// GOMAXPROCS slot, so fewer running guests than Ps leaves a thread for
	// static requests and for the check of the guests' CPU budgets. A
	// guest waiting on the host (a fetch, an asset, next) does not count.
	// Default GOMAXPROCS−1, at least 1.
	MaxRunning int
	// QueueTimeout bounds how long a request waits for one of the
	// MaxRunning run slots before it is refused with 503 worker_busy
	// (OutcomeBusy). Default 5 seconds.
	QueueTimeout time.Duration
	// MaxBufferedBodies bounds the request bodies read ahead of running a
	// guest, in bytes: on the node, and a quarter of it per site (Owner's
	// Site). A request whose body does not fit is refused with 503
	// worker_busy. Default 256 MiB.
	MaxBufferedBodies int64
	// Logger receives the runtime's own events (instances discarded, guest
	// output during start-up). Default: discard.
	Logger *slog.Logger

	// ownTimers gives each instance a kernel timer of its own instead of
	// the node's ticker (tests of kernelTimer, the fallback).
	ownTimers bool
}

// Runtime is the process's one wazero runtime with WASI preview 1 and the
// http_handler and pier host modules instantiated once. Its methods are safe
// for concurrent use.
type Runtime struct {
	cfg   Config
	log   *slog.Logger
	rt    wazero.Runtime
	cache wazero.CompilationCache
	// hostFuncs holds, per importable module, the functions a guest may
	// import with their signatures.
	hostFuncs map[string]map[string]api.FunctionDefinition

	mem *memPool // linear memory reservations, recycled

	sched  *scheduler  // run slots (Config.MaxRunning)
	bodies *bodyBudget // request bodies read ahead (Config.MaxBufferedBodies)

	icache instrumentCache // instrumented modules on disk

	mu       sync.Mutex
	closed   bool
	compiled map[[sha256.Size]byte]*sharedModule   // by sha256 of the instrumented bytes
	byInput  map[[sha256.Size]byte]*sharedModule   // by sha256 of the module as deployed
	pending  map[[sha256.Size]byte]*pendingCompile // by sha256 of the module as deployed

	compiles atomic.Int64 // modules compiled (not found compiled in memory)

	interruptFallback sync.Once // warns once when CPU limits fall back to a Go timer
	tickerFallback    sync.Once // warns once when instances fall back to timers of their own
}

// newInterruptSource makes the interrupt source of an instance whose
// interrupt global is g: the node's ticker where it runs (Linux on amd64 and arm64),
// else a kernel timer of the instance's own (Linux); an error elsewhere,
// or when wazero's internals are not as expected (the meter then uses a
// Go timer).
func (r *Runtime) newInterruptSource(g api.MutableGlobal) (interruptSource, error) {
	if !r.cfg.ownTimers {
		src, err := tickerSource(g)
		if err == nil {
			return src, nil
		}
		r.tickerFallback.Do(func() {
			r.log.Warn("worker: the node's interrupt ticker is unavailable: each instance uses a kernel timer of its own where there is one", "cause", err)
		})
	}
	kt, err := newKernelTimer(g)
	if err != nil {
		return nil, err
	}
	return kt, nil
}

// sharedModule is a compiled module shared by the Workers running the same
// instrumented bytes.
type sharedModule struct {
	key      [sha256.Size]byte
	mod      wazero.CompiledModule
	kind     moduleKind
	minPages uint32 // the memory's initial size in pages (0 without a memory)
	refs     int
	idle     *time.Timer // set while refs is 0: closes it after Config.KeepCompiled
	gen      uint64      // counts releases to 0, so a stale idle timer does nothing
}

// New creates the runtime. Close it to release compiled code.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = runtime.NumCPU()
	}
	if cfg.MaxModuleSize <= 0 {
		cfg.MaxModuleSize = 32 << 20
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.KeepCompiled <= 0 {
		cfg.KeepCompiled = 5 * time.Minute
	}
	if cfg.MaxRunning <= 0 {
		cfg.MaxRunning = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = 5 * time.Second
	}
	if cfg.MaxBufferedBodies <= 0 {
		cfg.MaxBufferedBodies = 256 << 20
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("worker: opening compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	r := &Runtime{
		cfg:       cfg,
		log:       logger,
		rt:        rt,
		cache:     cache,
		hostFuncs: map[string]map[string]api.FunctionDefinition{},
		compiled:  map[[sha256.Size]byte]*sharedModule{},
		byInput:   map[[sha256.Size]byte]*sharedModule{},
		pending:   map[[sha256.Size]byte]*pendingCompile{},
		mem:       newMemPool(),
		sched:     newScheduler(cfg.MaxRunning, cfg.QueueTimeout),
		bodies:    newBodyBudget(cfg.MaxBufferedBodies),
	}
	if cfg.CacheDir != "" {
		ic, err := openInstrumentCache(cfg.CacheDir)
		if err != nil {
			_ = rt.Close(ctx)
			_ = cache.Close(ctx)
			return nil, err
		}
		r.icache = ic
	}
	fail := func(what string, err error) (*Runtime, error) {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("worker: %s: %w", what, err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail("instantiating wasi", err)
	}
	if _, err := httpHandlerModule(rt).Instantiate(ctx); err != nil {
		return fail("instantiating http_handler", err)
	}
	if _, err := pierModule(rt).Instantiate(ctx); err != nil {
		return fail("instantiating pier", err)
	}
	if _, err := interruptModule(rt).Instantiate(ctx); err != nil {
		return fail("instantiating the interrupt function", err)
	}
	for _, name := range []string{wasi_snapshot_preview1.ModuleName, httpHandlerModuleName, pierModuleName, wasmrewrite.InterruptModule} {
		m := rt.Module(name)
		if m == nil {
			return fail("host module "+name, errors.New("missing after instantiation"))
		}
		r.hostFuncs[name] = m.ExportedFunctionDefinitions()
	}
	return r, nil
}

// Close releases the runtime and everything compiled in it. Workers must be
// closed first; using one afterwards fails.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	for _, sm := range r.compiled {
		if sm.idle != nil {
			sm.idle.Stop()
			sm.idle = nil
		}
	}
	r.mu.Unlock()
	err := r.rt.Close(ctx)
	r.mem.close()
	if cerr := r.cache.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("worker: closing runtime: %w", err)
	}
	return nil
}

// moduleKind says how a module is run.
type moduleKind int

const (
	kindReactor moduleKind = iota + 1 // exports handle_request
	kindCommand                       // WAGI: exports _start
)

// Validate checks a module at deploy time: the size cap, that it parses
// and compiles, that it is an http-wasm reactor (exports handle_request
// and memory) or a WASI command (exports _start), and that it imports only
// known functions, with the right signatures, from http_handler, pier and
// wasi_snapshot_preview1. A bad module yields a *ModuleError, whose text
// can be shown to the tenant. Validate does not run guest code.
//
// The module is compiled exactly as NewWorker compiles it (the tenant's
// limits do not change the code) and kept for Config.KeepCompiled, so the
// Worker created when the deployment goes live does not compile it again.
func (r *Runtime) Validate(ctx context.Context, wasm []byte) error {
	sm, err := r.prepare(ctx, wasm)
	if err != nil {
		return err
	}
	r.release(ctx, sm)
	return nil
}

// Prewarm does the expensive part of NewWorker ahead of the first request:
// it instruments and compiles wasm (from the on-disk caches after a
// restart) and checks it against lim, and keeps the compiled module for
// Config.KeepCompiled (longer while Workers use it). The edge calls it for
// active deployments at boot; a NewWorker within that time only
// instantiates. Errors are those NewWorker would return.
func (r *Runtime) Prewarm(ctx context.Context, wasm []byte, lim Limits) error {
	sm, err := r.prepareFor(ctx, wasm, lim.withDefaults())
	if err != nil {
		return err
	}
	r.release(ctx, sm)
	return nil
}

// prepareFor is prepare plus the checks that depend on the limits (lim has
// its defaults applied); the caller releases the shared module.
func (r *Runtime) prepareFor(ctx context.Context, wasm []byte, lim Limits) (*sharedModule, error) {
	sm, err := r.prepare(ctx, wasm)
	if err != nil {
		return nil, err
	}
	if pages := uint32(lim.MemoryBytes / wasmPageSize); sm.minPages > pages {
		r.release(ctx, sm)
		return nil, &ModuleError{Msg: fmt.Sprintf("its memory starts at %d pages of 64 KiB, more than the limit of %d pages", sm.minPages, pages)}
	}
	return sm, nil
}

// instrumentOptions are the same for every module and every plan, so that
// Validate, Prewarm and NewWorker compile the same bytes: the declared
// maximum is only capped at the wasm limit (and a memory import refused);
// the plan's cap is enforced by each Worker's memAllocator.
var instrumentOptions = wasmrewrite.Options{MaxMemoryPages: maxMemoryPages}

// prepare instruments, compiles and checks wasm, or finds it already
// compiled; the caller releases the shared module.
func (r *Runtime) prepare(ctx context.Context, wasm []byte) (*sharedModule, error) {
	if int64(len(wasm)) > r.cfg.MaxModuleSize {
		return nil, &ModuleError{Msg: fmt.Sprintf("module is %d bytes, the limit is %d", len(wasm), r.cfg.MaxModuleSize)}
	}
	input := sha256.Sum256(wasm)
	for {
		r.mu.Lock()
		if sm, ok := r.byInput[input]; ok {
			r.holdLocked(sm)
			r.mu.Unlock()
			return sm, nil
		}
		if p, ok := r.pending[input]; ok {
			// Another caller (Prewarm at boot, the deploy's Validate) is
			// compiling it: wait rather than compile it twice.
			r.mu.Unlock()
			select {
			case <-p.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			var me *ModuleError
			if errors.As(p.err, &me) {
				return nil, p.err
			}
			continue // compiled (and kept), or failed for a reason of its own
		}
		p := &pendingCompile{done: make(chan struct{})}
		r.pending[input] = p
		r.mu.Unlock()
		sm, err := r.build(ctx, wasm, input)
		r.mu.Lock()
		delete(r.pending, input)
		p.err = err
		r.mu.Unlock()
		close(p.done)
		return sm, err
	}
}

// pendingCompile is a module being compiled; done is closed when it is
// compiled (it is then in byInput) or err is set.
type pendingCompile struct {
	done chan struct{}
	err  error
}

// build instruments and compiles wasm, whose sha256 is input.
func (r *Runtime) build(ctx context.Context, wasm []byte, input [sha256.Size]byte) (*sharedModule, error) {
	bin, key, err := r.instrument(wasm, input)
	if err != nil {
		return nil, err
	}
	return r.compile(ctx, bin, key, input)
}

// instrument returns the instrumented module and its sha256, from the
// on-disk cache when it holds them (a restart) or else by rewriting wasm
// and checking what the rewrite reports; a rewrite is stored in the cache.
func (r *Runtime) instrument(wasm []byte, input [sha256.Size]byte) ([]byte, [sha256.Size]byte, error) {
	if bin, key, ok := r.icache.get(input); ok {
		return bin, key, nil
	}
	bin, info, err := wasmrewrite.Instrument(wasm, instrumentOptions)
	if err != nil {
		if errors.Is(err, wasmrewrite.ErrInvalidModule) {
			why := strings.TrimPrefix(strings.TrimPrefix(err.Error(), wasmrewrite.ErrInvalidModule.Error()), ": ")
			return nil, [sha256.Size]byte{}, &ModuleError{Msg: "not a valid WebAssembly module (" + why + ")", Err: err}
		}
		return nil, [sha256.Size]byte{}, fmt.Errorf("worker: instrumenting module: %w", err)
	}
	for _, im := range info.Imports {
		if im.Kind != wasmrewrite.KindFunc {
			return nil, [sha256.Size]byte{}, &ModuleError{Msg: fmt.Sprintf("imports %s.%s, which is not a function: only function imports are supported", im.Module, im.Name)}
		}
	}
	if hasStartSection(bin) {
		return nil, [sha256.Size]byte{}, &ModuleError{Msg: "has a start function: export _initialize (a reactor) or _start (a command) instead"}
	}
	key := sha256.Sum256(bin)
	if err := r.icache.put(input, key, bin); err != nil {
		r.log.Warn("worker: caching an instrumented module", "err", err)
	}
	return bin, key, nil
}

// check classifies a compiled module and verifies its imports.
func (r *Runtime) check(cm wazero.CompiledModule) (moduleKind, error) {
	for _, im := range cm.ImportedFunctions() {
		modName, name, _ := im.Import()
		funcs, ok := r.hostFuncs[modName]
		if !ok {
			return 0, &ModuleError{Msg: fmt.Sprintf("imports from module %q: only http_handler, pier and wasi_snapshot_preview1 are available", modName)}
		}
		def, ok := funcs[name]
		if !ok {
			return 0, &ModuleError{Msg: fmt.Sprintf("imports unknown function %s.%s", modName, name)}
		}
		if !slices.Equal(def.ParamTypes(), im.ParamTypes()) || !slices.Equal(def.ResultTypes(), im.ResultTypes()) {
			return 0, &ModuleError{Msg: fmt.Sprintf("imports %s.%s with the wrong signature %s, want %s",
				modName, name, signature(im), signature(def))}
		}
	}
	exports := cm.ExportedFunctions()
	if def, ok := exports[exportHandleRequest]; ok {
		if len(def.ParamTypes()) != 0 || !slices.Equal(def.ResultTypes(), []api.ValueType{api.ValueTypeI64}) {
			return 0, &ModuleError{Msg: "exports handle_request with the wrong signature " + signature(def) + ", want () -> (i64)"}
		}
		if def, ok := exports[exportHandleResponse]; ok {
			if !slices.Equal(def.ParamTypes(), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}) || len(def.ResultTypes()) != 0 {
				return 0, &ModuleError{Msg: "exports handle_response with the wrong signature " + signature(def) + ", want (i32, i32) -> ()"}
			}
		}
		if def, ok := exports[exportInitialize]; ok && (len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 0) {
			return 0, &ModuleError{Msg: "exports _initialize with the wrong signature " + signature(def) + ", want () -> ()"}
		}
		if _, ok := cm.ExportedMemories()["memory"]; !ok {
			return 0, &ModuleError{Msg: `exports no memory named "memory"`}
		}
		return kindReactor, nil
	}
	if def, ok := exports[exportStart]; ok {
		if len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 0 {
			return 0, &ModuleError{Msg: "exports _start with the wrong signature " + signature(def) + ", want () -> ()"}
		}
		return kindCommand, nil
	}
	return 0, &ModuleError{Msg: "exports neither handle_request (an http-wasm handler) nor _start (a WASI command)"}
}

func signature(def api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return names(def.ParamTypes()) + " -> " + names(def.ResultTypes())
}

// compile compiles instrumented bytes (whose sha256 is key) once per
// process and checks them.
func (r *Runtime) compile(ctx context.Context, bin []byte, key, input [sha256.Size]byte) (*sharedModule, error) {
	r.mu.Lock()
	if sm, ok := r.compiled[key]; ok {
		r.holdLocked(sm)
		r.byInput[input] = sm
		r.mu.Unlock()
		return sm, nil
	}
	r.mu.Unlock()
	r.compiles.Add(1)
	// A cache miss (a deploy) compiles functions on all cores.
	cm, err := r.rt.CompileModule(experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0)), bin)
	if err != nil {
		return nil, &ModuleError{Msg: "the module does not compile: " + err.Error(), Err: err}
	}
	kind, err := r.check(cm)
	if err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if sm, ok := r.compiled[key]; ok { // compiled concurrently by another caller
		r.holdLocked(sm)
		r.byInput[input] = sm
		_ = cm.Close(ctx)
		return sm, nil
	}
	sm := &sharedModule{key: key, mod: cm, kind: kind, minPages: memoryMinPages(bin), refs: 1}
	r.compiled[key] = sm
	r.byInput[input] = sm
	return sm, nil
}

// holdLocked takes a reference to a shared module; r.mu is held.
func (r *Runtime) holdLocked(sm *sharedModule) {
	sm.refs++
	if sm.idle != nil {
		sm.idle.Stop()
		sm.idle = nil
	}
}

// release drops one reference to a shared module. The last one leaves it
// compiled for Config.KeepCompiled: a Worker for the same module created
// meanwhile (the deployment going live after Validate, the first request
// after Prewarm, a redeploy) does not compile it again.
func (r *Runtime) release(ctx context.Context, sm *sharedModule) {
	r.mu.Lock()
	sm.refs--
	if sm.refs > 0 {
		r.mu.Unlock()
		return
	}
	if !r.closed {
		sm.gen++
		gen := sm.gen
		sm.idle = time.AfterFunc(r.cfg.KeepCompiled, func() { r.expire(sm, gen) })
		r.mu.Unlock()
		return
	}
	r.forgetLocked(sm)
	r.mu.Unlock()
	_ = sm.mod.Close(ctx)
}

// expire closes a shared module unused since its release numbered gen.
func (r *Runtime) expire(sm *sharedModule, gen uint64) {
	r.mu.Lock()
	if sm.refs > 0 || sm.gen != gen || r.compiled[sm.key] != sm {
		r.mu.Unlock()
		return
	}
	r.forgetLocked(sm)
	r.mu.Unlock()
	_ = sm.mod.Close(context.Background())
}

// forgetLocked removes sm from the maps; r.mu is held.
func (r *Runtime) forgetLocked(sm *sharedModule) {
	if r.compiled[sm.key] == sm {
		delete(r.compiled, sm.key)
	}
	for in, m := range r.byInput {
		if m == sm {
			delete(r.byInput, in)
		}
	}
	sm.idle = nil
}

// Guest export names.
const (
	exportHandleRequest  = "handle_request"
	exportHandleResponse = "handle_response"
	exportInitialize     = "_initialize"
	exportStart          = "_start"
)

// hasStartSection reports whether a module (already validated by
// wasmrewrite) has a start section, whose function would run during
// instantiation, before the CPU budget can be armed.
func hasStartSection(bin []byte) bool {
	const startSectionID = 8
	p := bin[min(8, len(bin)):]
	for len(p) > 0 {
		id := p[0]
		size, n := uleb32(p[1:])
		if n == 0 {
			return false
		}
		if id == startSectionID {
			return true
		}
		p = p[1+n:]
		if uint64(size) > uint64(len(p)) {
			return false
		}
		p = p[size:]
	}
	return false
}

// memoryMinPages returns the initial size in pages of the memory a module
// (already validated by wasmrewrite) defines, or 0.
func memoryMinPages(bin []byte) uint32 {
	const memorySectionID = 5
	p := bin[min(8, len(bin)):]
	for len(p) > 0 {
		id := p[0]
		size, n := uleb32(p[1:])
		if n == 0 || uint64(size) > uint64(len(p)-1-n) {
			return 0
		}
		body := p[1+n : 1+n+int(size)]
		if id == memorySectionID {
			count, n := uleb32(body)
			if n == 0 || count == 0 || len(body) < n+2 {
				return 0
			}
			pages, _ := uleb32(body[n+1:]) // after the limits' flags
			return pages
		}
		p = p[1+n+int(size):]
	}
	return 0
}

// uleb32 decodes an unsigned LEB128 u32, returning the value and the bytes
// read (0 if malformed).
func uleb32(p []byte) (uint32, int) {
	var v uint32
	for i := 0; i < 5 && i < len(p); i++ {
		v |= uint32(p[i]&0x7f) << (7 * i)
		if p[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
