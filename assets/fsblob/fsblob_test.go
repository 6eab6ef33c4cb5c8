package fsblob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/blobtest"
	"github.com/pierhq/pier/assets/fsblob"
)

func newStore(t testing.TB) *fsblob.Store {
	t.Helper()
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) assets.Backend { return newStore(t) })
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tests := []struct{ name, key string }{
		{"empty", ""},
		{"absolute", "/t/a/0123456789abcdef"},
		{"dotdot", "t/../../etc/passwd"},
		{"dotdot leaf", "t/a/.."},
		{"dot segment", "t/./a"},
		{"empty segment", "t//a"},
		{"trailing slash", "t/a/"},
		{"backslash", `t\a\b`},
		{"nul", "t/a\x00b"},
		{"newline", "t/a\nb"},
		{"hidden segment", "t/.tmp-123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if err := s.Put(ctx, tc.key, strings.NewReader("x"), 1); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey", tc.key, err)
			}
			if _, err := s.Get(ctx, tc.key); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Get(%q) = %v, want ErrInvalidKey", tc.key, err)
			}
			if _, err := s.Size(ctx, tc.key); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Size(%q) = %v, want ErrInvalidKey", tc.key, err)
			}
			if err := s.Delete(ctx, tc.key); !errors.Is(err, fsblob.ErrInvalidKey) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidKey", tc.key, err)
			}
		})
	}
	// Nothing escaped the store's directory or was left inside it.
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("store directory holds %d entries after only invalid keys", len(entries))
	}
}

func TestLayoutFansOut(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	key := assets.Key("tenant1", "3fa2b1c0d9e8f7a6", assets.VariantBrotli)
	if err := s.Put(t.Context(), key, strings.NewReader("br"), 2); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(s.Dir(), "t", "tenant1", "3f", "3fa2b1c0d9e8f7a6.br")
	if _, err := os.Stat(want); err != nil {
		t.Errorf("blob not at %s: %v", want, err)
	}
}

func TestFailedPutLeavesNoTempFiles(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	key := assets.Key("tenant1", "0123456789abcdef", "")
	if err := s.Put(t.Context(), key, io.LimitReader(rand.Reader, 10), 100); err == nil {
		t.Fatal("short Put succeeded")
	}
	var files []string
	err := filepath.WalkDir(s.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 0 {
		t.Errorf("files left after a failed Put: %v", files)
	}
}

func TestKeyUnderBlobIsNotFound(t *testing.T) {
	t.Parallel()
	// A key whose path would pass through a file reads as absent, not as
	// an I/O error.
	s := newStore(t)
	ctx := t.Context()
	if err := s.Put(ctx, "a/cdef", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a/cd/cdef/zz"); !errors.Is(err, assets.ErrNotFound) {
		t.Errorf("Get = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "a/cd/cdef/zz"); err != nil {
		t.Errorf("Delete = %v, want nil", err)
	}
	// And a key whose file path is a directory made by a longer key.
	if err := s.Put(ctx, "b/x_/x/zz", strings.NewReader("y"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "b/x"); !errors.Is(err, assets.ErrNotFound) {
		t.Errorf("Get of a directory = %v, want ErrNotFound", err)
	}
	if _, err := s.Size(ctx, "b/x"); !errors.Is(err, assets.ErrNotFound) {
		t.Errorf("Size of a directory = %v, want ErrNotFound", err)
	}
}

func BenchmarkFSBlobPut(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			s := newStore(b)
			data := make([]byte, size)
			rand.Read(data)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				key := assets.Key("bench", assets.FormatSum(uint64(i)), "")
				i++
				if err := s.Put(b.Context(), key, bytes.NewReader(data), int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFSBlobGet(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			s := newStore(b)
			data := make([]byte, size)
			rand.Read(data)
			key := assets.Key("bench", "0123456789abcdef", "")
			if err := s.Put(b.Context(), key, bytes.NewReader(data), int64(size)); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, size+1)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				rc, err := s.Get(b.Context(), key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(rc, buf[:size]); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	return strconv.Itoa(n>>10) + "KiB"
}

// TestRemoveDebris: old temporary files of unfinished writes go, recent
// ones (a write in progress) and blobs stay.
func TestRemoveDebris(t *testing.T) {
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "t/x/aaaa", strings.NewReader("blob"), 4); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Dir(), "t", "x", "aa")
	old, recent := filepath.Join(dir, ".tmp-old"), filepath.Join(dir, ".tmp-recent")
	for _, p := range []string{old, recent} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	n, err := s.RemoveDebris(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("RemoveDebris = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old temporary file is still there: %v", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("the recent temporary file is gone: %v", err)
	}
	if _, err := s.Size(ctx, "t/x/aaaa"); err != nil {
		t.Errorf("the blob is gone: %v", err)
	}
}
