package assets

import (
	"bytes"
	"fmt"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
)

// BrotliQuality is the brotli quality Compress uses. Quality 11 shrinks
// text a few percent more but costs 10–20× the CPU time at deploy; see
// BenchmarkCompressBrotli for the measured trade-off.
const BrotliQuality = 9

// brotliWindow is log2 of the brotli window (4 MiB); larger windows only
// help files larger than that and cost decoder memory.
const brotliWindow = 22

// Compress returns data compressed for the pre-compressed variant
// VariantBrotli or VariantGzip. It runs once per blob at deploy, never per
// request.
func Compress(data []byte, variant string) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data)/3 + 64)
	switch variant {
	case VariantBrotli:
		w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: BrotliQuality, LGWin: brotliWindow})
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("assets: brotli compress: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("assets: brotli compress: %w", err)
		}
	case VariantGzip:
		w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
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
