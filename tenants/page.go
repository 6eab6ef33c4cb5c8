package tenants

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// Page sizes of the paginated listings.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// ErrInvalidCursor is returned (wrapped) by the paginated listings of a
// Store for a cursor they did not issue for that listing: garbage,
// tampered with, or from another listing. It wraps ErrInvalid.
var ErrInvalidCursor = fmt.Errorf("%w: malformed or foreign cursor", ErrInvalid)

// PageRequest asks a paginated listing for one page.
type PageRequest struct {
	Limit  int    // rows wanted; <= 0 is DefaultPageLimit, more than MaxPageLimit is MaxPageLimit
	Cursor string // the previous page's next cursor; "" for the first page
}

// Size is the number of rows the request asks for, within bounds.
func (p PageRequest) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// LikeEscape escapes the LIKE wildcards % and _ of s, and the escape
// character \ itself, for a pattern written with ESCAPE '\', so that s
// matches literally.
func LikeEscape(s string) string {
	return likeEscaper.Replace(s)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// CursorKind names the listing a cursor belongs to, so a cursor of one
// listing is refused by another.
type CursorKind byte

// Kinds of cursors.
const (
	CursorTenants     CursorKind = 't'
	CursorSites       CursorKind = 's'
	CursorDeployments CursorKind = 'd'
	CursorDomains     CursorKind = 'h'
	CursorTokens      CursorKind = 'k'
)

// Cursor is the keyset position after the last row of a page: the sort
// key of that row. Listings ordered by a unique name set Key; listings
// ordered by creation set Time (the creation time in the store's own
// unit: Unix milliseconds for SQLite, microseconds for PostgreSQL) and
// Seq (the store's insertion order, which breaks ties). Keys are immutable, so a cursor
// stays valid while rows are added or deleted.
type Cursor struct {
	Kind CursorKind
	Key  string
	Time int64
	Seq  int64
}

const (
	cursorVersion = 1
	maxCursorKey  = 512
)

// Encode returns the cursor as an opaque URL-safe string: base64url of
// version, kind, the key fields and a CRC-32 of them, so garbage and
// accidental damage are detected.
func (c Cursor) Encode() string {
	b := []byte{cursorVersion, byte(c.Kind)}
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	b = binary.AppendVarint(b, c.Time)
	b = binary.AppendVarint(b, c.Seq)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor Encode returned for a listing of kind.
// Errors wrap ErrInvalidCursor.
func DecodeCursor(kind CursorKind, s string) (Cursor, error) {
	c, err := decodeCursor(kind, s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: %v", ErrInvalidCursor, err)
	}
	return c, nil
}

func decodeCursor(kind CursorKind, s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errors.New("not base64url")
	}
	if len(b) < 2+4 {
		return Cursor{}, errors.New("too short")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return Cursor{}, errors.New("checksum mismatch")
	}
	if body[0] != cursorVersion {
		return Cursor{}, fmt.Errorf("unknown version %d", body[0])
	}
	if CursorKind(body[1]) != kind {
		return Cursor{}, errors.New("cursor of another listing")
	}
	c := Cursor{Kind: kind}
	rest := body[2:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > maxCursorKey || uint64(len(rest)-k) < n {
		return Cursor{}, errors.New("bad key")
	}
	c.Key, rest = string(rest[k:k+int(n)]), rest[k+int(n):]
	var k2 int
	if c.Time, k2 = binary.Varint(rest); k2 <= 0 {
		return Cursor{}, errors.New("bad time")
	}
	rest = rest[k2:]
	if c.Seq, k2 = binary.Varint(rest); k2 <= 0 || k2 != len(rest) {
		return Cursor{}, errors.New("bad sequence")
	}
	return c, nil
}
