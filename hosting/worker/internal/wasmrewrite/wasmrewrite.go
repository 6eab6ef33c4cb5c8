package wasmrewrite

import (
	"errors"
	"math"
)

// InterruptExport names the exported mutable i32 global that Instrument
// adds. The runtime sets it to a non-zero value to stop the guest, which
// then traps with `unreachable` at its next function entry or loop
// iteration. The name is reserved: a module's own export of that name is
// removed, so a tenant cannot substitute a global of its own.
const InterruptExport = "__pier_interrupt"

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
// appends a mutable i32 global initialised to 0 and exports it as InterruptExport, and inserts
// at the entry of every function body and at the start of every `loop` body the sequence
//
//	global.get $interrupt ; if (empty block type 0x40) ; unreachable ; end
//
// It applies Options and returns the new binary. Output is deterministic. An error wraps ErrInvalidModule.
//
// Every other section is kept byte for byte and no function, global, table
// or memory index changes: the new global comes after all existing ones.
// Instrument is safe on hostile input: it allocates in proportion to the
// input, never by a count the input declares, and never panics. The output
// is at most about six times the size of the input (a two-byte `loop`
// gains an eight- to twelve-byte check); callers cap the input size.
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
