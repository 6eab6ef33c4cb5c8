package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pierhq/pier/assets"
)

// hashedFile is a localFile with its content hash and the size hashed.
type hashedFile struct {
	localFile
	hash string
	// outside is the file's own path when it is not a file of the asset
	// tree (the worker module): it is opened by that path.
	outside string
}

// hashBufSize is the read buffer of each hashing worker.
const hashBufSize = 256 << 10

// hashTree hashes every file of t with the tenant's salt, on workers
// goroutines (runtime.NumCPU() when ≤ 0), streaming each file through
// assets.NewHasher. The result is in the order of t.files.
func hashTree(ctx context.Context, t *assetTree, salt []byte, workers int, prog *progress) ([]hashedFile, error) {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = min(workers, max(len(t.files), 1))
	out := make([]hashedFile, len(t.files))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, hashBufSize)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(t.files) {
					return
				}
				f := t.files[i]
				hash, size, err := hashFile(t, f, salt, buf, prog)
				if err != nil {
					cancel(err)
					return
				}
				f.size = size
				out[i] = hashedFile{localFile: f, hash: hash}
				prog.addFile()
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// hashFile returns the salted content hash of one file and its size.
func hashFile(t *assetTree, f localFile, salt, buf []byte, prog *progress) (string, int64, error) {
	r, err := t.root.Open(f.rel)
	if err != nil {
		return "", 0, fmt.Errorf("opening %s: %w", f.path, err)
	}
	defer r.Close()
	h := assets.NewHasher(salt)
	var size int64
	// A plain read loop: io.CopyBuffer would defer to *os.File.WriteTo and
	// ignore buf.
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			size += int64(n)
			prog.addBytes(int64(n))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, fmt.Errorf("reading %s: %w", f.path, err)
		}
	}
	return assets.FormatSum(h.Sum64()), size, nil
}

// hashWorker returns the worker module at path hashed with the tenant's
// salt, as a file outside the asset tree.
func hashWorker(path string, salt []byte) (*hashedFile, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := assets.NewHasher(salt)
	size, err := io.Copy(h, r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if size == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return &hashedFile{
		localFile: localFile{path: "worker " + path, size: size},
		hash:      assets.FormatSum(h.Sum64()),
		outside:   path,
	}, nil
}
