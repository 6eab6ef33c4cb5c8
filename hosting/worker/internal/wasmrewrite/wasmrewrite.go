package wasmrewrite

import (
	"errors"
	"math"
)

// InterruptExport names the exported mutable i32 global that Instrument
// adds. The runtime sets it to a non-zero value to interrupt the guest,
// which then calls the imported function InterruptModule.InterruptFunc at
// its next function entry or loop iteration. The name is reserved: a
// module's own export of that name is removed, so a tenant cannot
// substitute a global of its own.
const InterruptExport = "__pier_interrupt"

// InterruptModule and InterruptFunc name the function, of type `(func)`,
// that Instrument imports and that the guest calls when it finds the
// interrupt global set. The runtime provides it: it traps (a Go panic,
// which no catch in the guest can handle) to stop the guest, or clears
// the global and returns to let it go on. Either way the guest has left
// compiled code for Go, where the Go scheduler and a stop-the-world pause
// can take its thread. The module name is reserved: Instrument rejects a
// module that imports from it.
const (
	InterruptModule = "__pier"
	InterruptFunc   = "interrupt"
)

// ErrInvalidModule is wrapped by every error Instrument returns: the binary
// is malformed or uses a feature this package does not support. The
// message names the cause and its offset in the input.
var ErrInvalidModule = errors.New("wasmrewrite: invalid module")

// maxPages is the most pages a 32-bit memory can have (4 GiB).
const maxPages = 65536

// Options configures Instrument. The zero value instruments without
// changing memory limits.
type Options struct {
	// MaxMemoryPages caps the module's own memory: the declared maximum becomes
	// min(declared max, MaxMemoryPages) (a module without a max gets this one); a module whose
	// minimum exceeds the cap is an error. 0 leaves the memory as declared.
	//
	// The cap applies to every memory the module defines. An imported
	// memory cannot be capped here, so with a non-zero MaxMemoryPages a
	// module that imports a memory is rejected; with 0 it is accepted as is.
	MaxMemoryPages uint32

	// reservedOK accepts imports from InterruptModule, so that the tests
	// can check that an output is itself a well-formed input.
	reservedOK bool
}

// Info describes an instrumented module.
type Info struct {
	Imports []Import // module/name/kind of every import, in order
	// Exports are the module's own export names (functions, memories,
	// globals, tables, tags) in order; InterruptExport is not among them.
	Exports   []string
	HasMemory bool // the module defines or imports a memory
	// StrippedBytes counts the bytes of the custom sections removed,
	// section headers included.
	StrippedBytes int
}

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         byte // 0 func, 1 table, 2 memory, 3 global, 4 tag
}

// Import kinds.
const (
	KindFunc   byte = 0
	KindTable  byte = 1
	KindMemory byte = 2
	KindGlobal byte = 3
	KindTag    byte = 4
)

// Instrument validates the binary's structure, strips custom sections (names, DWARF, producers…),
// appends a mutable i32 global initialised to 0 and exports it as InterruptExport, appends the
// type `(func)` and an import of InterruptModule.InterruptFunc of that type after the
// module's own imports, and inserts at the entry of every function body and at the start of
// every `loop` body the sequence
//
//	global.get $interrupt ; if (empty block type 0x40) ; call $interrupt_import ; end
//
// It applies Options and returns the new binary. Output is deterministic. An error wraps ErrInvalidModule.
//
// The new import comes after every imported function and before every
// defined one, so the index of each defined function grows by one: every
// function index in the module (calls, ref.func, exports, element
// segments, the start function) is rewritten to match. Type, global,
// table and memory indices do not change: the new type and global come
// after all existing ones. Sections without a function index are kept
// byte for byte.
// Instrument is safe on hostile input: it allocates in proportion to the
// input, never by a count the input declares, and never panics. The output
// is at most about seven times the size of the input (a two-byte `loop`
// gains a ten- to sixteen-byte check; a call's index may grow by a byte);
// callers cap the input size.
func Instrument(wasm []byte, opts Options) ([]byte, Info, error) {
	m := module{wasm: wasm, opts: opts}
	if err := m.decode(); err != nil {
		return nil, Info{}, err
	}
	out, err := m.encode()
	if err != nil {
		return nil, Info{}, err
	}
	return out, m.info, nil
}

// checkSize rejects sections and bodies whose size no longer fits a u32.
func checkSize(n int, what string) error {
	if uint64(n) > math.MaxUint32 {
		return errAt(0, "instrumented %s exceeds 4 GiB", what)
	}
	return nil
}
