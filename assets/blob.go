package assets

import (
	"context"
	"errors"
	"io"
)

// Portable errors every Backend returns (wrapped), translated from the
// underlying SDK or OS errors at the boundary.
var (
	ErrNotFound = errors.New("assets: blob not found")
	// ErrUnavailable means the backend could not be reached or failed
	// transiently; the caller may retry.
	ErrUnavailable = errors.New("assets: storage unavailable")
)

// Backend is a blob store driver keyed by opaque strings (see Key).
// Implementations are safe for concurrent use and must pass blobtest.Run.
type Backend interface {
	// Get opens the blob; the caller closes it. ErrNotFound if absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores size bytes from r under key, atomically: a reader never
	// sees a partial blob, and a failed Put leaves no blob behind.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Size returns the blob's size, or ErrNotFound.
	Size(ctx context.Context, key string) (int64, error)
	// Delete removes the blob; deleting an absent blob is not an error.
	Delete(ctx context.Context, key string) error
}

// Variant suffixes of pre-compressed copies of a blob.
const (
	VariantIdentity = ""
	VariantBrotli   = "br"
	VariantGzip     = "gz"
)

// Key returns the backend key of a tenant's blob (variant "" for the
// original, "br" or "gz" for a pre-compressed copy). Blobs are keyed by
// tenant so equal files dedupe within a tenant and never across tenants.
func Key(tenantID, hash, variant string) string {
	k := "t/" + tenantID + "/" + hash
	if variant != "" {
		k += "." + variant
	}
	return k
}
