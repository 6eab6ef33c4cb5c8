// Package fsblob is the local-directory blob backend (the embedded
// default of `pier serve`). It implements assets.Backend and passes
// blobtest.Run. Imported by cmd/pier (wiring) and tests; other packages use
// the assets.Backend interface.
//
// # Layout
//
// A key's last segment is fanned out under a directory named by its first
// two bytes, so the key "t/<tenant>/<hash>" lives at
// "<dir>/t/<tenant>/<hash[0:2]>/<hash>" and no directory holds more than a
// few thousand files. Writes go to a temporary file beside the target
// (named ".tmp-…"), are fsynced, then renamed into place, so readers never
// see a partial blob and a failed Put leaves nothing behind.
//
// # Keys
//
// Keys are slash-separated relative paths: no leading slash, no empty, "."
// or ".." segment, no segment starting with "." (reserved for temporary
// files), no backslash, NUL or control character. As on any file system,
// a key cannot be both a blob and the parent of another key ("a/b" and
// "a/b/c"); keys made by assets.Key never collide that way.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pierhq/pier/assets"
)

// Store is a Backend on a local directory. It is safe for concurrent use
// by any number of goroutines and processes sharing the directory.
type Store struct {
	dir string
}

// New returns a Store rooted at dir, creating dir if needed.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("fsblob: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: resolving %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("fsblob: creating %q: %w", abs, err)
	}
	return &Store{dir: abs}, nil
}

// Dir returns the absolute directory the store writes to.
func (s *Store) Dir() string { return s.dir }

// ErrInvalidKey is wrapped by the error of any call given a key that is
// not a valid relative path (see the package documentation).
var ErrInvalidKey = errors.New("fsblob: invalid key")

// path maps a key to its file, validating it.
func (s *Store) path(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if key[0] == '/' {
		return "", fmt.Errorf("%w %q: absolute", ErrInvalidKey, key)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", fmt.Errorf("%w %q: backslash or control character", ErrInvalidKey, key)
		}
	}
	dir, leaf := "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		dir, leaf = key[:i], key[i+1:]
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return "", fmt.Errorf("%w %q: empty segment", ErrInvalidKey, key)
		case seg == "." || seg == "..":
			return "", fmt.Errorf("%w %q: %q segment", ErrInvalidKey, key, seg)
		case seg[0] == '.':
			return "", fmt.Errorf("%w %q: segment starts with a dot", ErrInvalidKey, key)
		}
	}
	fan := leaf
	if len(fan) > 2 {
		fan = fan[:2]
	} else if len(fan) < 2 {
		fan += "_"
	}
	return filepath.Join(s.dir, filepath.FromSlash(dir), fan, leaf), nil
}

// notExist reports whether err means the file is absent: ENOENT, or
// ENOTDIR when a parent path component is a file.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

type sizedFile struct {
	*os.File
	size int64
}

// Size reports the blob's size (assets.Cache uses it to size its buffer).
func (f sizedFile) Size() int64 { return f.size }

// Get opens the blob stored under key.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fsblob: get %q: %w", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		if notExist(err) {
			return nil, fmt.Errorf("fsblob: get %q: %w", key, assets.ErrNotFound)
		}
		return nil, fmt.Errorf("fsblob: get %q: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fsblob: get %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close() // a directory made by a longer key: no blob here
		return nil, fmt.Errorf("fsblob: get %q: %w", key, assets.ErrNotFound)
	}
	return sizedFile{File: f, size: fi.Size()}, nil
}

// Size returns the blob's size.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("fsblob: size %q: %w", key, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		if notExist(err) {
			return 0, fmt.Errorf("fsblob: size %q: %w", key, assets.ErrNotFound)
		}
		return 0, fmt.Errorf("fsblob: size %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("fsblob: size %q: %w", key, assets.ErrNotFound)
	}
	return fi.Size(), nil
}

// Delete removes the blob; an absent blob is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: delete %q: %w", key, err)
	}
	if err := os.Remove(p); err != nil && !notExist(err) {
		return fmt.Errorf("fsblob: delete %q: %w", key, err)
	}
	return nil
}

// Put stores exactly size bytes read from r under key. A reader that ends
// early or holds more than size bytes fails the Put. The blob appears
// atomically (temporary file, fsync, rename, fsync of the directory); on
// any failure, including cancellation of ctx, nothing is left behind and
// a previous blob under key is untouched.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("fsblob: put %q: negative size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := copyExact(ctx, tmp, r, size); err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsblob: put %q: sync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("fsblob: put %q: close: %w", key, err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	// Make the rename itself durable: an acknowledged Put survives a crash.
	if d, derr := os.Open(dir); derr == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return fmt.Errorf("fsblob: put %q: sync directory: %w", key, serr)
		}
	}
	return nil
}

// ErrSizeMismatch is wrapped by a Put whose reader did not hold exactly
// the announced number of bytes.
var ErrSizeMismatch = errors.New("fsblob: reader length differs from size")

// copyExact copies exactly size bytes from r to w, checking ctx between
// chunks, and fails if r holds fewer or more bytes.
func copyExact(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	bufSize := int64(128 << 10)
	if size < bufSize {
		bufSize = size + 1 // +1 lets the last Read report EOF
	}
	buf := make([]byte, bufSize)
	var n int64
	for n < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := buf
		if rest := size - n; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		m, err := r.Read(chunk)
		if m > 0 {
			if _, werr := w.Write(chunk[:m]); werr != nil {
				return werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			if n < size {
				return fmt.Errorf("%w: got %d of %d bytes: %w", ErrSizeMismatch, n, size, io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
	}
	// The reader must be exhausted now.
	for range 100 {
		m, err := r.Read(buf[:1])
		if m > 0 {
			return fmt.Errorf("%w: more than %d bytes", ErrSizeMismatch, size)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
	}
	return io.ErrNoProgress
}

var _ assets.Backend = (*Store)(nil)

// RemoveDebris deletes the temporary files (".tmp-…") of writes that
// never finished, a crashed process's, last modified before cutoff; a
// write in progress keeps its file's time recent, so processes sharing
// the directory are safe. It returns how many it removed. It walks the
// whole directory: run it in the background.
func (s *Store) RemoveDebris(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil
		}
		if os.Remove(p) == nil {
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("fsblob: removing debris: %w", err)
	}
	return n, nil
}
