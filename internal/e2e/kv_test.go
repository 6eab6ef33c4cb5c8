package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// kvCount sends method /count to examples/worker-kv on s and returns the
// count it answers.
func kvCount(s *server, method string) (int64, error) {
	req, err := http.NewRequest(method, "http://"+s.EdgeAddr+"/count", nil)
	if err != nil {
		return 0, err
	}
	req.Host = "worker-kv.localhost"
	resp, err := edgeClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s /count: %d %s", method, resp.StatusCode, b)
	}
	var v struct{ Count int64 }
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, fmt.Errorf("%s /count: %v in %q", method, err, b)
	}
	return v.Count, nil
}

// deployKVCounter creates tenant acme (with request and CPU rates out of
// the way), its namespace "counter" and site worker-kv, and deploys examples/worker-kv (its pier.toml binds the
// namespace as STORE).
func deployKVCounter(t *testing.T, s *server) {
	t.Helper()
	dir := exampleWorker(t, "worker-kv")
	s.pier("tenants", "create", "acme")
	// The counters' bursts of POSTs are the test, not the free plan's
	// request and CPU rates (100 requests per second per site).
	s.pier("tenants", "set-limits", "acme", "requestsPerSecond=100000", "requestBurst=100000", "cpuMsPerSecond=100000")
	if st := s.api("POST", "/api/v1/tenants/acme/kv", s.Token, map[string]string{"name": "counter"}, nil); st != http.StatusCreated {
		t.Fatalf("creating namespace counter: %d", st)
	}
	s.pier("sites", "create", "worker-kv", "--tenant", "acme")
	s.deploy(dir, "worker-kv")
}

// TestKVCounter: 8 clients × 125 increments of examples/worker-kv end at
// exactly 1,000, and the count survives a restart.
func TestKVCounter(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", nil)
	deployKVCounter(t, s)
	if n, err := kvCount(s, "GET"); err != nil || n != 0 {
		t.Fatalf("GET before any POST: %d, %v", n, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 125 {
				if _, err := kvCount(s, "POST"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := kvCount(s, "GET"); err != nil || n != 1000 {
		t.Fatalf("after 8 × 125 increments: %d, %v; want 1000", n, err)
	}
	s.restart()
	if n, err := kvCount(s, "GET"); err != nil || n != 1000 {
		t.Fatalf("after a restart: %d, %v; want 1000", n, err)
	}
	if n, err := kvCount(s, "POST"); err != nil || n != 1001 {
		t.Fatalf("increment after a restart: %d, %v; want 1001", n, err)
	}
}

// TestKVTwoNodes: on two nodes sharing PostgreSQL, an increment on A is
// read on B within a second, although B had the old value cached.
func TestKVTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	minio := testenv.StartMinIO(t)
	pg := testenv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	s3env := []string{"AWS_ACCESS_KEY_ID=" + minio.AccessKey, "AWS_SECRET_ACCESS_KEY=" + minio.SecretKey}
	flags := []string{"--db", dsn, "--s3-endpoint", minio.Endpoint, "--s3-bucket", "pier-kv", "--s3-region", minio.Region}
	a := startPier(t, "", flags, s3env...)
	b := startPier(t, "", flags, s3env...)
	deployKVCounter(t, a)
	testenv.WaitFor(t, testenv.Patience, func() error { _, err := kvCount(b, "GET"); return err })
	for i := int64(1); i <= 5; i++ {
		// B reads (and caches) the current value, A increments.
		if n, err := kvCount(b, "GET"); err != nil || n != i-1 {
			t.Fatalf("B before increment %d: %d, %v", i, n, err)
		}
		if n, err := kvCount(a, "POST"); err != nil || n != i {
			t.Fatalf("increment %d on A: %d, %v", i, n, err)
		}
		start := time.Now()
		testenv.WaitFor(t, testenv.Patience, func() error {
			n, err := kvCount(b, "GET")
			if err == nil && n != i {
				err = fmt.Errorf("B reads %d, want %d", n, i)
			}
			return err
		})
		if d := time.Since(start); d > time.Second {
			t.Errorf("increment %d on A reached B after %v, want within 1 s", i, d)
		}
	}
	// Increments on both nodes at once stay exact.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, s := range []*server{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if _, err := kvCount(s, "POST"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range []*server{a, b} {
		testenv.WaitFor(t, testenv.Patience, func() error {
			n, err := kvCount(s, "GET")
			if err == nil && n != 105 {
				err = fmt.Errorf("reads %d, want 105", n)
			}
			return err
		})
	}
}
