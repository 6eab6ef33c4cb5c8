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
	// PoolSize is the number of instances kept per reactor Worker; requests
	// beyond it wait for a free instance. Default runtime.NumCPU().
	PoolSize int
	// MaxModuleSize caps a module's size in bytes. Default 32 MiB.
	MaxModuleSize int64
	// IdleTimeout closes a reactor Worker's idle instances, all but one,
	// once unused for this long (each live instance holds memory and, on
	// Linux, an OS thread for its CPU interrupt). Default 1 minute.
	IdleTimeout time.Duration
	// Logger receives the runtime's own events (instances discarded, guest
	// output during start-up). Default: discard.
	Logger *slog.Logger
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

	mu       sync.Mutex
	compiled map[[sha256.Size]byte]*sharedModule

	interruptFallback sync.Once // warns once when CPU limits fall back to a Go timer
}

// sharedModule is a compiled module shared by the Workers running the same
// instrumented bytes.
type sharedModule struct {
	key  [sha256.Size]byte
	mod  wazero.CompiledModule
	refs int
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
		mem:       newMemPool(),
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
	for _, name := range []string{wasi_snapshot_preview1.ModuleName, httpHandlerModuleName, pierModuleName} {
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
// wasi_snapshot_preview1. A bad module yields a *ModuleError whose Msg can be
// shown to the tenant. Validate does not run guest code.
func (r *Runtime) Validate(ctx context.Context, wasm []byte) error {
	cm, _, err := r.prepare(ctx, wasm, maxMemoryPages)
	if err != nil {
		return err
	}
	r.release(ctx, cm)
	return nil
}

// prepare instruments and compiles wasm with the given memory cap and checks
// it; the caller releases the shared module.
func (r *Runtime) prepare(ctx context.Context, wasm []byte, pages uint32) (*sharedModule, moduleKind, error) {
	if int64(len(wasm)) > r.cfg.MaxModuleSize {
		return nil, 0, &ModuleError{Msg: fmt.Sprintf("module is %d bytes, the limit is %d", len(wasm), r.cfg.MaxModuleSize)}
	}
	bin, info, err := wasmrewrite.Instrument(wasm, wasmrewrite.Options{MaxMemoryPages: pages})
	if err != nil {
		if errors.Is(err, wasmrewrite.ErrInvalidModule) {
			return nil, 0, &ModuleError{Msg: "not a valid WebAssembly module: " + strings.TrimPrefix(err.Error(), "wasmrewrite: "), Err: err}
		}
		return nil, 0, fmt.Errorf("worker: instrumenting module: %w", err)
	}
	for _, im := range info.Imports {
		if im.Kind != wasmrewrite.KindFunc {
			return nil, 0, &ModuleError{Msg: fmt.Sprintf("imports %s.%s, which is not a function: only function imports are supported", im.Module, im.Name)}
		}
	}
	if hasStartSection(bin) {
		return nil, 0, &ModuleError{Msg: "has a start function: export _initialize (a reactor) or _start (a command) instead"}
	}
	sm, err := r.compile(ctx, bin)
	if err != nil {
		return nil, 0, err
	}
	kind, err := r.check(sm.mod)
	if err != nil {
		r.release(ctx, sm)
		return nil, 0, err
	}
	return sm, kind, nil
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

// compile compiles instrumented bytes once per process.
func (r *Runtime) compile(ctx context.Context, bin []byte) (*sharedModule, error) {
	key := sha256.Sum256(bin)
	r.mu.Lock()
	if sm, ok := r.compiled[key]; ok {
		sm.refs++
		r.mu.Unlock()
		return sm, nil
	}
	r.mu.Unlock()
	// A cache miss (a deploy) compiles functions on all cores.
	cm, err := r.rt.CompileModule(experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0)), bin)
	if err != nil {
		return nil, &ModuleError{Msg: "the module does not compile: " + err.Error(), Err: err}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if sm, ok := r.compiled[key]; ok { // compiled concurrently by another caller
		sm.refs++
		_ = cm.Close(ctx)
		return sm, nil
	}
	sm := &sharedModule{key: key, mod: cm, refs: 1}
	r.compiled[key] = sm
	return sm, nil
}

// release drops one reference to a shared module, closing it with the last.
func (r *Runtime) release(ctx context.Context, sm *sharedModule) {
	r.mu.Lock()
	sm.refs--
	last := sm.refs == 0
	if last {
		delete(r.compiled, sm.key)
	}
	r.mu.Unlock()
	if last {
		_ = sm.mod.Close(ctx)
	}
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
