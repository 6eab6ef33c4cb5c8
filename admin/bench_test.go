package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/pierhq/pier/assets"
)

// BenchmarkCreateUploadSession10k measures creating an upload session for
// a 10,000-file manifest (decode, validate, save, missing-hash query)
// against SQLite, half of whose blobs are already recorded.
func BenchmarkCreateUploadSession10k(b *testing.B) {
	e := newEnv(b)
	_, tok := e.tenant(b, "acme")
	salt := e.site(b, tok, "www")
	m := map[string]any{}
	for i := range 10_000 {
		c := fmt.Appendf(nil, "file %d", i)
		m[fmt.Sprintf("/dir%d/file%d.html", i%100, i)] = map[string]any{"hash": assets.Hash(salt, c), "size": len(c)}
	}
	body, err := json.Marshal(map[string]any{"manifest": m})
	if err != nil {
		b.Fatal(err)
	}
	// Record half of the blobs, as after an earlier deploy.
	first := must(b, e.do(b, "POST", "/api/v1/sites/www/uploads", tok, body), 201)
	for i := range 5_000 {
		c := fmt.Appendf(nil, "file %d", i)
		must(b, e.putBlob(b, tok, first.str("id"), assets.Hash(salt, c), c), 204)
	}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		r := e.do(b, "POST", "/api/v1/sites/www/uploads", tok, body)
		if r.status != 201 || len(r.body["missing"].([]any)) != 5_000 {
			b.Fatalf("status %d, body %.200s", r.status, r.raw)
		}
	}
}

// BenchmarkBlobUpload measures one verified 4 KiB text blob upload over
// HTTP (hash check, store, brotli and gzip variants, index record). Every
// iteration uploads a new blob; sessions of 1,024 blobs are created with
// the timer stopped.
func BenchmarkBlobUpload(b *testing.B) {
	e := newEnv(b)
	_, tok := e.tenant(b, "acme")
	salt := e.site(b, tok, "www")
	rng := rand.New(rand.NewPCG(1, 2))
	const n, pool = 4096, 1024
	words := []string{"pier ", "edge ", "<p>", "</p>\n", "tenant ", "site ", "deploy "}
	serial := 0
	newSession := func() (string, [][]byte) {
		blobs := make([][]byte, 0, pool)
		manifest := map[string]any{}
		for range pool {
			var buf bytes.Buffer
			fmt.Fprintf(&buf, "<!-- %d -->", serial)
			serial++
			for buf.Len() < n {
				buf.WriteString(words[rng.IntN(len(words))])
			}
			c := buf.Bytes()[:n]
			blobs = append(blobs, c)
			manifest[fmt.Sprintf("/p%d.html", len(blobs))] = map[string]any{"hash": assets.Hash(salt, c), "size": n}
		}
		up := must(b, e.do(b, "POST", "/api/v1/sites/www/uploads", tok, map[string]any{"manifest": manifest}), 201).str("id")
		return up, blobs
	}
	up, blobs := newSession()
	b.SetBytes(n)
	b.ResetTimer()
	for b.Loop() {
		if len(blobs) == 0 {
			b.StopTimer()
			up, blobs = newSession()
			b.StartTimer()
		}
		c := blobs[0]
		blobs = blobs[1:]
		req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/uploads/"+up+"/blobs/"+assets.Hash(salt, c), bytes.NewReader(c))
		req.Header.Set("Authorization", "Bearer "+tok)
		if r := e.send(b, req); r.status != 204 {
			b.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
}
