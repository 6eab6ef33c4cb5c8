// Package assets owns content addressing (the per-tenant salted xxhash),
// deployment manifests and their validation, pre-compressed variants, the
// Blob backend interface with its read cache. Backends live in subpackages
// named for what they wrap (fsblob, s3blob) and pass one conformance suite
// (blobtest).
//
// assets imports no other Pier package.
package assets

import (
	"encoding/hex"
	"hash"

	"github.com/cespare/xxhash/v2"
)

// HashLen is the length of a content hash in hex characters.
const HashLen = 16

// Hash returns hex(XXH64(salt ‖ content)), the content address of a file
// for the tenant owning salt.
func Hash(salt, content []byte) string {
	d := xxhash.New()
	d.Write(salt)
	d.Write(content)
	return encodeSum(d.Sum64())
}

// NewHasher returns a streaming hasher already fed with salt; Sum of the
// result formatted with FormatSum gives the same value as Hash.
func NewHasher(salt []byte) hash.Hash64 {
	d := xxhash.New()
	d.Write(salt)
	return d
}

// FormatSum formats a 64-bit digest as a content hash.
func FormatSum(sum uint64) string { return encodeSum(sum) }

func encodeSum(v uint64) string {
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return hex.EncodeToString(b[:])
}

// ValidHash reports whether h looks like a content hash (16 lowercase hex).
func ValidHash(h string) bool {
	if len(h) != HashLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
