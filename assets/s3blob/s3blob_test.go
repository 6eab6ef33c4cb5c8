package s3blob_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/blobtest"
	"github.com/pierhq/pier/assets/s3blob"
	"github.com/pierhq/pier/internal/testenv"
)

// bucketSeq makes bucket names unique within one test binary; the
// timestamp makes them unique across runs against a shared server.
var bucketSeq atomic.Int64

func uniqueBucket() string {
	return fmt.Sprintf("pier-test-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
}

func newStore(t testing.TB, m *testenv.MinIO, bucket string, mod func(*s3blob.Config)) *s3blob.Store {
	t.Helper()
	cfg := s3blob.Config{
		Endpoint:        m.Endpoint,
		Bucket:          bucket,
		Region:          m.Region,
		AccessKeyID:     m.AccessKey,
		SecretAccessKey: m.SecretKey,
		PathStyle:       true,
		PartSize:        s3blob.MinPartSize,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := s3blob.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	m := testenv.StartMinIO(t)
	blobtest.Run(t, func(t *testing.T) assets.Backend {
		s := newStore(t, m, uniqueBucket(), nil)
		if err := s.EnsureBucket(t.Context()); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
		return s
	})
}

func TestConformanceWithPrefix(t *testing.T) {
	m := testenv.StartMinIO(t)
	bucket := uniqueBucket()
	blobtest.Run(t, func(t *testing.T) assets.Backend {
		s := newStore(t, m, bucket, func(c *s3blob.Config) { c.Prefix = "pier/" + strings.ReplaceAll(t.Name(), "/", "_") + "/" })
		if err := s.EnsureBucket(t.Context()); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
		return s
	})
}

func TestEnsureBucketIdempotent(t *testing.T) {
	m := testenv.StartMinIO(t)
	s := newStore(t, m, uniqueBucket(), nil)
	for i := range 2 {
		if err := s.EnsureBucket(t.Context()); err != nil {
			t.Fatalf("EnsureBucket #%d: %v", i+1, err)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	m := testenv.StartMinIO(t)
	existing := newStore(t, m, uniqueBucket(), nil)
	if err := existing.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	missingBucket := newStore(t, m, uniqueBucket(), nil)
	wrongSecret := newStore(t, m, existing.Bucket(), func(c *s3blob.Config) { c.SecretAccessKey = "not-the-secret" })

	// A port nothing listens on: take a free one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downEndpoint := "http://" + l.Addr().String()
	l.Close()
	down := newStore(t, m, "whatever", func(c *s3blob.Config) {
		c.Endpoint = downEndpoint
		c.MaxAttempts = 1
	})

	key := assets.Key("tenant1", "0123456789abcdef", "")
	tests := []struct {
		name    string
		store   *s3blob.Store
		op      string
		want    error // nil: must wrap neither sentinel
		notWant []error
	}{
		{"missing key get", existing, "get", assets.ErrNotFound, []error{assets.ErrUnavailable}},
		{"missing key size", existing, "size", assets.ErrNotFound, []error{assets.ErrUnavailable}},
		{"missing bucket get", missingBucket, "get", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"missing bucket put", missingBucket, "put", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"missing bucket delete", missingBucket, "delete", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"endpoint down get", down, "get", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"endpoint down size", down, "size", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"endpoint down put", down, "put", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"endpoint down delete", down, "delete", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"endpoint down ensure bucket", down, "ensure", assets.ErrUnavailable, []error{assets.ErrNotFound}},
		{"bad credentials get", wrongSecret, "get", nil, []error{assets.ErrNotFound, assets.ErrUnavailable}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			var err error
			switch tc.op {
			case "get":
				var rc interface{ Close() error }
				rc, err = tc.store.Get(ctx, key)
				if err == nil {
					rc.Close()
				}
			case "size":
				_, err = tc.store.Size(ctx, key)
			case "put":
				err = tc.store.Put(ctx, key, strings.NewReader("data"), 4)
			case "delete":
				err = tc.store.Delete(ctx, key)
			case "ensure":
				err = tc.store.EnsureBucket(ctx)
			}
			if err == nil {
				t.Fatalf("%s succeeded, want an error", tc.op)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("%s error = %v, want it to wrap %v", tc.op, err, tc.want)
			}
			for _, nw := range tc.notWant {
				if errors.Is(err, nw) {
					t.Errorf("%s error = %v, must not wrap %v", tc.op, err, nw)
				}
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  s3blob.Config
	}{
		{"no bucket", s3blob.Config{Endpoint: "http://127.0.0.1:1"}},
		{"part size too small", s3blob.Config{Bucket: "b", PartSize: 1 << 20}},
		{"part size too large", s3blob.Config{Bucket: "b", PartSize: 6 << 30}},
		{"key without secret", s3blob.Config{Bucket: "b", AccessKeyID: "AKIA"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s3blob.New(t.Context(), tc.cfg); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

// TestErrorMappingStatuses drives the real SDK against a server that
// answers every request with one S3 error, as a throttled or failing
// service would.
func TestErrorMappingStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		code   string
		want   error // nil: neither sentinel
	}{
		{"slow down", http.StatusServiceUnavailable, "SlowDown", assets.ErrUnavailable},
		{"internal error", http.StatusInternalServerError, "InternalError", assets.ErrUnavailable},
		{"bad gateway without code", http.StatusBadGateway, "", assets.ErrUnavailable},
		{"too many requests", http.StatusTooManyRequests, "TooManyRequests", assets.ErrUnavailable},
		{"no such key", http.StatusNotFound, "NoSuchKey", assets.ErrNotFound},
		{"no such bucket", http.StatusNotFound, "NoSuchBucket", assets.ErrUnavailable},
		{"access denied", http.StatusForbidden, "AccessDenied", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				if tc.code != "" {
					fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test</Message></Error>`, tc.code)
				}
			}))
			defer srv.Close()
			s, err := s3blob.New(t.Context(), s3blob.Config{
				Endpoint: srv.URL, Bucket: "b", AccessKeyID: "k", SecretAccessKey: "s",
				PathStyle: true, MaxAttempts: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			rc, err := s.Get(t.Context(), "t/x/0123456789abcdef")
			if err == nil {
				rc.Close()
				t.Fatal("Get succeeded")
			}
			for _, sentinel := range []error{assets.ErrNotFound, assets.ErrUnavailable} {
				if got, want := errors.Is(err, sentinel), sentinel == tc.want; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, sentinel, got, want)
				}
			}
		})
	}
}
