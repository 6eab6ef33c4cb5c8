package wasmrewrite

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Hand assembly of tiny modules.

func leb(v uint32) []byte { return appendU32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func wasmModule(sections ...[]byte) []byte {
	return cat(append([][]byte{{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}}, sections...)...)
}

func sec(id byte, content ...[]byte) []byte {
	c := cat(content...)
	return cat([]byte{id}, leb(uint32(len(c))), c)
}

func vec(items ...[]byte) []byte { return cat(append([][]byte{leb(uint32(len(items)))}, items...)...) }

func str(s string) []byte { return cat(leb(uint32(len(s))), []byte(s)) }

// body is a function body: no locals, then code (which ends with 0x0b).
func body(code ...byte) []byte {
	c := cat([]byte{0x00}, code)
	return cat(leb(uint32(len(c))), c)
}

var (
	typeVoid  = sec(secType, vec([]byte{0x60, 0x00, 0x00}))
	oneFunc   = sec(secFunction, vec([]byte{0x00}))
	emptyBody = sec(secCode, vec(body(0x0b)))
	// the check with global g calling function f
	check = func(g, f byte) []byte { return []byte{0x23, g, 0x04, 0x40, 0x10, f, 0x0b} }
	// our global and its export, for a module with n globals and exports before
	ourGlobal = []byte{0x7f, 0x01, 0x41, 0x00, 0x0b}
	ourExport = func(idx byte) []byte { return cat(str(InterruptExport), []byte{0x03, idx}) }
	// our type, `(func)`, and our import of it, at type index t
	ourType   = []byte{0x60, 0x00, 0x00}
	ourImport = func(t byte) []byte { return cat(str(InterruptModule), str(InterruptFunc), []byte{0x00, t}) }
	// ours is the type and import sections of a module that had none
	ours = cat(sec(secType, vec(ourType)), sec(secImport, vec(ourImport(0))))
	// voidOurs is typeVoid's module with ours added
	voidOurs = cat(sec(secType, vec([]byte{0x60, 0x00, 0x00}, ourType)), sec(secImport, vec(ourImport(1))))
)

func TestInstrumentOutput(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		opts Options
		want []byte
		info Info
	}{
		{
			name: "empty module gets the global and its export",
			in:   wasmModule(),
			want: wasmModule(ours, sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0)))),
			info: Info{},
		},
		{
			name: "function entry and loop",
			// (func (loop (br 0)))
			in: wasmModule(typeVoid, oneFunc, sec(secCode, vec(body(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b)))),
			want: wasmModule(voidOurs, oneFunc,
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0))),
				sec(secCode, vec(body(cat(check(0, 0), []byte{0x03, 0x40}, check(0, 0), []byte{0x0c, 0x00, 0x0b, 0x0b})...)))),
			info: Info{},
		},
		{
			name: "locals stay before the entry check",
			in:   wasmModule(typeVoid, oneFunc, sec(secCode, vec(cat(leb(6), []byte{0x01, 0x02, 0x7f, 0x01, 0x01, 0x0b})))),
			want: wasmModule(voidOurs, oneFunc,
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0))),
				sec(secCode, vec(cat(leb(13), []byte{0x01, 0x02, 0x7f}, check(0, 0), []byte{0x01, 0x01, 0x0b})))),
		},
		{
			name: "new global after imported and defined ones; exports kept in order",
			in: wasmModule(typeVoid,
				sec(secImport, vec(cat(str("env"), str("g"), []byte{0x03, 0x7f, 0x00}), cat(str("env"), str("f"), []byte{0x00, 0x00}))),
				oneFunc,
				sec(secGlobal, vec([]byte{0x7e, 0x01, 0x42, 0x05, 0x0b})),
				sec(secExport, vec(cat(str("run"), []byte{0x00, 0x01}))),
				sec(secCode, vec(body(0x0b)))),
			want: wasmModule(sec(secType, vec([]byte{0x60, 0x00, 0x00}, ourType)),
				sec(secImport, vec(cat(str("env"), str("g"), []byte{0x03, 0x7f, 0x00}), cat(str("env"), str("f"), []byte{0x00, 0x00}), ourImport(1))),
				oneFunc,
				sec(secGlobal, vec([]byte{0x7e, 0x01, 0x42, 0x05, 0x0b}, ourGlobal)),
				// the defined function moves from 1 to 2: our import is 1
				sec(secExport, vec(cat(str("run"), []byte{0x00, 0x02}), ourExport(2))),
				sec(secCode, vec(body(cat(check(2, 1), []byte{0x0b})...)))),
			info: Info{
				Imports: []Import{{"env", "g", KindGlobal}, {"env", "f", KindFunc}},
				Exports: []string{"run"},
			},
		},
		{
			name: "custom sections stripped wherever they are",
			in: wasmModule(sec(secCustom, str("name"), []byte{1, 2, 3}), typeVoid, sec(secCustom, str("producers")),
				oneFunc, emptyBody, sec(secCustom, str(".debug_info"), make([]byte, 200))),
			want: wasmModule(voidOurs, oneFunc,
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0))),
				sec(secCode, vec(body(cat(check(0, 0), []byte{0x0b})...)))),
			info: Info{StrippedBytes: 10 + 12 + 215},
		},
		{
			name: "a spoofed interrupt export is dropped",
			in: wasmModule(sec(secGlobal, vec([]byte{0x7f, 0x01, 0x41, 0x00, 0x0b})),
				sec(secExport, vec(cat(str("a"), []byte{0x03, 0x00}), cat(str(InterruptExport), []byte{0x03, 0x00}), cat(str("b"), []byte{0x03, 0x00})))),
			want: wasmModule(ours, sec(secGlobal, vec([]byte{0x7f, 0x01, 0x41, 0x00, 0x0b}, ourGlobal)),
				sec(secExport, vec(cat(str("a"), []byte{0x03, 0x00}), cat(str("b"), []byte{0x03, 0x00}), ourExport(1)))),
			info: Info{Exports: []string{"a", "b"}},
		},
		{
			name: "memory without a maximum gets the cap",
			in:   wasmModule(sec(secMemory, vec([]byte{0x00, 0x02}))),
			opts: Options{MaxMemoryPages: 300},
			want: wasmModule(ours, sec(secMemory, vec(cat([]byte{0x01, 0x02}, leb(300)))),
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0)))),
			info: Info{HasMemory: true},
		},
		{
			name: "a lower declared maximum stays",
			in:   wasmModule(sec(secMemory, vec([]byte{0x01, 0x02, 0x05}))),
			opts: Options{MaxMemoryPages: 300},
			want: wasmModule(ours, sec(secMemory, vec([]byte{0x01, 0x02, 0x05})),
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0)))),
			info: Info{HasMemory: true},
		},
		{
			name: "a higher declared maximum is lowered; shared stays shared",
			in:   wasmModule(sec(secMemory, vec(cat([]byte{0x03, 0x01}, leb(1000))))),
			opts: Options{MaxMemoryPages: 300},
			want: wasmModule(ours, sec(secMemory, vec(cat([]byte{0x03, 0x01}, leb(300)))),
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0)))),
			info: Info{HasMemory: true},
		},
		{
			name: "a cap above 4 GiB is 4 GiB",
			in:   wasmModule(sec(secMemory, vec([]byte{0x00, 0x01}))),
			opts: Options{MaxMemoryPages: 1 << 20},
			want: wasmModule(ours, sec(secMemory, vec(cat([]byte{0x01, 0x01}, leb(65536)))),
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0)))),
			info: Info{HasMemory: true},
		},
		{
			name: "no cap leaves memory as declared, even a padded LEB",
			in:   wasmModule(sec(secMemory, vec([]byte{0x00, 0x82, 0x80, 0x00}))),
			want: wasmModule(ours, sec(secMemory, vec([]byte{0x00, 0x82, 0x80, 0x00})),
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0)))),
			info: Info{HasMemory: true},
		},
		{
			name: "imported memory without a cap is accepted",
			in:   wasmModule(sec(secImport, vec(cat(str("env"), str("memory"), []byte{0x02, 0x00, 0x01})))),
			want: wasmModule(sec(secType, vec(ourType)), sec(secImport, vec(cat(str("env"), str("memory"), []byte{0x02, 0x00, 0x01}), ourImport(0))),
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0)))),
			info: Info{Imports: []Import{{"env", "memory", KindMemory}}, HasMemory: true},
		},
		{
			name: "sections after export keep their order; function indices shift",
			// start, element, data count, code, data
			in: wasmModule(typeVoid, oneFunc, sec(secTable, vec([]byte{0x70, 0x00, 0x01})),
				sec(secMemory, vec([]byte{0x00, 0x01})),
				sec(secStart, leb(0)),
				sec(secElement, vec([]byte{0x00, 0x41, 0x00, 0x0b, 0x01, 0x00})),
				sec(secDataCount, leb(1)),
				emptyBody,
				sec(secData, vec(cat([]byte{0x01}, str("hi"))))),
			want: wasmModule(voidOurs, oneFunc, sec(secTable, vec([]byte{0x70, 0x00, 0x01})),
				sec(secMemory, vec([]byte{0x00, 0x01})),
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0))),
				sec(secStart, leb(1)), // function 0 is now 1
				sec(secElement, vec([]byte{0x00, 0x41, 0x00, 0x0b, 0x01, 0x01})),
				sec(secDataCount, leb(1)),
				sec(secCode, vec(body(cat(check(0, 0), []byte{0x0b})...))),
				sec(secData, vec(cat([]byte{0x01}, str("hi"))))),
			info: Info{HasMemory: true},
		},
		{
			name: "a body growing past 127 bytes gets a longer size",
			// 60 nested loops: 60*7 more bytes
			in: wasmModule(typeVoid, oneFunc, sec(secCode, vec(body(cat(bytes.Repeat([]byte{0x03, 0x40}, 60), bytes.Repeat([]byte{0x0b}, 61))...)))),
			want: wasmModule(voidOurs, oneFunc,
				sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0))),
				sec(secCode, vec(body(cat(check(0, 0), bytes.Repeat(cat([]byte{0x03, 0x40}, check(0, 0)), 60), bytes.Repeat([]byte{0x0b}, 61))...)))),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, info, err := Instrument(tt.in, tt.opts)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("output\n got % x\nwant % x", got, tt.want)
			}
			if tt.info.Exports == nil {
				tt.info.Exports = info.Exports // nil and empty are the same here
			}
			if tt.info.Imports == nil && len(info.Imports) == 0 {
				tt.info.Imports = info.Imports
			}
			if len(info.Exports) == 0 {
				info.Exports, tt.info.Exports = nil, nil
			}
			if !reflect.DeepEqual(info, tt.info) {
				t.Errorf("info = %+v, want %+v", info, tt.info)
			}
		})
	}
}

// TestInstrumentInstructions checks that the decoder skips each
// instruction's immediates exactly: a loop placed after the instruction
// must get its check, and the body must end where its size says.
func TestInstrumentInstructions(t *testing.T) {
	tests := []struct {
		name string
		code []byte // instructions; must leave the stack as it found it
		out  []byte // code as instrumented, if not the same
	}{
		{"nop", []byte{0x01}, nil},
		{"block with value type", []byte{0x02, 0x7f, 0x41, 0x00, 0x0b, 0x1a}, nil},
		{"block with type index", []byte{0x02, 0x00, 0x0b}, nil},
		{"if else", []byte{0x41, 0x01, 0x04, 0x40, 0x01, 0x05, 0x01, 0x0b}, nil},
		{"br_table", []byte{0x02, 0x40, 0x41, 0x00, 0x0e, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0b}, nil},
		{"br_table with padded labels", []byte{0x02, 0x40, 0x41, 0x00, 0x0e, 0x01, 0x80, 0x00, 0x80, 0x80, 0x00, 0x0b}, nil},
		{"i32.const 5-byte", []byte{0x41, 0xff, 0xff, 0xff, 0xff, 0x07, 0x1a}, nil},
		{"i32.const negative", []byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x1a}, nil},
		{"i64.const 10-byte", []byte{0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x1a}, nil},
		{"f32.const", []byte{0x43, 0x0b, 0x0b, 0x0b, 0x0b, 0x1a}, nil},
		{"f64.const", []byte{0x44, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x1a}, nil},
		{"load with offset", []byte{0x41, 0x00, 0x28, 0x02, 0x80, 0x01, 0x1a}, nil},
		{"load with memory index", []byte{0x41, 0x00, 0x28, 0x42, 0x00, 0x04, 0x1a}, nil},
		{"memory.size and grow", []byte{0x3f, 0x00, 0x40, 0x00, 0x1a}, nil},
		{"typed select", []byte{0x41, 0x01, 0x41, 0x02, 0x41, 0x00, 0x1c, 0x01, 0x7f, 0x1a}, nil},
		{"ref.null ref.is_null", []byte{0xd0, 0x70, 0xd1, 0x1a}, nil},
		{"ref.func", []byte{0xd2, 0x00, 0x1a}, []byte{0xd2, 0x01, 0x1a}},
		{"sign extension", []byte{0x41, 0x00, 0xc0, 0x1a}, nil},
		{"trunc_sat", []byte{0x43, 0, 0, 0, 0, 0xfc, 0x00, 0x1a}, nil},
		{"memory.copy", []byte{0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0a, 0x00, 0x00}, nil},
		{"memory.fill", []byte{0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00}, nil},
		{"table.size", []byte{0xfc, 0x10, 0x00, 0x1a}, nil},
		{"v128.const", cat([]byte{0xfd, 0x0c}, bytes.Repeat([]byte{0x0b}, 16), []byte{0x1a}), nil},
		{"i8x16.shuffle", cat([]byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x0d}, bytes.Repeat([]byte{0x03}, 16), []byte{0x1a}), nil},
		{"v128.load", []byte{0x41, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x1a}, nil},
		{"extract_lane", cat([]byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x15, 0x0f, 0x1a}), nil},
		{"load_lane", cat([]byte{0x41, 0x00, 0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0x54, 0x00, 0x00, 0x03, 0x1a}), nil},
		{"SIMD opcode above 127", cat([]byte{0xfd, 0x0c}, make([]byte, 16), []byte{0xfd, 0xe0, 0x01, 0x1a}), nil},
		{"atomic fence", []byte{0xfe, 0x03, 0x00}, nil},
		{"atomic load", []byte{0x41, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x1a}, nil},
		{"return_call", []byte{0x12, 0x00}, []byte{0x12, 0x01}},
		{"call", []byte{0x10, 0x00}, []byte{0x10, 0x01}},
		{"call with a padded index", []byte{0x10, 0x80, 0x00}, []byte{0x10, 0x01}},
		{"call_indirect", []byte{0x41, 0x00, 0x11, 0x00, 0x00}, nil},
		{"try catch_all", []byte{0x06, 0x40, 0x01, 0x19, 0x01, 0x0b}, nil},
		{"try delegate", []byte{0x06, 0x40, 0x01, 0x18, 0x00}, nil},
		{"try_table", []byte{0x1f, 0x40, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0b}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// (func <code> (loop) end)
			code := cat(tt.code, []byte{0x03, 0x40, 0x0b, 0x0b})
			in := wasmModule(typeVoid, oneFunc, sec(secCode, vec(body(code...))))
			got, _, err := Instrument(in, Options{})
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			out := tt.code
			if tt.out != nil {
				out = tt.out
			}
			wantCode := cat(check(0, 0), out, []byte{0x03, 0x40}, check(0, 0), []byte{0x0b, 0x0b})
			want := wasmModule(voidOurs, oneFunc, sec(secGlobal, vec(ourGlobal)), sec(secExport, vec(ourExport(0))),
				sec(secCode, vec(body(wantCode...))))
			if !bytes.Equal(got, want) {
				t.Errorf("output\n got % x\nwant % x", got, want)
			}
		})
	}
}

func TestInstrumentRejects(t *testing.T) {
	code := func(c ...byte) []byte { return wasmModule(typeVoid, oneFunc, sec(secCode, vec(body(c...)))) }
	tests := []struct {
		name string
		in   []byte
		opts Options
		want string // in the error message
	}{
		{"empty input", nil, Options{}, "not a WebAssembly binary"},
		{"import from the reserved module", wasmModule(typeVoid, sec(secImport, vec(cat(str(InterruptModule), str(InterruptFunc), []byte{0x00, 0x00})))), Options{}, `imports from the reserved module "__pier"`},
		{"call out of range", code(0x10, 0x01, 0x0b), Options{}, "function index 1 out of range"},
		// Index 0 would be the interrupt global in the output: a guest
		// writing it could clear the timer's firings and never stop.
		{"global.set of the interrupt global's index", code(0x41, 0x00, 0x24, 0x00, 0x0b), Options{}, "global index 0 out of range"},
		{"global.get out of range", code(0x23, 0x00, 0x1a, 0x0b), Options{}, "global index 0 out of range"},
		{"global.set past the module's globals", wasmModule(typeVoid, oneFunc, sec(secGlobal, vec([]byte{0x7f, 0x01, 0x41, 0x00, 0x0b})), sec(secCode, vec(body(0x41, 0x00, 0x24, 0x01, 0x0b)))), Options{}, "global index 1 out of range"},
		{"export of a global out of range", wasmModule(sec(secExport, vec(cat(str("g"), []byte{0x03, 0x00})))), Options{}, "global index 0 out of range"},
		{"ref.func out of range", code(0xd2, 0x07, 0x1a, 0x0b), Options{}, "function index 7 out of range"},
		{"export of a function out of range", wasmModule(typeVoid, oneFunc, sec(secExport, vec(cat(str("f"), []byte{0x00, 0x02}))), emptyBody), Options{}, "function index 2 out of range"},
		{"start function out of range", wasmModule(typeVoid, oneFunc, sec(secStart, leb(1)), emptyBody), Options{}, "function index 1 out of range"},
		{"element out of range", wasmModule(typeVoid, oneFunc, sec(secTable, vec([]byte{0x70, 0x00, 0x01})), sec(secElement, vec([]byte{0x00, 0x41, 0x00, 0x0b, 0x01, 0x03})), emptyBody), Options{}, "function index 3 out of range"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), Options{}, "not a WebAssembly binary"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), Options{}, "unsupported binary version"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), Options{}, "components are not supported"},
		{"truncated section header", append(wasmModule(), 0x01), Options{}, "truncated LEB128"},
		{"section larger than input", append(wasmModule(), 0x01, 0x05, 0x00), Options{}, "exceeds the remaining"},
		{"unknown section", wasmModule(sec(14)), Options{}, "unknown section id 14"},
		{"sections out of order", wasmModule(sec(secMemory, vec([]byte{0x00, 0x01})), typeVoid), Options{}, "out of order"},
		{"repeated section", wasmModule(typeVoid, typeVoid), Options{}, "out of order or repeated"},
		{"trailing bytes in a section", wasmModule(sec(secType, vec([]byte{0x60, 0x00, 0x00}), []byte{0x00})), Options{}, "after its contents"},
		{"huge vector length", wasmModule(sec(secType, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})), Options{}, "vector length 4294967295 exceeds"},
		{"u32 overflow", wasmModule(sec(secType, []byte{0xff, 0xff, 0xff, 0xff, 0x1f})), Options{}, "overflows"},
		{"u32 too long", wasmModule(sec(secType, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00})), Options{}, "overflows"},
		{"gc type", wasmModule(sec(secType, vec([]byte{0x5f, 0x00, 0x00}))), Options{}, "unsupported type form 0x5f"},
		{"invalid value type", wasmModule(sec(secType, vec([]byte{0x60, 0x01, 0x40, 0x00}))), Options{}, "unsupported value type 0x40"},
		{"bad custom section name", wasmModule(sec(secCustom, []byte{0x05, 'a'})), Options{}, "vector length 5"},
		{"custom section name not UTF-8", wasmModule(sec(secCustom, []byte{0x01, 0xff})), Options{}, "not valid UTF-8"},
		{"functions without code", wasmModule(typeVoid, oneFunc), Options{}, "code section is missing"},
		{"more bodies than functions", wasmModule(typeVoid, oneFunc, sec(secCode, vec(body(0x0b), body(0x0b)))), Options{}, "2 function bodies for 1"},
		{"type index out of range", wasmModule(typeVoid, sec(secFunction, vec([]byte{0x01})), emptyBody), Options{}, "type index 1 out of range"},
		{"unknown opcode", code(0xff, 0x0b), Options{}, "unknown opcode 0xff"},
		{"call_ref", code(0x14, 0x00, 0x0b), Options{}, "unknown opcode 0x14"},
		{"unknown 0xfc opcode", code(0xfc, 0x12, 0x0b), Options{}, "unknown opcode 0xfc 18"},
		{"unassigned SIMD opcode", code(0xfd, 0x9a, 0x01, 0x0b), Options{}, "unknown opcode 0xfd 154"},
		{"relaxed SIMD opcode", code(0xfd, 0x80, 0x02, 0x0b), Options{}, "unknown opcode 0xfd 256"},
		{"unknown atomic opcode", code(0xfe, 0x04, 0x0b), Options{}, "unknown opcode 0xfe 4"},
		{"s32 overflow", code(0x41, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0b), Options{}, "LEB128 s32 overflows"},
		{"s64 too long", code(0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b), Options{}, "LEB128 s64"},
		{"truncated f64.const", code(0x44, 0x00, 0x0b), Options{}, "unexpected end"},
		{"block type index out of range", code(0x02, 0x05, 0x0b, 0x0b), Options{}, "invalid block type 5"},
		{"body without end", code(0x01), Options{}, "expression has no end"},
		{"body continues after end", code(0x0b, 0x01), Options{}, "continues after its end"},
		{"delegate outside try", code(0x18, 0x00, 0x0b), Options{}, "delegate outside a try block"},
		{"bad alignment flags", code(0x41, 0x00, 0x28, 0x80, 0x01, 0x00, 0x1a, 0x0b), Options{}, "alignment flags"},
		{"bad catch clause", code(0x1f, 0x40, 0x01, 0x04, 0x00, 0x0b, 0x0b), Options{}, "invalid catch clause"},
		{"too many locals", wasmModule(typeVoid, oneFunc, sec(secCode, vec(cat(leb(10), []byte{0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x01, 0x7f, 0x0b})))), Options{}, "too many locals"},
		{"memory minimum above the cap", wasmModule(sec(secMemory, vec([]byte{0x00, 0x05}))), Options{MaxMemoryPages: 4}, "minimum of 5 pages exceeds the cap of 4"},
		{"memory minimum above maximum", wasmModule(sec(secMemory, vec([]byte{0x01, 0x05, 0x04}))), Options{}, "exceeds its maximum"},
		{"memory above 4 GiB", wasmModule(sec(secMemory, vec(cat([]byte{0x00}, leb(65537))))), Options{}, "exceed 65536 pages"},
		{"memory64", wasmModule(sec(secMemory, vec([]byte{0x04, 0x01}))), Options{}, "memory64"},
		{"shared memory without maximum", wasmModule(sec(secMemory, vec([]byte{0x02, 0x01}))), Options{}, "shared memory without a maximum"},
		{"imported memory with a cap", wasmModule(sec(secImport, vec(cat(str("env"), str("memory"), []byte{0x02, 0x00, 0x01})))), Options{MaxMemoryPages: 10}, "imported memories cannot be capped"},
		{"unknown import kind", wasmModule(sec(secImport, vec(cat(str("env"), str("x"), []byte{0x05, 0x00})))), Options{}, "unknown import kind 5"},
		{"unknown export kind", wasmModule(sec(secExport, vec(cat(str("x"), []byte{0x05, 0x00})))), Options{}, "unknown export kind 5"},
		{"bad global mutability", wasmModule(sec(secGlobal, vec([]byte{0x7f, 0x02, 0x41, 0x00, 0x0b}))), Options{}, "mutability"},
		{"bad element flags", wasmModule(sec(secElement, vec([]byte{0x08, 0x00, 0x00}))), Options{}, "element segment flags 8"},
		{"bad data flags", wasmModule(sec(secData, vec([]byte{0x03, 0x00}))), Options{}, "data segment flags 3"},
		{"data longer than section", wasmModule(sec(secData, vec([]byte{0x01, 0x05, 'a'}))), Options{}, "vector length 5"},
		{"bad table flags", wasmModule(sec(secTable, vec([]byte{0x70, 0x04, 0x00}))), Options{}, "table limits flags"},
		{"bad tag attribute", wasmModule(typeVoid, sec(secTag, vec([]byte{0x01, 0x00}))), Options{}, "tag attribute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := Instrument(tt.in, tt.opts)
			if err == nil {
				t.Fatalf("Instrument succeeded: % x", out)
			}
			if !errors.Is(err, ErrInvalidModule) {
				t.Errorf("error %v does not wrap ErrInvalidModule", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestInstrumentErrorNamesOffset(t *testing.T) {
	in := wasmModule(typeVoid, oneFunc, sec(secCode, vec(body(0x01, 0xff, 0x0b))))
	_, _, err := Instrument(in, Options{})
	off := bytes.LastIndexByte(in, 0xff)
	if want := "unknown opcode 0xff at offset " + strconv.Itoa(off); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
}

func TestLEB128(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		bits uint // 0: u32
		want int64
		err  bool
	}{
		{"u32 zero", []byte{0x00}, 0, 0, false},
		{"u32 padded zero", []byte{0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, false},
		{"u32 max", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0, 0xffffffff, false},
		{"u32 overflow", []byte{0xff, 0xff, 0xff, 0xff, 0x10}, 0, 0, true},
		{"u32 truncated", []byte{0x80}, 0, 0, true},
		{"s32 -1", []byte{0x7f}, 32, -1, false},
		{"s32 min", []byte{0x80, 0x80, 0x80, 0x80, 0x78}, 32, -1 << 31, false},
		{"s32 max", []byte{0xff, 0xff, 0xff, 0xff, 0x07}, 32, 1<<31 - 1, false},
		{"s32 overflow positive", []byte{0xff, 0xff, 0xff, 0xff, 0x08}, 32, 0, true},
		{"s32 overflow negative", []byte{0x80, 0x80, 0x80, 0x80, 0x70}, 32, 0, true},
		{"s33 max", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 33, 1<<32 - 1, false},
		{"s33 min", []byte{0x80, 0x80, 0x80, 0x80, 0x70}, 33, -1 << 32, false},
		{"s33 overflow", []byte{0x80, 0x80, 0x80, 0x80, 0x10}, 33, 0, true},
		{"s64 min", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 64, -1 << 63, false},
		{"s64 max", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 64, 1<<63 - 1, false},
		{"s64 overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 64, 0, true},
		{"s64 too long", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 64, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &reader{b: tt.in, end: len(tt.in)}
			var got int64
			var err error
			if tt.bits == 0 {
				var v uint32
				v, err = r.u32()
				got = int64(v)
			} else {
				got, err = r.signed(tt.bits)
			}
			if tt.err {
				if err == nil {
					t.Fatalf("decoded %d, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want || r.pos != len(tt.in) {
				t.Fatalf("got %d, pos %d, err %v; want %d, pos %d", got, r.pos, err, tt.want, len(tt.in))
			}
			if tt.bits == 0 {
				if enc := appendU32(nil, uint32(got)); len(enc) != sizeU32(uint32(got)) {
					t.Errorf("sizeU32 = %d, encoding has %d bytes", sizeU32(uint32(got)), len(enc))
				}
			}
		})
	}
}

// testdataModules returns every .wasm under testdata.
func testdataModules(t testing.TB) map[string][]byte {
	files, err := filepath.Glob("testdata/*.wasm")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata modules: %v", err)
	}
	mods := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mods[filepath.Base(f)] = b
	}
	return mods
}

// TestInstrumentTwice checks that the output is deterministic and that an
// instrumented module is not a valid input: it imports from the reserved
// module, which a tenant's module may not do.
func TestInstrumentTwice(t *testing.T) {
	for name, in := range testdataModules(t) {
		t.Run(name, func(t *testing.T) {
			once, _, err := Instrument(in, Options{MaxMemoryPages: 16})
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			again, _, err := Instrument(in, Options{MaxMemoryPages: 16})
			if err != nil || !bytes.Equal(once, again) {
				t.Fatalf("second run differs (err %v)", err)
			}
			if n := bytes.Count(once, []byte(InterruptExport)); n != 1 {
				t.Errorf("%d exports named %s, want 1", n, InterruptExport)
			}
			_, _, err = Instrument(once, Options{MaxMemoryPages: 16})
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "reserved module") {
				t.Errorf("Instrument(instrumented) = %v, want the reserved module refused", err)
			}
		})
	}
}
