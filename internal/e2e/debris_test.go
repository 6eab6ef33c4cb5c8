package e2e

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/testenv"
)

// TestKillDuringUploadLeavesNoDebris: `kill -9` while a large blob is
// being uploaded (its spool file under <data>/tmp) and with a temporary
// file of a blob write in the blob directory; the restarted server
// removes both at start-up. A second server on the same data directory
// is refused while the first runs.
func TestKillDuringUploadLeavesNoDebris(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "big", "--tenant", "acme")
	var site struct {
		HashSalt string `json:"hash_salt"`
	}
	if code := s.api("GET", "/api/v1/sites/big", s.Token, nil, &site); code != 200 {
		t.Fatalf("GET site: %d", code)
	}
	salt, err := hex.DecodeString(site.HashSalt)
	if err != nil {
		t.Fatalf("hash_salt %q: %v", site.HashSalt, err)
	}
	content := bytes.Repeat([]byte("pier debris "), 2<<20) // 24 MiB
	hash := assets.Hash(salt, content)
	var up struct {
		ID string `json:"id"`
	}
	if code := s.api("POST", "/api/v1/sites/big/uploads", s.Token, map[string]any{
		"manifest": map[string]any{"/big.bin": map[string]any{"hash": hash, "size": len(content)}},
	}, &up); code != 201 {
		t.Fatalf("upload session: %d", code)
	}

	// Send 8 MiB of the blob, then hold the rest back.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", s.API+"/api/v1/uploads/"+up.ID+"/blobs/"+hash, pr)
	req.ContentLength = int64(len(content))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	go pw.Write(content[:8<<20])
	t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
	spool := filepath.Join(s.Data, "tmp")
	testenv.WaitFor(t, testenv.Patience, func() error {
		if n := countFiles(t, spool, "pier-blob-"); n == 0 {
			return errors.New("no spool file yet")
		}
		return nil
	})
	// A crashed blob write's temporary file.
	tmpBlob := filepath.Join(s.Data, "blobs", ".tmp-crashed")
	if err := os.MkdirAll(filepath.Dir(tmpBlob), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpBlob, []byte("half a blob"), 0o600); err != nil {
		t.Fatal(err)
	}

	// While it runs, the data directory is taken.
	second := exec.Command(pierBin(t), "serve", "--data", s.Data,
		"--http", anyPort, "--admin", anyPort)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another pier process is using this data directory") {
		t.Errorf("a second pier serve on the same data directory: %v\n%s", err, out)
	}

	s.cmd.Process.Kill()
	<-s.exited
	s.release()
	if n := countFiles(t, spool, "pier-blob-"); n == 0 {
		t.Fatal("the killed server left no spool file: the test did not catch an upload in flight")
	}
	s.start()
	testenv.WaitFor(t, testenv.Patience, func() error {
		if n := countFiles(t, spool, "pier-blob-"); n > 0 {
			return fmt.Errorf("%d spool files left after the restart", n)
		}
		if _, err := os.Stat(tmpBlob); err == nil {
			return errors.New("the blob write's temporary file is still there")
		}
		return nil
	})
	// And the site still takes the upload.
	if code := s.api("POST", "/api/v1/sites/big/uploads", s.Token, map[string]any{
		"manifest": map[string]any{"/big.bin": map[string]any{"hash": hash, "size": len(content)}},
	}, &up); code != 201 {
		t.Fatalf("upload session after the restart: %d", code)
	}
	put, _ := http.NewRequest("PUT", s.API+"/api/v1/uploads/"+up.ID+"/blobs/"+hash, bytes.NewReader(content))
	put.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("PUT blob after the restart: %d", resp.StatusCode)
	}
}

// countFiles counts the files in dir whose names start with prefix.
func countFiles(t *testing.T, dir, prefix string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n
}
