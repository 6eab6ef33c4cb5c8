package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/assets"
)

func TestHashTree(t *testing.T) {
	salt := []byte("salt-of-a-tenant")
	big := bytes.Repeat([]byte("0123456789"), hashBufSize/10+77) // spans several reads
	files := map[string]string{
		"empty.txt":      "",
		"index.html":     "<h1>hi</h1>",
		"deep/a/b/c.css": "a{}",
		"big.bin":        string(big),
	}
	tests := []struct {
		name    string
		workers int
	}{
		{name: "one worker", workers: 1},
		{name: "default workers", workers: 0},
		{name: "more workers than files", workers: 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, files)
			tree, err := walkAssets(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer tree.Close()
			prog := startProgress(nil, false, "hashing", len(tree.files), tree.bytes)
			got, err := hashTree(context.Background(), tree, salt, tt.workers, prog)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(files) {
				t.Fatalf("%d results, want %d", len(got), len(files))
			}
			for _, f := range got {
				content := files[strings.TrimPrefix(f.path, "/")]
				if want := assets.Hash(salt, []byte(content)); f.hash != want {
					t.Errorf("%s: hash %s, want %s", f.path, f.hash, want)
				}
				if f.size != int64(len(content)) {
					t.Errorf("%s: size %d, want %d", f.path, f.size, len(content))
				}
			}
			if n, b := prog.files.Load(), prog.bytes.Load(); n != int64(len(files)) || b != tree.bytes {
				t.Errorf("progress counted %d files, %d bytes; want %d, %d", n, b, len(files), tree.bytes)
			}
		})
	}
}

func TestHashTreeUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a", "locked.txt": "b"})
	tree, err := walkAssets(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	if err := os.Chmod(filepath.Join(dir, "locked.txt"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = hashTree(context.Background(), tree, []byte("s"), 2, startProgress(nil, false, "", 0, 0))
	if err == nil || !strings.Contains(err.Error(), "/locked.txt") {
		t.Errorf("err = %v, want one naming /locked.txt", err)
	}
}

func TestHashTreeCanceled(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a", "b.txt": "b"})
	tree, err := walkAssets(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := hashTree(ctx, tree, []byte("s"), 2, startProgress(nil, false, "", 0, 0)); err == nil {
		t.Error("hashTree with a canceled context succeeded")
	}
}

// BenchmarkHashTree hashes 1,000 files of 100 KiB from disk (the page
// cache, after the first iteration) and reports MB/s.
func BenchmarkHashTree(b *testing.B) {
	dir := b.TempDir()
	rnd := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 100<<10)
	for i := range 1000 {
		for j := range buf {
			buf[j] = byte(rnd.Uint32())
		}
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%50))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%04d.bin", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	tree, err := walkAssets(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer tree.Close()
	salt := []byte("0123456789abcdef")
	b.SetBytes(tree.bytes)
	b.ResetTimer()
	for b.Loop() {
		prog := startProgress(nil, false, "", 0, 0)
		if _, err := hashTree(context.Background(), tree, salt, 0, prog); err != nil {
			b.Fatal(err)
		}
	}
}

func TestProgressRender(t *testing.T) {
	tests := []struct {
		name         string
		files, total int
		done, bytes  int64
		want         string
	}{
		{name: "start", files: 0, total: 10, done: 0, bytes: 0, want: "hashing    [>         ]  0/10 files  0 B/2.0 KiB"},
		{name: "half", files: 5, total: 10, done: 1024, want: "hashing    [=====>    ]  5/10 files  1.0 KiB/2.0 KiB"},
		{name: "done", files: 10, total: 10, done: 2048, want: "hashing    [==========] 10/10 files  2.0 KiB/2.0 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProgress(nil, false, "hashing", tt.total, 2048)
			p.files.Store(int64(tt.files))
			p.bytes.Store(tt.done)
			if got := p.render(10); got != tt.want {
				t.Errorf("render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProgressDrawsOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprint("enabled=", enabled), func(t *testing.T) {
			var out bytes.Buffer
			p := startProgress(&out, enabled, "uploading", 1, 10)
			p.addBytes(10)
			p.addFile()
			p.finish()
			if got := out.Len() > 0; got != enabled {
				t.Fatalf("drew %q with enabled=%v", out.String(), enabled)
			}
			if enabled && !strings.HasSuffix(out.String(), "1/1 files  10 B/10 B\x1b[K\n") {
				t.Errorf("final line = %q", out.String())
			}
		})
	}
}
