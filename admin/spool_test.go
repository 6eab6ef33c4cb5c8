package admin_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func withSpoolDir(dir string) envOption {
	return func(s *envSetup) { s.cfg.SpoolDir = dir }
}

// TestUnwritableSpool: a blob too large to hold in memory and a spool
// directory that cannot take it answer 503 storage_unavailable, as an
// unwritable blob store does, not 500.
func TestUnwritableSpool(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withSpoolDir(notDir))
	_, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "blog")
	big := bytes.Repeat([]byte("x"), 2<<20)
	up, missing := e.startUpload(t, tok, "blog", salt, files{"/big.bin": string(big)})
	r := e.putBlob(t, tok, up, missing[0], big)
	if r.status != 503 || r.errCode() != "storage_unavailable" {
		t.Errorf("PUT blob = %d %s, want 503 storage_unavailable", r.status, r.raw)
	}
}

// TestRemoveSpoolDebris: spool files older than the cutoff (a crashed
// upload's) go; recent ones (an upload in progress) and other files stay.
func TestRemoveSpoolDebris(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, withSpoolDir(dir))
	past := time.Now().Add(-2 * time.Hour)
	for name, old := range map[string]bool{"pier-blob-1": true, "pier-blob-2": false, "other": true} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if old {
			if err := os.Chtimes(p, past, past); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := e.api.RemoveSpoolDebris(time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("RemoveSpoolDebris = %d, %v; want 1", n, err)
	}
	for name, want := range map[string]bool{"pier-blob-1": false, "pier-blob-2": true, "other": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s present = %v, want %v", name, err == nil, want)
		}
	}
}
