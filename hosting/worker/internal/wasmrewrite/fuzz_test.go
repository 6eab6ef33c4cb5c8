package wasmrewrite

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzInstrument feeds arbitrary bytes to Instrument: it must never panic,
// every error must wrap ErrInvalidModule, and every output must be
// deterministic and itself a valid input (but for its import from the
// reserved module).
func FuzzInstrument(f *testing.F) {
	for _, wasm := range testdataModules(f) {
		f.Add(wasm)
	}
	f.Add(tryTableModule())
	f.Add(largeModule(2, 3))
	f.Add(wasmModule(typeVoid, oneFunc, sec(secCode, vec(body(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b)))))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, info, err := Instrument(wasm, Options{MaxMemoryPages: 64})
		if err != nil {
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("error %v does not wrap ErrInvalidModule", err)
			}
			return
		}
		again, _, err := Instrument(wasm, Options{MaxMemoryPages: 64})
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("second run differs (err %v)", err)
		}
		twice, info2, err := Instrument(out, Options{MaxMemoryPages: 64, reservedOK: true})
		if err != nil {
			t.Fatalf("output does not re-parse: %v\ninput % x\noutput % x", err, wasm, out)
		}
		if info2.StrippedBytes != 0 || len(info2.Exports) != len(info.Exports) || len(info2.Imports) != len(info.Imports)+1 {
			t.Fatalf("info changed: %+v then %+v", info, info2)
		}
		if len(twice) < len(out) {
			t.Fatalf("re-instrumenting shrank the module")
		}
	})
}
