package assets

import (
	"bytes"
	"fmt"
	"math/bits"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
)

// BrotliQuality is the brotli quality Compress uses. Measured on 50 KiB
// of HTML (BenchmarkCompressBrotli, one core): quality 6 ≈ 22 MB/s at a
// ratio of 0.286, quality 9 ≈ 14 MB/s at 0.284, quality 11 ≈ 0.5 MB/s at
// 0.254 — eleven percent smaller for thirty times the CPU, which would
// make deploying a large site take minutes. For comparison gzip at best
// compression runs ≈ 8 MB/s at 0.298. Quality 6 keeps nearly all of
// quality 9's ratio at about 1.6× the speed, which matters on deploys of
// thousands of text files (make bench-deploy).
const BrotliQuality = 6

// GzipLevel is the gzip level Compress uses: gzip is the fallback for
// clients without brotli, so it is tuned for deploy speed (see
// BenchmarkCompressGzip) rather than the last percent.
const GzipLevel = 7

// brotliWindow returns log2 of the brotli window for n bytes of input: just
// large enough to cover it (so small files do not pay for allocating a big
// window), between 2^16 and 2^22 (4 MiB; larger windows cost decoders
// memory and help little).
func brotliWindow(n int) int {
	w := bits.Len(uint(n))
	return min(max(w, 16), 22)
}

// Compress returns data compressed for the pre-compressed variant
// VariantBrotli or VariantGzip. It runs once per blob at deploy, never per
// request.
func Compress(data []byte, variant string) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data)/3 + 64)
	switch variant {
	case VariantBrotli:
		w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: BrotliQuality, LGWin: brotliWindow(len(data))})
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("assets: brotli compress: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("assets: brotli compress: %w", err)
		}
	case VariantGzip:
		w, err := gzip.NewWriterLevel(&buf, GzipLevel)
		if err != nil {
			return nil, fmt.Errorf("assets: gzip compress: %w", err)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("assets: gzip compress: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("assets: gzip compress: %w", err)
		}
	default:
		return nil, fmt.Errorf("assets: compress: unknown variant %q", variant)
	}
	return buf.Bytes(), nil
}

// WorthKeeping reports whether a compressed variant of compressed bytes is
// worth storing and serving instead of the orig-byte original: it must
// save at least 5% and at least 64 bytes (below that, the extra header and
// the decode cost outweigh the saving).
func WorthKeeping(orig, compressed int) bool {
	saved := orig - compressed
	return saved >= 64 && saved*20 >= orig
}
