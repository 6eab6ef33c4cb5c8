package hosting

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/tenants"
)

// cacheEnv serves the fake blobs' content through the real read cache
// over the local-directory backend, as cmd/pier wires it.
func cacheEnv(tb testing.TB, files map[string]testFile) *env {
	tb.Helper()
	e := newEnv(tb, Config{})
	e.site("site", "d1", files, tenants.DeploymentConfig{})
	store, err := fsblob.New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range e.blobs.data {
		if err := store.Put(context.Background(), k, bytes.NewReader(v), int64(len(v))); err != nil {
			tb.Fatal(err)
		}
	}
	e.edge = New(Config{Domain: "pier.test", Now: e.clock.Now}, e.reg, assets.NewCache(store, 0))
	return e
}

func TestWithAssetsCache(t *testing.T) {
	t.Parallel()
	e := cacheEnv(t, assetSite)
	tests := []struct {
		name, path, accept, body string
	}{
		{"identity", "/app.js", "", appJS},
		{"brotli", "/app.js", "br", "BR-js"},
		{"gzip", "/", "gzip", "GZ-home!"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // miss, then hit
				rec := e.get(tc.path, "site.pier.test", "Accept-Encoding", tc.accept)
				if rec.Code != http.StatusOK || rec.Body.String() != tc.body {
					t.Fatalf("%d %q, want %q", rec.Code, rec.Body.String(), tc.body)
				}
			}
		})
	}
}

// BenchmarkEdgeSmallFileAssetsCache is BenchmarkEdgeSmallFile through the
// real assets.Cache (warm) instead of the map-backed fake.
func BenchmarkEdgeSmallFileAssetsCache(b *testing.B) {
	e := cacheEnv(b, templateSite())
	runBench(b, e, benchRequest("/small.txt", "site.pier.test"), 200)
}
