package testenv

import (
	"net/http"
	"strings"
	"testing"
)

func TestStartMinIO(t *testing.T) {
	var endpoint string
	t.Run("serves", func(t *testing.T) {
		m := StartMinIO(t)
		endpoint = m.Endpoint
		if !strings.HasPrefix(m.Endpoint, "http://127.0.0.1:") {
			t.Errorf("Endpoint = %q, want a loopback URL", m.Endpoint)
		}
		if m.AccessKey == "" || m.SecretKey == "" || m.Region != "us-east-1" {
			t.Errorf("credentials/region not set: %+v", m)
		}
		resp, err := http.Get(m.Endpoint + "/minio/health/live")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("liveness = %d, want 200", resp.StatusCode)
		}
		// An unsigned S3 request is refused: the server enforces the
		// credentials it was given.
		resp, err = http.Get(m.Endpoint + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous ListBuckets = %d, want 403", resp.StatusCode)
		}
	})
	if endpoint == "" {
		return // skipped: no binary
	}
	// The subtest's cleanup stopped the server.
	if resp, err := http.Get(endpoint + "/minio/health/live"); err == nil {
		resp.Body.Close()
		t.Errorf("MinIO still answers at %s after the test ended", endpoint)
	}
}
