package tenants

import (
	"fmt"
	"unicode/utf8"
)

// Helpers the stores share to implement KVStore the same way.

// CursorKVKeys is the kind of KVList's cursors.
const CursorKVKeys CursorKind = 'v'

// MaxKVBatch bounds the entries of one KVPutMany (the API's bulk put).
const MaxKVBatch = 10_000

// Validate checks what a Store requires of a new KV namespace: an ID
// without "/" (KVChangeKey joins it to keys), a tenant and a valid name.
func (n KVNamespace) Validate() error {
	if err := validateID("kv namespace", n.ID); err != nil {
		return err
	}
	for i := 0; i < len(n.ID); i++ {
		if n.ID[i] == '/' {
			return fmt.Errorf("%w: kv namespace id %q must not contain '/'", ErrInvalid, n.ID)
		}
	}
	if err := validateID("tenant", n.TenantID); err != nil {
		return err
	}
	return ValidateName("kv namespace", n.Name)
}

// Validate checks an entry a Store writes: its key must be valid
// (ValidKVKey).
func (e KVEntry) Validate() error {
	return ValidKVKey(e.Key)
}

// KVPrefixEnd returns the least string greater than every string that
// starts with prefix, for a key range [prefix, end) on a bytewise
// ordering (UTF-8's byte order is code point order); ok is false when
// there is none (prefix is empty or made of U+10FFFF only).
func KVPrefixEnd(prefix string) (end string, ok bool) {
	for p := prefix; p != ""; {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r == utf8.RuneError && size <= 1 || r == utf8.MaxRune {
			continue
		}
		r++
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not runes of UTF-8
			r = 0xE000
		}
		return p + string(r), true
	}
	return "", false
}
