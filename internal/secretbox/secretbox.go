// Package secretbox encrypts sites' secrets at rest: AES-256-GCM under an
// operator's keyring. The ring's first key (the primary) seals; every key
// of the ring opens, so a new primary can be added while secrets sealed
// under the old one are still read and then re-sealed (rekeyed).
//
// A sealed value is
//
//	version (1 byte, 1) ‖ key id (8 bytes) ‖ nonce (12 random bytes) ‖ GCM ciphertext and tag
//
// where the key id is the first 8 bytes of SHA-256 of the key, so Open
// knows which key to use without trying them all. The caller's context
// strings (a secret's site id and name) are GCM's additional data: a
// sealed value copied to another site or name does not open.
//
// The package reads no files: cmd/pier reads the key file and hands its
// bytes to ParseKeyring. It imports nothing of Pier's; admin and cmd/pier
// use it.
package secretbox

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

const (
	version   = 1
	idSize    = 8
	nonceSize = 12
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = 1 + idSize + nonceSize + 16
)

// Errors of Open. Neither ever carries a plaintext or a key.
var (
	// ErrUnknownKey: the value was sealed under a key not in the ring.
	ErrUnknownKey = errors.New("secretbox: sealed under a key not in the keyring")
	// ErrOpen: the value is malformed, was tampered with, or belongs to
	// another context (site or name).
	ErrOpen = errors.New("secretbox: cannot open: malformed, altered, or sealed for another site or name")
)

// key is one key of the ring with its cipher.
type key struct {
	id   [idSize]byte
	aead cipher.AEAD
}

// Keyring holds the keys: the first is the primary. It is immutable and
// safe for concurrent use.
type Keyring struct {
	keys []key // keys[0] is the primary
}

// KeyID returns the id of raw key material: hex of the first 8 bytes of
// its SHA-256.
func KeyID(raw []byte) string {
	id := keyID(raw)
	return hex.EncodeToString(id[:])
}

func keyID(raw []byte) [idSize]byte {
	sum := sha256.Sum256(raw)
	var id [idSize]byte
	copy(id[:], sum[:idSize])
	return id
}

// NewKeyring returns a ring of raw keys (each KeySize bytes), the first
// being the primary. A key given twice is an error.
func NewKeyring(raw ...[]byte) (*Keyring, error) {
	if len(raw) == 0 {
		return nil, errors.New("secretbox: a keyring needs at least one key")
	}
	r := &Keyring{}
	for i, k := range raw {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: key %d is %d bytes, want %d", i+1, len(k), KeySize)
		}
		id := keyID(k)
		for _, o := range r.keys {
			if o.id == id {
				return nil, fmt.Errorf("secretbox: key %d (id %x) is in the ring twice", i+1, id)
			}
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %d: %w", i+1, err)
		}
		r.keys = append(r.keys, key{id: id, aead: aead})
	}
	return r, nil
}

// NewKey returns a fresh random key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails (crypto/rand panics rather than return short)
	return k
}

// FormatKey is a key as a key file line: 64 hex digits and a newline.
func FormatKey(raw []byte) []byte { return []byte(hex.EncodeToString(raw) + "\n") }

// ParseKeyring reads a key file: one key per line, 64 hex digits or the
// base64 (standard or URL alphabet, padded or not) of 32 bytes; the first
// key is the primary. Blank lines and lines starting with '#' are
// skipped; anything after a key on its line is an error. Errors name the
// line and never quote it (it may be a key).
func ParseKeyring(file []byte) (*Keyring, error) {
	var raw [][]byte
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKey(line)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key file line %d: %w", n, err)
		}
		id := keyID(k)
		for i, o := range raw {
			if keyID(o) == id {
				return nil, fmt.Errorf("secretbox: key file line %d: the same key as the key on an earlier line (key %d, id %x)", n, i+1, id)
			}
		}
		raw = append(raw, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("secretbox: reading key file: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("secretbox: the key file holds no key (want one per line: 64 hex digits or base64 of 32 bytes)")
	}
	return NewKeyring(raw...)
}

// parseKey decodes one key line.
func parseKey(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t") {
		return nil, errors.New("not a key: a key line holds one key and nothing else (comments go on lines of their own, starting with #)")
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("the key is %d bytes, want %d (AES-256)", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("not a key: want 64 hex digits or the base64 of %d bytes (this line has %d characters)", KeySize, len(s))
}

// PrimaryID is the id of the key Seal uses.
func (r *Keyring) PrimaryID() string { return hex.EncodeToString(r.keys[0].id[:]) }

// IDs lists the ids of the ring's keys, the primary first.
func (r *Keyring) IDs() []string {
	out := make([]string, len(r.keys))
	for i, k := range r.keys {
		out[i] = hex.EncodeToString(k.id[:])
	}
	return out
}

// additional encodes the context strings as GCM additional data, each
// length-prefixed so that ("ab", "c") and ("a", "bc") differ.
func additional(context []string) []byte {
	b := []byte("pier secret v1")
	for _, c := range context {
		b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

// Seal encrypts plaintext under the primary key, bound to context (e.g.
// a site id and a secret name: Open must be given the same strings).
func (r *Keyring) Seal(plaintext []byte, context ...string) []byte {
	k := r.keys[0]
	out := make([]byte, 1+idSize+nonceSize, Overhead+len(plaintext))
	out[0] = version
	copy(out[1:], k.id[:])
	nonce := out[1+idSize : 1+idSize+nonceSize]
	rand.Read(nonce)
	return k.aead.Seal(out, nonce, plaintext, additional(context))
}

// SealedKeyID returns the id of the key a sealed value names ("" when it
// is too short to name one).
func SealedKeyID(sealed []byte) string {
	if len(sealed) < 1+idSize || sealed[0] != version {
		return ""
	}
	return hex.EncodeToString(sealed[1 : 1+idSize])
}

// Open decrypts a value Seal made with the same context, with whichever
// key of the ring sealed it: ErrUnknownKey when that key is not in the
// ring, ErrOpen when the value is malformed, altered or of another
// context.
func (r *Keyring) Open(sealed []byte, context ...string) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != version {
		return nil, ErrOpen
	}
	var id [idSize]byte
	copy(id[:], sealed[1:])
	for _, k := range r.keys {
		if k.id != id {
			continue
		}
		nonce := sealed[1+idSize : 1+idSize+nonceSize]
		pt, err := k.aead.Open(nil, nonce, sealed[1+idSize+nonceSize:], additional(context))
		if err != nil {
			return nil, ErrOpen
		}
		return pt, nil
	}
	return nil, fmt.Errorf("%w (key id %x; the ring has %s)", ErrUnknownKey, id, strings.Join(r.IDs(), ", "))
}
