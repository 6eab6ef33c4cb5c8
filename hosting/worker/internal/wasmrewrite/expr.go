package wasmrewrite

// imm says what follows a single-byte opcode.
type imm uint8

const (
	immInvalid  imm = iota // not an opcode this decoder accepts
	immNone                // no immediates
	immBlock               // block type; opens a block (block, if, try)
	immLoop                // block type; opens a loop
	immEnd                 // closes a block or the expression
	immDelegate            // label index; closes a legacy try block
	immU32                 // one u32 (index, label, lane-less memory index…)
	immU32x2               // two u32 (call_indirect, return_call_indirect)
	immBrTable             // vector of labels and a default
	immMemarg              // memory argument
	immI32                 // s32
	immI64                 // s64
	immF32                 // 4 bytes
	immF64                 // 8 bytes
	immSelectT             // vector of value types
	immRefNull             // heap type
	immTryTable            // block type and a vector of catch clauses
	immPrefixFC            // 0xFC sub-opcode
	immPrefixFD            // 0xFD (SIMD) sub-opcode
	immPrefixFE            // 0xFE (threads) sub-opcode
)

// Opcodes whose immediate is a function index.
const (
	opCall       = 0x10
	opReturnCall = 0x12
	opRefFunc    = 0xd2
)

// Opcodes whose immediate is a global index.
const (
	opGlobalGet = 0x23
	opGlobalSet = 0x24
)

// opImm maps every single-byte opcode to its immediates.
var opImm = func() (t [256]imm) {
	set := func(lo, hi int, k imm) {
		for op := lo; op <= hi; op++ {
			t[op] = k
		}
	}
	set(0x00, 0x01, immNone)     // unreachable, nop
	set(0x02, 0x02, immBlock)    // block
	set(0x03, 0x03, immLoop)     // loop
	set(0x04, 0x04, immBlock)    // if
	set(0x05, 0x05, immNone)     // else
	set(0x06, 0x06, immBlock)    // try (legacy exception handling)
	set(0x07, 0x09, immU32)      // catch tag, throw tag, rethrow label
	set(0x0a, 0x0a, immNone)     // throw_ref
	set(0x0b, 0x0b, immEnd)      // end
	set(0x0c, 0x0d, immU32)      // br, br_if
	set(0x0e, 0x0e, immBrTable)  // br_table
	set(0x0f, 0x0f, immNone)     // return
	set(0x10, 0x10, immU32)      // call
	set(0x11, 0x11, immU32x2)    // call_indirect type table
	set(0x12, 0x12, immU32)      // return_call
	set(0x13, 0x13, immU32x2)    // return_call_indirect type table
	set(0x18, 0x18, immDelegate) // delegate (legacy exception handling)
	set(0x19, 0x19, immNone)     // catch_all (legacy exception handling)
	set(0x1a, 0x1b, immNone)     // drop, select
	set(0x1c, 0x1c, immSelectT)  // select t*
	set(0x1f, 0x1f, immTryTable) // try_table
	set(0x20, 0x24, immU32)      // local.get/set/tee, global.get/set
	set(0x25, 0x26, immU32)      // table.get, table.set
	set(0x28, 0x3e, immMemarg)   // loads and stores
	set(0x3f, 0x40, immU32)      // memory.size, memory.grow (memory index)
	set(0x41, 0x41, immI32)      // i32.const
	set(0x42, 0x42, immI64)      // i64.const
	set(0x43, 0x43, immF32)      // f32.const
	set(0x44, 0x44, immF64)      // f64.const
	set(0x45, 0xc4, immNone)     // numeric operators, sign extension
	set(0xd0, 0xd0, immRefNull)  // ref.null
	set(0xd1, 0xd1, immNone)     // ref.is_null
	set(0xd2, 0xd2, immU32)      // ref.func
	set(0xfc, 0xfc, immPrefixFC)
	set(0xfd, 0xfd, immPrefixFD)
	set(0xfe, 0xfe, immPrefixFE)
	return t
}()

// simdUnassigned marks the SIMD sub-opcodes below 0x100 that the final SIMD
// proposal leaves unassigned.
var simdUnassigned = func() (t [256]bool) {
	for _, op := range []int{0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee} {
		t[op] = true
	}
	return t
}()

// isValType reports whether c encodes a value type this decoder accepts
// (numeric, v128, funcref, externref, exnref).
func isValType(c byte) bool {
	switch c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		return true
	}
	return false
}

// expr decodes one expression from r.pos up to and including the `end` that
// closes it, skipping every immediate exactly. When loops is true it
// appends to m.loops the offset just after each loop's block type: where
// the body of the loop starts. Function indices (call, return_call,
// ref.func) are checked and recorded by funcRef.
func (m *module) expr(r *reader, loops bool) error {
	numTypes := m.numTypes
	depth := 1
	for {
		if r.pos >= r.end {
			return r.errf("expression has no end")
		}
		start := r.pos
		op := r.b[r.pos]
		r.pos++
		var err error
		switch opImm[op] {
		case immNone:
		case immEnd:
			depth--
			if depth == 0 {
				return nil
			}
		case immBlock:
			err = blockType(r, numTypes)
			depth++
		case immLoop:
			if err = blockType(r, numTypes); err == nil && loops {
				m.loops = append(m.loops, r.pos)
			}
			depth++
		case immDelegate:
			if depth == 1 {
				return errAt(start, "delegate outside a try block")
			}
			_, err = r.u32()
			depth--
		case immU32:
			switch op {
			case opCall, opReturnCall, opRefFunc:
				err = m.funcRef(r)
			case opGlobalGet, opGlobalSet:
				err = m.globalRef(r)
			default:
				_, err = r.u32()
			}
		case immU32x2:
			if _, err = r.u32(); err == nil {
				_, err = r.u32()
			}
		case immBrTable:
			var n int
			if n, err = r.count(1); err == nil {
				for i := 0; i <= n && err == nil; i++ { // n labels and the default
					_, err = r.u32()
				}
			}
		case immMemarg:
			err = memarg(r)
		case immI32:
			_, err = r.signed(32)
		case immI64:
			_, err = r.signed(64)
		case immF32:
			err = r.skip(4)
		case immF64:
			err = r.skip(8)
		case immSelectT:
			var n int
			if n, err = r.count(1); err == nil {
				for i := 0; i < n && err == nil; i++ {
					err = valType(r)
				}
			}
		case immRefNull:
			var c byte
			if c, err = r.byte(); err == nil && c != 0x70 && c != 0x6f && c != 0x69 {
				err = errAt(start, "unsupported heap type 0x%02x", c)
			}
		case immTryTable:
			if err = blockType(r, numTypes); err == nil {
				err = catchClauses(r)
			}
			depth++
		case immPrefixFC:
			err = prefixFC(r, start)
		case immPrefixFD:
			err = prefixFD(r, start)
		case immPrefixFE:
			err = prefixFE(r, start)
		default:
			return errAt(start, "unknown opcode 0x%02x", op)
		}
		if err != nil {
			return err
		}
	}
}

// blockType skips a block type: empty (0x40), one value type, or a type
// index encoded as a non-negative s33.
func blockType(r *reader, numTypes uint32) error {
	if r.pos >= r.end {
		return r.errf("unexpected end")
	}
	if c := r.b[r.pos]; c == 0x40 || isValType(c) {
		r.pos++
		return nil
	}
	start := r.pos
	v, err := r.signed(33)
	if err != nil {
		return err
	}
	if v < 0 || v >= int64(numTypes) {
		return errAt(start, "invalid block type %d", v)
	}
	return nil
}

func valType(r *reader) error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	if !isValType(c) {
		return errAt(r.pos-1, "unsupported value type 0x%02x", c)
	}
	return nil
}

// memarg skips a memory argument: alignment flags, a memory index when bit
// 6 of the flags is set (multi-memory), and an offset.
func memarg(r *reader) error {
	start := r.pos
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags&0x40 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
		flags &^= 0x40
	}
	if flags >= 0x40 {
		return errAt(start, "invalid memory alignment flags 0x%x", flags)
	}
	_, err = r.u32()
	return err
}

// catchClauses skips try_table's vector of catch clauses.
func catchClauses(r *reader) error {
	n, err := r.count(2)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00, 0x01: // catch, catch_ref: tag and label
			if _, err := r.u32(); err != nil {
				return err
			}
		case 0x02, 0x03: // catch_all, catch_all_ref: label
		default:
			return errAt(r.pos-1, "invalid catch clause kind 0x%02x", kind)
		}
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// prefixFC skips the 0xFC instructions: saturating truncation (0–7), bulk
// memory (8–11) and table operations (12–17).
func prefixFC(r *reader, start int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	var n int // u32 immediates
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // trunc_sat
	case 9, 11, 13, 15, 16, 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		n = 1
	case 8, 10, 12, 14: // memory.init, memory.copy, table.init, table.copy
		n = 2
	default:
		return errAt(start, "unknown opcode 0xfc %d", sub)
	}
	for ; n > 0; n-- {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// prefixFD skips the 0xFD (SIMD) instructions.
func prefixFD(r *reader, start int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads, store, load_zero
		return memarg(r)
	case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
		return r.skip(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		return r.skip(1)
	case sub >= 0x54 && sub <= 0x5b: // load_lane, store_lane
		if err := memarg(r); err != nil {
			return err
		}
		return r.skip(1)
	case sub <= 0xff && !simdUnassigned[sub]:
		return nil
	}
	return errAt(start, "unknown opcode 0xfd %d", sub)
}

// prefixFE skips the 0xFE (threads) instructions.
func prefixFE(r *reader, start int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub == 0x03: // atomic.fence
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c != 0 {
			return errAt(r.pos-1, "atomic.fence flags must be zero")
		}
		return nil
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4e:
		return memarg(r)
	}
	return errAt(start, "unknown opcode 0xfe %d", sub)
}
