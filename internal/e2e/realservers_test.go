package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// TestS3AndPostgres runs the platform the way a multi-node operator does:
// blobs in real MinIO, the registry in real PostgreSQL.
func TestS3AndPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	minio := testenv.StartMinIO(t)
	pg := testenv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	s3env := []string{"AWS_ACCESS_KEY_ID=" + minio.AccessKey, "AWS_SECRET_ACCESS_KEY=" + minio.SecretKey}
	flags := []string{"--db", dsn, "--s3-endpoint", minio.Endpoint, "--s3-bucket", "pier-e2e", "--s3-region", minio.Region}

	s := startPier(t, "", flags, s3env...)
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "docs", "--tenant", "acme")
	site := filepath.Join(repoRoot(t), "examples", "site")
	v1 := s.deploy(site, "docs")
	if r := s.get("docs.localhost", "/"); r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") {
		t.Fatalf("GET / = %d %q", r.Status, r.Body)
	}
	if r := s.get("docs.localhost", "/assets/site.css", "Accept-Encoding", "gzip"); r.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip variant from S3: %v", r.Header)
	}

	// A second node on the same PostgreSQL and bucket serves the same site.
	s2 := startPier(t, "", flags, s3env...)
	if r := s2.get("docs.localhost", "/about"); r.Status != 200 || !strings.Contains(r.Body, "About") {
		t.Fatalf("second node: %d %q", r.Status, r.Body)
	}

	t.Run("S3 down: deploy fails, live site unchanged", func(t *testing.T) {
		minio.Stop()
		dir := writeSite(t, map[string]string{"index.html": "never live " + time.Now().String()})
		errOut := s.pierFail("deploy", dir, "--site", "docs")
		if errOut == "" {
			t.Error("no error message")
		}
		if r := s.get("docs.localhost", "/"); r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") {
			t.Errorf("live site after failed deploy: %d %q", r.Status, r.Body)
		}
		var site struct {
			Active string `json:"active_deployment"`
		}
		s.api("GET", "/api/v1/sites/docs", s.Token, nil, &site)
		if site.Active != v1.Deployment {
			t.Errorf("active = %s, want %s", site.Active, v1.Deployment)
		}
	})
}

// TestClientKilledMidUpload: an interrupted deploy changes nothing live, and
// the next deploy reuses what was already uploaded.
func TestClientKilledMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "big", "--tenant", "acme")
	s.deploy(writeSite(t, map[string]string{"index.html": "v1"}), "big")

	files := map[string]string{"index.html": "v2"}
	for i := 0; i < 400; i++ {
		files[fmt.Sprintf("data/%03d.bin", i)] = strings.Repeat(fmt.Sprintf("%03d", i), 100_000)
	}
	dir := writeSite(t, files)
	cmd := exec.Command(pierBin(t), "deploy", dir, "--site", "big")
	cmd.Env = append(os.Environ(), "PIER_API="+s.API, "PIER_TOKEN="+s.Token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the client once the server has accepted its first blobs: the
	// upload is then surely under way and far from done (400 blobs).
	deadline := time.Now().Add(testenv.Patience)
	for strings.Count(s.out.String(), "/blobs/") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no blob upload seen in the server log:\n%s", s.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	if r := s.get("big.localhost", "/"); r.Body != "v1" {
		t.Fatalf("live site changed by an interrupted deploy: %q", r.Body)
	}
	res := s.deploy(dir, "big")
	if res.Files != 401 {
		t.Errorf("files = %d", res.Files)
	}
	if r := s.get("big.localhost", "/"); r.Body != "v2" {
		t.Fatalf("after the complete deploy: %q", r.Body)
	}
	t.Logf("second deploy uploaded %d, reused %d", res.Uploaded, res.Reused)
}
