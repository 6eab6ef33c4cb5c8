package secretbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustRing(t *testing.T, file string) *Keyring {
	t.Helper()
	r, err := ParseKeyring([]byte(file))
	if err != nil {
		t.Fatalf("ParseKeyring(%q): %v", file, err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	k := NewKey()
	r, err := NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("sk_live_abcdef")
	sealed := r.Seal(pt, "site1", "API_KEY")
	if bytes.Contains(sealed, pt) {
		t.Fatal("sealed value contains the plaintext")
	}
	if len(sealed) != len(pt)+Overhead {
		t.Errorf("sealed %d bytes, want %d", len(sealed), len(pt)+Overhead)
	}
	if got := SealedKeyID(sealed); got != r.PrimaryID() || got != KeyID(k) {
		t.Errorf("SealedKeyID = %q, want %q", got, r.PrimaryID())
	}
	got, err := r.Open(sealed, "site1", "API_KEY")
	if err != nil || string(got) != string(pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := r.Seal(pt, "site1", "API_KEY"); bytes.Equal(again, sealed) {
		t.Error("two seals of the same value are equal: the nonce is not random")
	}
	t.Run("empty plaintext", func(t *testing.T) {
		got, err := r.Open(r.Seal(nil, "s", "n"), "s", "n")
		if err != nil || len(got) != 0 {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	for _, tc := range []struct {
		name    string
		sealed  func() []byte
		context []string
	}{
		{"another site", func() []byte { return sealed }, []string{"site2", "API_KEY"}},
		{"another name", func() []byte { return sealed }, []string{"site1", "OTHER"}},
		{"shifted context", func() []byte { return r.Seal(pt, "ab", "c") }, []string{"a", "bc"}},
		{"no context", func() []byte { return sealed }, nil},
		{"flipped byte", func() []byte {
			b := bytes.Clone(sealed)
			b[len(b)-1] ^= 1
			return b
		}, []string{"site1", "API_KEY"}},
		{"truncated", func() []byte { return sealed[:Overhead-1] }, []string{"site1", "API_KEY"}},
		{"bad version", func() []byte {
			b := bytes.Clone(sealed)
			b[0] = 9
			return b
		}, []string{"site1", "API_KEY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Open(tc.sealed(), tc.context...)
			if !errors.Is(err, ErrOpen) || got != nil {
				t.Fatalf("Open = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

// TestRotation: a ring with a new primary opens what the old key sealed
// and seals under the new one; without the old key, the old values no
// longer open, and the error names the key id.
func TestRotation(t *testing.T) {
	oldKey, newKey := NewKey(), NewKey()
	oldRing := mustRing(t, hex.EncodeToString(oldKey))
	sealedOld := oldRing.Seal([]byte("v1"), "s", "N")

	both := mustRing(t, "# new primary\n"+hex.EncodeToString(newKey)+"\n# previous\n"+base64.StdEncoding.EncodeToString(oldKey)+"\n")
	if both.PrimaryID() != KeyID(newKey) {
		t.Fatalf("primary %s, want the first line's key %s", both.PrimaryID(), KeyID(newKey))
	}
	if ids := both.IDs(); len(ids) != 2 || ids[1] != KeyID(oldKey) {
		t.Fatalf("IDs = %v", ids)
	}
	got, err := both.Open(sealedOld, "s", "N")
	if err != nil || string(got) != "v1" {
		t.Fatalf("the rotated ring opens the old value: %q, %v", got, err)
	}
	resealed := both.Seal(got, "s", "N")
	if SealedKeyID(resealed) != KeyID(newKey) {
		t.Fatalf("resealed under %s, want %s", SealedKeyID(resealed), KeyID(newKey))
	}

	newOnly := mustRing(t, hex.EncodeToString(newKey))
	if got, err := newOnly.Open(resealed, "s", "N"); err != nil || string(got) != "v1" {
		t.Fatalf("after removing the old key, the rekeyed value: %q, %v", got, err)
	}
	_, err = newOnly.Open(sealedOld, "s", "N")
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), KeyID(oldKey)) {
		t.Fatalf("a value of a removed key: %v, want ErrUnknownKey naming %s", err, KeyID(oldKey))
	}
	// The old ring cannot open what the new primary sealed.
	if _, err := oldRing.Open(resealed, "s", "N"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old ring on a new value: %v", err)
	}
}

func TestParseKeyring(t *testing.T) {
	k := NewKey()
	hexKey := hex.EncodeToString(k)
	for _, tc := range []struct {
		name string
		file string
	}{
		{"hex", hexKey},
		{"hex upper case, CRLF", strings.ToUpper(hexKey) + "\r\n"},
		{"base64", base64.StdEncoding.EncodeToString(k) + "\n"},
		{"raw base64", base64.RawStdEncoding.EncodeToString(k)},
		{"url base64", base64.URLEncoding.EncodeToString(k)},
		{"comments and blanks", "# the key\n\n   " + hexKey + "  \n# end\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := mustRing(t, tc.file); r.PrimaryID() != KeyID(k) {
				t.Errorf("primary %s, want %s", r.PrimaryID(), KeyID(k))
			}
		})
	}
	if got := string(FormatKey(k)); got != hexKey+"\n" {
		t.Errorf("FormatKey = %q", got)
	}
	if r := mustRing(t, string(FormatKey(k))); r.PrimaryID() != KeyID(k) {
		t.Error("FormatKey does not parse back")
	}
}

func TestParseKeyringErrors(t *testing.T) {
	k := NewKey()
	hexKey := hex.EncodeToString(k)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	for _, tc := range []struct {
		name, file string
		want       string // in the error
	}{
		{"empty", "", "holds no key"},
		{"only comments", "# nothing\n\n", "holds no key"},
		{"garbage on line 2", "# c\nnot-a-key!\n", "line 2: not a key"},
		{"short base64", short, "line 1: the key is 16 bytes, want 32"},
		{"63 hex digits", hexKey[:63], "line 1: the key is 47 bytes"},
		{"trailing comment", hexKey + " # primary", "line 1: not a key: a key line holds one key"},
		{"duplicate", hexKey + "\n# again\n" + base64.StdEncoding.EncodeToString(k), "line 3: the same key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyring([]byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseKeyring(%q) = %v, want an error containing %q", tc.file, err, tc.want)
			}
			if strings.Contains(err.Error(), hexKey) || strings.Contains(err.Error(), hexKey[:16]) || strings.Contains(err.Error(), "not-a-key!") {
				t.Errorf("the error quotes the line: %v", err)
			}
		})
	}
	if _, err := NewKeyring(); err == nil {
		t.Error("NewKeyring() with no key succeeded")
	}
	if _, err := NewKeyring(make([]byte, 16)); err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Errorf("NewKeyring(16 bytes) = %v", err)
	}
}
