package assets_test

import (
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/pierhq/pier/assets"
)

func TestHash(t *testing.T) {
	t.Parallel()
	salt := []byte("0123456789abcdef")
	tests := []struct {
		name    string
		content []byte
	}{
		{"empty", nil},
		{"short", []byte("hello")},
		{"html", sampleHTML(100 << 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := assets.Hash(salt, tc.content)
			want := assets.FormatSum(xxhash.Sum64(append(append([]byte{}, salt...), tc.content...)))
			if got != want {
				t.Errorf("Hash = %s, want XXH64(salt ‖ content) = %s", got, want)
			}
			if !assets.ValidHash(got) {
				t.Errorf("Hash = %q is not a valid hash", got)
			}
			h := assets.NewHasher(salt)
			for i := 0; i < len(tc.content); i += 1000 {
				h.Write(tc.content[i:min(i+1000, len(tc.content))])
			}
			if s := assets.FormatSum(h.Sum64()); s != got {
				t.Errorf("streaming hash = %s, want %s", s, got)
			}
			if other := assets.Hash([]byte("another salt 16b"), tc.content); other == got {
				t.Error("different salts gave the same hash")
			}
		})
	}
	if got := assets.FormatSum(0xef46db3751d8e999); got != "ef46db3751d8e999" {
		t.Errorf("FormatSum = %s", got)
	}
}

func BenchmarkHash(b *testing.B) {
	salt := []byte("0123456789abcdef")
	for _, size := range []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			data := sampleHTML(size.n)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				assets.Hash(salt, data)
			}
		})
	}
}
