package wasmrewrite

import (
	"fmt"
	"unicode/utf8"
)

// reader decodes the wasm binary format from b[pos:end]. Offsets in errors
// are offsets into the whole module, so a tenant can find the faulty byte.
type reader struct {
	b   []byte
	pos int
	end int
}

// errAt returns an error wrapping ErrInvalidModule that names offset off.
func errAt(off int, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidModule, fmt.Sprintf(format, args...), off)
}

func (r *reader) errf(format string, args ...any) error {
	return errAt(r.pos, format, args...)
}

func (r *reader) remaining() int { return r.end - r.pos }

func (r *reader) byte() (byte, error) {
	if r.pos >= r.end {
		return 0, r.errf("unexpected end")
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) skip(n int) error {
	if n < 0 || n > r.remaining() {
		return r.errf("unexpected end")
	}
	r.pos += n
	return nil
}

// u32 reads an unsigned LEB128 of at most 5 bytes whose value fits 32 bits.
func (r *reader) u32() (uint32, error) {
	if r.pos < r.end && r.b[r.pos] < 0x80 { // one byte: the common case
		v := r.b[r.pos]
		r.pos++
		return uint32(v), nil
	}
	start := r.pos
	var v uint32
	for i := uint(0); i < 5; i++ {
		if r.pos >= r.end {
			return 0, errAt(start, "truncated LEB128")
		}
		c := r.b[r.pos]
		r.pos++
		if i == 4 && c&0xf0 != 0 {
			return 0, errAt(start, "LEB128 u32 overflows")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errAt(start, "LEB128 u32 overflows") // not reached: the fifth byte returns
}

// count reads a vector length and checks that the vector, whose elements
// take at least minSize bytes each, fits in what is left, so that no caller
// sizes anything by a length the input cannot back.
func (r *reader) count(minSize int) (int, error) {
	start := r.pos
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(r.remaining()) {
		return 0, errAt(start, "vector length %d exceeds the remaining %d bytes", n, r.remaining())
	}
	return int(n), nil
}

// signed reads a signed LEB128 of a bits-wide integer (s32, s33, s64): at
// most ceil(bits/7) bytes, and in a final byte of that length the bits
// above the value's must all equal its sign bit. The value is exact for
// every width up to 64.
func (r *reader) signed(bits uint) (int64, error) {
	start := r.pos
	maxBytes := (bits + 6) / 7
	var v int64
	for i := uint(0); i < maxBytes; i++ {
		if r.pos >= r.end {
			return 0, errAt(start, "truncated LEB128")
		}
		c := r.b[r.pos]
		r.pos++
		v |= int64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i == maxBytes-1 {
				// Bits of the last byte beyond the value, including its sign bit.
				used := bits - 7*i // value bits this byte carries
				if used < 7 {
					top := c >> (used - 1) // the sign bit and the unused bits
					if top != 0 && top != 0x7f>>(used-1) {
						return 0, errAt(start, "LEB128 s%d overflows", bits)
					}
				}
			}
			if shift := 7 * (i + 1); shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, errAt(start, "LEB128 s%d too long", bits)
}

// name reads a length-prefixed UTF-8 string.
func (r *reader) name() (string, error) {
	start := r.pos
	n, err := r.count(1)
	if err != nil {
		return "", err
	}
	s := r.b[r.pos : r.pos+n]
	if !utf8.Valid(s) {
		return "", errAt(start, "name is not valid UTF-8")
	}
	r.pos += n
	return string(s), nil
}

// appendU32 appends v as a minimal unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// sizeU32 is the length of v as a minimal unsigned LEB128.
func sizeU32(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
