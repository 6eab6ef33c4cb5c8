package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// MinIO is a running MinIO server.
type MinIO struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string // us-east-1

	stop func()
}

// Stop stops the server now (it is also stopped when the test ends); tests
// use it to see how their code behaves when storage goes away. Stopping
// twice is harmless.
func (m *MinIO) Stop() { m.stop() }

// minioStartTimeout bounds how long StartMinIO waits for the server to
// answer its liveness probe.
const minioStartTimeout = Patience

// StartMinIO starts a MinIO server on a free loopback port with a
// temporary data directory and stops it when tb ends. The binary is
// $PIER_TEST_MINIO_BIN, else <repo root>/.cache/bin/minio (where `make
// test` builds it), else minio on PATH; if none exists the test skips (or
// fails under PIER_TEST_REQUIRE_SERVERS=1).
func StartMinIO(tb testing.TB) *MinIO {
	tb.Helper()
	bin := findMinIO()
	if bin == "" {
		missing(tb, "minio binary not found (set PIER_TEST_MINIO_BIN, or run `make test`, which builds it into .cache/bin)")
	}
	m := &MinIO{
		AccessKey: "pieradmin",
		SecretKey: "pier-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Region:    "us-east-1",
	}
	dataDir := tb.TempDir()
	// A free port can be taken by someone else between our probe and the
	// server's bind; retry a few times with fresh ports.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(2) // the S3 API's and the console's
		if err != nil {
			tb.Fatalf("testenv: minio: %v", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(ports[0])
		stop, err := runMinIO(bin, dataDir, addr, "127.0.0.1:"+strconv.Itoa(ports[1]), m)
		if err == nil {
			m.Endpoint = "http://" + addr
			m.stop = stop
			tb.Cleanup(stop)
			return m
		}
		lastErr = err
	}
	tb.Fatalf("testenv: minio: %v", lastErr)
	return nil
}

func runMinIO(bin, dataDir, addr, consoleAddr string, m *MinIO) (stop func(), err error) {
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", consoleAddr, dataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_REGION="+m.Region,
	)
	return runChild(cmd, nil, syscall.SIGTERM, 10*time.Second, func(exited <-chan struct{}) error {
		return minioWaitLive(addr, exited)
	})
}

// minioS3Ready reports whether the S3 API answers something other than 503.
func minioS3Ready(ctx context.Context, client *http.Client, addr string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusServiceUnavailable
}

// minioWaitLive polls until MinIO is ready to serve S3 requests — its
// readiness endpoint answers 200 and an anonymous ListBuckets is refused
// (403) rather than answered 503 "server not initialized" — or the process
// exits, or minioStartTimeout passes. (The liveness endpoint answers long
// before the S3 API does.)
func minioWaitLive(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), minioStartTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + addr + "/minio/health/ready"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && minioS3Ready(ctx, client, addr) {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("minio exited before becoming live")
		case <-ctx.Done():
			return fmt.Errorf("minio not live at %s after %s", url, minioStartTimeout)
		case <-tick.C:
		}
	}
}

func findMinIO() string {
	if p := os.Getenv("PIER_TEST_MINIO_BIN"); p != "" {
		return p
	}
	if root := minioRepoRoot(); root != "" {
		p := filepath.Join(root, ".cache", "bin", "minio")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return ""
}

// minioRepoRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func minioRepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
