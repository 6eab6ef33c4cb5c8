package assets_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"

	"github.com/pierhq/pier/assets"
)

// sampleHTML returns about n bytes of HTML and JavaScript with realistic
// redundancy (a fixed vocabulary, varied order), deterministically.
func sampleHTML(n int) []byte {
	words := strings.Fields(`the a site deploy tenant worker asset cache hosting static page
		header footer navigation article section button class function return const let
		document window fetch response request json value index style script module export`)
	r := mrand.New(mrand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("<!doctype html><html lang=en><head><meta charset=utf-8><title>Pier</title></head><body>\n")
	for i := 0; b.Len() < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "<div class=\"card card-%d\"><h2>", r.IntN(50))
		case 1:
			fmt.Fprintf(&b, "<script>function f%d(x){return x.%s+%d}</script>\n", i, words[r.IntN(len(words))], r.IntN(1000))
		case 2:
			b.WriteString("<p>")
		}
		for range 8 + r.IntN(12) {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString("</p></div>\n")
	}
	return []byte(b.String()[:n])
}

func decompress(t *testing.T, data []byte, variant string) []byte {
	t.Helper()
	var r io.Reader
	switch variant {
	case assets.VariantBrotli:
		r = brotli.NewReader(bytes.NewReader(data))
	case assets.VariantGzip:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompressing %s: %v", variant, err)
	}
	return out
}

func TestCompressRoundTrip(t *testing.T) {
	t.Parallel()
	random := make([]byte, 64<<10)
	rand.Read(random)
	inputs := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte("x")},
		{"html 50KiB", sampleHTML(50 << 10)},
		{"html 1MiB", sampleHTML(1 << 20)},
		{"random 64KiB", random},
	}
	for _, variant := range []string{assets.VariantBrotli, assets.VariantGzip} {
		for _, in := range inputs {
			t.Run(variant+"/"+in.name, func(t *testing.T) {
				t.Parallel()
				c, err := assets.Compress(in.data, variant)
				if err != nil {
					t.Fatal(err)
				}
				if got := decompress(t, c, variant); !bytes.Equal(got, in.data) {
					t.Fatalf("round trip gave %d bytes, want %d", len(got), len(in.data))
				}
			})
		}
	}
}

func TestCompressWorthKeeping(t *testing.T) {
	t.Parallel()
	html := sampleHTML(50 << 10)
	random := make([]byte, 50<<10)
	rand.Read(random)
	for _, variant := range []string{assets.VariantBrotli, assets.VariantGzip} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			c, err := assets.Compress(html, variant)
			if err != nil {
				t.Fatal(err)
			}
			if !assets.WorthKeeping(len(html), len(c)) {
				t.Errorf("html: %d → %d bytes not worth keeping", len(html), len(c))
			}
			if len(c)*3 > len(html) {
				t.Errorf("html compressed only to %d of %d bytes", len(c), len(html))
			}
			c, err = assets.Compress(random, variant)
			if err != nil {
				t.Fatal(err)
			}
			if assets.WorthKeeping(len(random), len(c)) {
				t.Errorf("random: %d → %d bytes judged worth keeping", len(random), len(c))
			}
		})
	}
}

func TestCompressUnknownVariant(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "zstd", "BR"} {
		if _, err := assets.Compress([]byte("x"), v); err == nil {
			t.Errorf("Compress(variant %q) succeeded", v)
		}
	}
}

func TestWorthKeeping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		orig, compressed int
		want             bool
	}{
		{"big saving", 10000, 3000, true},
		{"exactly 5 percent", 10000, 9500, true},
		{"under 5 percent", 10000, 9501, false},
		{"64 bytes saved", 200, 136, true},
		{"63 bytes saved", 200, 137, false},
		{"tiny file", 50, 10, false},
		{"grew", 100, 120, false},
		{"empty", 0, 20, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := assets.WorthKeeping(tc.orig, tc.compressed); got != tc.want {
				t.Errorf("WorthKeeping(%d, %d) = %v, want %v", tc.orig, tc.compressed, got, tc.want)
			}
		})
	}
}

func benchmarkCompress(b *testing.B, variant string) {
	data := sampleHTML(50 << 10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		c, err := assets.Compress(data, variant)
		if err != nil {
			b.Fatal(err)
		}
		n = len(c)
	}
	b.ReportMetric(float64(n)/float64(len(data)), "ratio")
}

func BenchmarkCompressBrotli(b *testing.B) { benchmarkCompress(b, assets.VariantBrotli) }
func BenchmarkCompressGzip(b *testing.B)   { benchmarkCompress(b, assets.VariantGzip) }
