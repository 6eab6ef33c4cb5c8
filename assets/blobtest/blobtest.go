// Package blobtest is the conformance suite every assets.Backend must pass
// (fsblob, s3blob against MinIO, and any future driver). It is imported
// only by tests.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/assets"
)

// LargeSize is the size of the suite's large blob: more than two 5 MiB
// parts (S3's minimum part size), so an S3 backend configured with that
// part size exercises a three-part multipart upload.
const LargeSize = 12<<20 + 12345

// Run runs the suite. newBackend returns an empty backend for one subtest
// (for S3, typically a fresh bucket); it registers its own cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) assets.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b assets.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"ZeroBytes", testZeroBytes},
		{"Large", testLarge},
		{"ConcurrentPutSameKey", testConcurrentPutSameKey},
		{"ConcurrentDistinctKeys", testConcurrentDistinctKeys},
		{"FailingReaderLeavesNothing", testFailingReader},
		{"FailingReaderLarge", testFailingReaderLarge},
		{"FailedOverwriteKeepsOld", testFailedOverwrite},
		{"ShortReader", testShortReader},
		{"LongReader", testLongReader},
		{"CanceledContext", testCanceledContext},
		{"CancelDuringPut", testCancelDuringPut},
		{"KeyCharacters", testKeyCharacters},
		{"PartialReadClose", testPartialReadClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newBackend(t))
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, b assets.Backend, key string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func get(t *testing.T, b assets.Backend, key string) []byte {
	t.Helper()
	rc, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): reading: %v", key, err)
	}
	return data
}

func wantContent(t *testing.T, b assets.Backend, key string, want []byte) {
	t.Helper()
	got := get(t, b, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes (%s), want %d bytes (%s)", key, len(got), head(got), len(want), head(want))
	}
	size, err := b.Size(t.Context(), key)
	if err != nil {
		t.Fatalf("Size(%q): %v", key, err)
	}
	if size != int64(len(want)) {
		t.Fatalf("Size(%q) = %d, want %d", key, size, len(want))
	}
}

func head(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return fmt.Sprintf("%q…", b)
}

func wantNotFound(t *testing.T, b assets.Backend, key string) {
	t.Helper()
	rc, err := b.Get(t.Context(), key)
	if err == nil {
		data, _ := io.ReadAll(rc)
		rc.Close()
		t.Fatalf("Get(%q) = %d bytes, want ErrNotFound", key, len(data))
	}
	if !errors.Is(err, assets.ErrNotFound) {
		t.Fatalf("Get(%q) error = %v, want ErrNotFound", key, err)
	}
	if _, err := b.Size(t.Context(), key); !errors.Is(err, assets.ErrNotFound) {
		t.Fatalf("Size(%q) error = %v, want ErrNotFound", key, err)
	}
}

func testRoundTrip(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "0123456789abcdef", "")
	data := []byte("<!doctype html><title>hello</title>")
	put(t, b, key, data)
	wantContent(t, b, key, data)
	if err := b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
	wantNotFound(t, b, key)
	if err := b.Delete(t.Context(), key); err != nil {
		t.Fatalf("second Delete(%q) = %v, want nil", key, err)
	}
}

func testNotFound(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "fedcba9876543210", assets.VariantBrotli)
	wantNotFound(t, b, key)
	if err := b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete of an absent blob = %v, want nil", err)
	}
	// A sibling existing must not make the absent key found.
	put(t, b, assets.Key("tenant1", "fedcba9876543210", ""), []byte("x"))
	wantNotFound(t, b, key)
}

func testOverwrite(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "aaaaaaaaaaaaaaaa", "")
	put(t, b, key, []byte("first version, longer than the second"))
	put(t, b, key, []byte("second"))
	wantContent(t, b, key, []byte("second"))
}

func testZeroBytes(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "ef46db3751d8e999", "")
	put(t, b, key, nil)
	wantContent(t, b, key, []byte{})
}

func testLarge(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "1111111111111111", "")
	data := randomBytes(t, LargeSize)
	put(t, b, key, data)
	wantContent(t, b, key, data)
}

func testConcurrentPutSameKey(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "2222222222222222", "")
	const n = 8
	versions := make([][]byte, n)
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('a' + i)}, 1000+i*777)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = b.Put(t.Context(), key, bytes.NewReader(versions[i]), int64(len(versions[i])))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put #%d: %v", i, err)
		}
	}
	got := get(t, b, key)
	for _, v := range versions {
		if bytes.Equal(got, v) {
			return
		}
	}
	t.Fatalf("after concurrent puts Get = %d bytes (%s), not any one version intact", len(got), head(got))
}

func testConcurrentDistinctKeys(t *testing.T, b assets.Backend) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			key := assets.Key("tenant1", fmt.Sprintf("%016x", i), "")
			data := []byte(strings.Repeat(key, i+1))
			if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
				errs[i] = err
				return
			}
			rc, err := b.Get(t.Context(), key)
			if err != nil {
				errs[i] = err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(got, data) {
				err = fmt.Errorf("key %q: got %d bytes, want %d", key, len(got), len(data))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
}

// failingReader yields n bytes of data then fails.
type failingReader struct {
	r   io.Reader
	err error
}

var errReader = errors.New("blobtest: reader failed on purpose")

func newFailingReader(data []byte, failAt int) *failingReader {
	return &failingReader{r: bytes.NewReader(data[:failAt]), err: errReader}
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testFailingReader(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "3333333333333333", "")
	data := randomBytes(t, 64<<10)
	err := b.Put(t.Context(), key, newFailingReader(data, len(data)/2), int64(len(data)))
	if err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if !errors.Is(err, errReader) {
		t.Errorf("Put error = %v, want it to wrap the reader's error", err)
	}
	wantNotFound(t, b, key)
}

func testFailingReaderLarge(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "4444444444444444", "")
	data := randomBytes(t, LargeSize)
	err := b.Put(t.Context(), key, newFailingReader(data, LargeSize-1000), LargeSize)
	if err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if !errors.Is(err, errReader) {
		t.Errorf("Put error = %v, want it to wrap the reader's error", err)
	}
	wantNotFound(t, b, key)
}

func testFailedOverwrite(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "5555555555555555", "")
	old := []byte("the old, good content")
	put(t, b, key, old)
	data := randomBytes(t, 4096)
	if err := b.Put(t.Context(), key, newFailingReader(data, 100), int64(len(data))); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	wantContent(t, b, key, old)
}

func testShortReader(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "6666666666666666", "")
	data := []byte("only twenty-six bytes here")
	if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))+10); err == nil {
		t.Fatal("Put with a reader shorter than size succeeded")
	}
	wantNotFound(t, b, key)
}

func testLongReader(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "7777777777777777", "")
	data := []byte("twenty-eight bytes of data!!")
	if err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))-10); err == nil {
		t.Fatal("Put with a reader longer than size succeeded")
	}
	wantNotFound(t, b, key)
}

func testCanceledContext(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "8888888888888888", "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data := []byte("never stored")
	err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context = %v, want context.Canceled", err)
	}
	wantNotFound(t, b, key)

	put(t, b, key, data)
	if _, err := b.Get(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := b.Size(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Size with a canceled context = %v, want context.Canceled", err)
	}
	if err := b.Delete(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a canceled context = %v, want context.Canceled", err)
	}
	wantContent(t, b, key, data)
}

// cancelingReader cancels its context once half the data has been read.
type cancelingReader struct {
	r      io.Reader
	read   int
	at     int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	if c.read >= c.at {
		c.cancel()
	}
	if len(p) > 4096 {
		p = p[:4096]
	}
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func testCancelDuringPut(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "9999999999999999", "")
	data := randomBytes(t, LargeSize)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &cancelingReader{r: bytes.NewReader(data), at: len(data) / 2, cancel: cancel}
	if err := b.Put(ctx, key, r, int64(len(data))); err == nil {
		t.Fatal("Put whose context was canceled midway succeeded")
	}
	wantNotFound(t, b, key)
}

func testKeyCharacters(t *testing.T, b assets.Backend) {
	// Key() joins "t/", a tenant ID (lowercase base32 with an optional
	// prefix), a hash (lowercase hex) and an optional variant suffix.
	ids := []string{"abcdefghijklmnopqrstuvwxyz", "234567", "0189", "ten_a-b"}
	hashes := []string{"0123456789abcdef", "fedcba9876543210"}
	variants := []string{assets.VariantIdentity, assets.VariantBrotli, assets.VariantGzip}
	var keys []string
	for _, id := range ids {
		for _, h := range hashes {
			for _, v := range variants {
				keys = append(keys, assets.Key(id, h, v))
			}
		}
	}
	for _, k := range keys {
		put(t, b, k, []byte(k))
	}
	for _, k := range keys {
		wantContent(t, b, k, []byte(k))
	}
}

func testPartialReadClose(t *testing.T, b assets.Backend) {
	key := assets.Key("tenant1", "abababababababab", "")
	data := randomBytes(t, 1<<20)
	put(t, b, key, data)
	rc, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatalf("reading the first bytes: %v", err)
	}
	if !bytes.Equal(buf, data[:100]) {
		t.Fatal("first bytes differ")
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Close after a partial read: %v", err)
	}
	wantContent(t, b, key, data)
}
