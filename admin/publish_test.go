package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// TestPublishPipeline drives session → missing → upload → deploy →
// activate → rollback against SQLite and a blob directory.
func TestPublishPipeline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	ctx := context.Background()

	html := "<!doctype html><title>hi</title>" + strings.Repeat("<p>hello, world</p>\n", 200)
	v1 := files{
		"/index.html":   html,
		"/copy.html":    html, // same content: one blob
		"/logo.png":     "\x89PNG not really an image",
		"/_headers":     "/*\n  X-Frame-Options: DENY\n",
		"/_redirects":   "/old /new 301\n",
		"/app/main.js":  strings.Repeat("console.log('pier');\n", 100),
		"/empty.txt":    "",
		"/data/big.bin": strings.Repeat("\x00\x01", 1<<20), // 2 MiB: spooled to disk
	}
	var dep1 resp
	t.Run("first upload: every unique hash is missing, sorted", func(t *testing.T) {
		up, missing := e.startUpload(t, tok, "www", salt, v1)
		if len(missing) != len(v1)-1 {
			t.Fatalf("%d missing, want %d", len(missing), len(v1)-1)
		}
		for i := 1; i < len(missing); i++ {
			if missing[i-1] >= missing[i] {
				t.Fatalf("missing not sorted and unique: %v", missing)
			}
		}
		t.Run("deploying before uploading names the missing blobs", func(t *testing.T) {
			r := e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up})
			wantErr(t, r, 400, "missing_blobs")
			if n := len(r.errField("missing").([]any)); n != len(missing) {
				t.Fatalf("missing lists %d hashes, want %d", n, len(missing))
			}
		})
		byHash := map[string]string{}
		for _, c := range v1 {
			byHash[assets.Hash(salt, []byte(c))] = c
		}
		for _, h := range missing {
			must(t, e.putBlob(t, tok, up, h, []byte(byHash[h])), 204)
		}
		t.Run("re-upload is idempotent", func(t *testing.T) {
			must(t, e.putBlob(t, tok, up, missing[0], []byte(byHash[missing[0]])), 204)
		})
		dep1 = must(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{
			"upload": up,
			"config": map[string]any{"not_found_handling": "404-page", "vars": map[string]string{"A": "b"}},
			"source": map[string]any{"type": "cli", "commit": "abc123"},
		}), 201)
		t.Run("the session is gone after the deploy", func(t *testing.T) {
			wantErr(t, e.putBlob(t, tok, up, missing[0], []byte(byHash[missing[0]])), 404, "not_found")
		})
	})
	id1 := dep1.str("id")
	t.Run("deployment answer", func(t *testing.T) {
		if len(id1) != 8 || dep1.body["active"] != true || dep1.str("url") != "http://www.pier.test:8080/" ||
			dep1.str("preview_url") != "http://"+id1+"--www.pier.test:8080/" {
			t.Fatalf("deployment %s", dep1.raw)
		}
		if dep1.body["files"] != float64(len(v1)-2) {
			t.Errorf("files %v, want %d (rules files are not files)", dep1.body["files"], len(v1)-2)
		}
		cfg := dep1.body["config"].(map[string]any)
		if cfg["html_handling"] != "auto-trailing-slash" || cfg["not_found_handling"] != "404-page" ||
			cfg["headers"] != v1["/_headers"] || cfg["redirects"] != v1["/_redirects"] {
			t.Errorf("config %v", cfg)
		}
		if src := dep1.body["source"].(map[string]any); src["type"] != "cli" || src["commit"] != "abc123" {
			t.Errorf("source %v", src)
		}
		if e.activeDeployment(t, tok, "www") != id1 {
			t.Errorf("site's active deployment is not %s", id1)
		}
		acts := e.acts.list()
		if last := acts[len(acts)-1]; last.Name != "www" || last.ActiveDeployment != id1 {
			t.Errorf("OnActivate got %+v", last)
		}
	})
	t.Run("stored deployment: manifest, content types, variants", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments/"+id1, tok, nil), 200)
		m := r.body["manifest"].(map[string]any)
		if _, ok := m["/_headers"]; ok {
			t.Errorf("_headers is served as a file")
		}
		if _, ok := m["/_redirects"]; ok {
			t.Errorf("_redirects is served as a file")
		}
		idx := m["/index.html"].(map[string]any)
		if idx["content_type"] != "text/html; charset=utf-8" || idx["br_size"] == nil || idx["gz_size"] == nil {
			t.Errorf("/index.html entry %v", idx)
		}
		if png := m["/logo.png"].(map[string]any); png["content_type"] != "image/png" || png["br_size"] != nil {
			t.Errorf("/logo.png entry %v", png)
		}
		h := assets.Hash(salt, []byte(html))
		for _, v := range []string{"", "br", "gz"} {
			if _, err := e.blobs.Size(ctx, assets.Key(tid, h, v)); err != nil {
				t.Errorf("blob variant %q: %v", v, err)
			}
		}
		big := assets.Hash(salt, []byte(v1["/data/big.bin"]))
		if n, err := e.blobs.Size(ctx, assets.Key(tid, big, "")); err != nil || n != 2<<20 {
			t.Errorf("spooled blob size %d, %v", n, err)
		}
		rc, err := e.blobs.Get(ctx, assets.Key(tid, h, ""))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != html {
			t.Errorf("stored content differs")
		}
	})

	var id2 string
	t.Run("redeploy with one changed file uploads exactly one blob", func(t *testing.T) {
		v2 := files{}
		for p, c := range v1 {
			v2[p] = c
		}
		v2["/index.html"] = html + "<p>v2</p>"
		up, missing := e.startUpload(t, tok, "www", salt, v2)
		if len(missing) != 1 || missing[0] != assets.Hash(salt, []byte(v2["/index.html"])) {
			t.Fatalf("missing %v, want just the new index.html", missing)
		}
		must(t, e.putBlob(t, tok, up, missing[0], []byte(v2["/index.html"])), 204)
		r := must(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up}), 201)
		id2 = r.str("id")
		if e.activeDeployment(t, tok, "www") != id2 {
			t.Fatalf("redeploy is not live")
		}
	})
	t.Run("list is newest first with one active", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments", tok, nil), 200)
		list := r.body["deployments"].([]any)
		if len(list) != 2 {
			t.Fatalf("%d deployments", len(list))
		}
		first, second := list[0].(map[string]any), list[1].(map[string]any)
		if first["id"] != id2 || first["active"] != true || second["id"] != id1 || second["active"] != false {
			t.Fatalf("deployments %s", r.raw)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/sites/www/deployments/"+id1+"/activate", tok, nil), 200)
		if r.str("id") != id1 || r.body["active"] != true {
			t.Fatalf("activate answer %s", r.raw)
		}
		if e.activeDeployment(t, tok, "www") != id1 {
			t.Fatalf("rollback did not go live")
		}
		acts := e.acts.list()
		if last := acts[len(acts)-1]; last.ActiveDeployment != id1 {
			t.Errorf("OnActivate got %+v", last)
		}
		wantErr(t, e.do(t, "POST", "/api/v1/sites/www/deployments/nope1234/activate", tok, nil), 404, "not_found")
		wantErr(t, e.do(t, "GET", "/api/v1/sites/www/deployments/nope1234", tok, nil), 404, "not_found")
	})
	t.Run("deploy without activating", func(t *testing.T) {
		r := must(t, e.publish(t, tok, "www", salt, files{"/x.html": "x"}, map[string]any{"activate": false}), 201)
		if r.body["active"] != false || e.activeDeployment(t, tok, "www") != id1 {
			t.Fatalf("an inactive deploy went live: %s", r.raw)
		}
	})
}

func TestCreateUploadErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withLimits(assets.Limits{MaxFiles: 3, MaxFileSize: 100}), withMaxBody(4096))
	_, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	h := assets.Hash(salt, []byte("x"))
	entry := map[string]any{"hash": h, "size": 1}
	for _, tc := range []struct {
		name    string
		body    any
		status  int
		code    string
		details map[string]any
	}{
		{"path not clean", map[string]any{"manifest": map[string]any{"/a/../b": entry}}, 400, "path_invalid", map[string]any{"path": "/a/../b"}},
		{"relative path", map[string]any{"manifest": map[string]any{"a.html": entry}}, 400, "path_invalid", map[string]any{"path": "a.html"}},
		{"file too large", map[string]any{"manifest": map[string]any{"/big.bin": map[string]any{"hash": h, "size": 101}}}, 413, "file_too_large", map[string]any{"path": "/big.bin", "limit": 100.0}},
		{"too many files", map[string]any{"manifest": map[string]any{"/1": entry, "/2": entry, "/3": entry, "/4": entry}}, 413, "too_many_files", map[string]any{"limit": 3.0}},
		{"bad hash", map[string]any{"manifest": map[string]any{"/a": map[string]any{"hash": "XYZ", "size": 1}}}, 400, "hash_invalid", map[string]any{"path": "/a"}},
		{"body too large", map[string]any{"manifest": map[string]any{"/" + strings.Repeat("a", 5000): entry}}, 413, "body_too_large", map[string]any{"limit": 4096.0}},
		{"no manifest", map[string]any{}, 400, "invalid", map[string]any{"field": "manifest"}},
		{"unknown field", map[string]any{"manifest": map[string]any{}, "x": 1}, 400, "invalid", map[string]any{"field": "x"}},
		{"manifest not an object", map[string]any{"manifest": []int{1}}, 400, "invalid", map[string]any{"field": "manifest"}},
		{"size not a number", map[string]any{"manifest": map[string]any{"/a": map[string]any{"hash": h, "size": "1"}}}, 400, "invalid", map[string]any{"field": "manifest[/a].size"}},
		{"duplicate path", `{"manifest":{"/a":{"hash":"` + h + `","size":1},"/a":{"hash":"` + h + `","size":1}}}`, 400, "invalid", map[string]any{"field": "manifest"}},
		{"truncated JSON", `{"manifest":{"/a":`, 400, "invalid", map[string]any{"field": "body"}},
		{"trailing data", `{"manifest":{}} {}`, 400, "invalid", map[string]any{"field": "body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/api/v1/sites/www/uploads", tok, tc.body)
			wantErr(t, r, tc.status, tc.code)
			for k, v := range tc.details {
				if got := r.errField(k); got != v {
					t.Errorf("error.%s = %v, want %v", k, got, v)
				}
			}
		})
	}
	t.Run("client content types are ignored", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/sites/www/uploads", tok, map[string]any{"manifest": map[string]any{
			"/a.css": map[string]any{"hash": h, "size": 1, "content_type": "application/x-evil"},
		}}), 201)
		s, err := e.store.UploadSession(context.Background(), r.str("id"))
		if err != nil {
			t.Fatal(err)
		}
		if ct := s.Manifest["/a.css"].ContentType; ct != "text/css; charset=utf-8" {
			t.Fatalf("content type %q", ct)
		}
	})
	t.Run("unknown site", func(t *testing.T) {
		wantErr(t, e.do(t, "POST", "/api/v1/sites/nope/uploads", tok, manifestOf(salt, files{"/a": "x"})), 404, "not_found")
	})
}

func TestPutBlobErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	content := []byte("<p>the real content</p>")
	h := assets.Hash(salt, content)
	up, _ := e.startUpload(t, tok, "www", salt, files{"/a.html": string(content)})
	ctx := context.Background()

	nothingStored := func(t *testing.T) {
		t.Helper()
		if _, err := e.blobs.Size(ctx, assets.Key(tid, h, "")); !errors.Is(err, assets.ErrNotFound) {
			t.Errorf("blob stored after a failed upload (err %v)", err)
		}
		if got, err := e.store.Blobs(ctx, tid, []string{h}); err != nil || len(got) != 0 {
			t.Errorf("blob recorded after a failed upload: %v %v", got, err)
		}
	}
	t.Run("hash mismatch", func(t *testing.T) {
		other := bytes.Replace(content, []byte("real"), []byte("fake"), 1)
		r := e.putBlob(t, tok, up, h, other)
		wantErr(t, r, 400, "hash_mismatch")
		if r.errField("hash") != h || r.errField("computed") != assets.Hash(salt, other) {
			t.Errorf("error %s", r.raw)
		}
		nothingStored(t)
	})
	t.Run("hashed without the salt", func(t *testing.T) {
		unsalted := assets.Hash(nil, content)
		r := must(t, e.do(t, "POST", "/api/v1/sites/www/uploads", tok, map[string]any{"manifest": map[string]any{
			"/u.html": map[string]any{"hash": unsalted, "size": len(content)},
		}}), 201)
		r = e.putBlob(t, tok, r.str("id"), unsalted, content)
		wantErr(t, r, 400, "hash_mismatch")
		if r.errField("computed") != h {
			t.Errorf("error %s", r.raw)
		}
		nothingStored(t)
	})
	t.Run("size mismatch", func(t *testing.T) {
		r := e.putBlob(t, tok, up, h, append(content, '!'))
		wantErr(t, r, 400, "size_mismatch")
		if r.errField("size") != float64(len(content)) {
			t.Errorf("error %s", r.raw)
		}
		nothingStored(t)
	})
	t.Run("no content length", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/uploads/"+up+"/blobs/"+h, io.MultiReader(bytes.NewReader(content)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.ContentLength = -1 // chunked
		wantErr(t, e.send(t, req), 411, "length_required")
		nothingStored(t)
	})
	t.Run("hash not in the manifest", func(t *testing.T) {
		x := []byte("x")
		wantErr(t, e.putBlob(t, tok, up, assets.Hash(salt, x), x), 404, "not_found")
	})
	t.Run("unknown session", func(t *testing.T) {
		wantErr(t, e.putBlob(t, tok, "up_nope", h, content), 404, "not_found")
	})
	t.Run("admin may upload to any session", func(t *testing.T) {
		must(t, e.putBlob(t, e.admin, up, h, content), 204)
	})
	t.Run("expired session", func(t *testing.T) {
		c2 := []byte("later")
		up2, _ := e.startUpload(t, tok, "www", salt, files{"/later.txt": string(c2)})
		e.clock.Advance(time.Hour + time.Second)
		defer e.clock.Advance(-time.Hour - time.Second)
		wantErr(t, e.putBlob(t, tok, up2, assets.Hash(salt, c2), c2), 404, "not_found")
		wantErr(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up2}), 404, "not_found")
	})
}

func TestExpireUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	up, _ := e.startUpload(t, tok, "www", salt, files{"/a": "a"})
	e.clock.Advance(30 * time.Minute)
	up2, _ := e.startUpload(t, tok, "www", salt, files{"/b": "b"})
	e.clock.Advance(31 * time.Minute)
	n, err := e.api.ExpireUploads(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ExpireUploads = %d, %v; want 1", n, err)
	}
	if _, err := e.store.UploadSession(context.Background(), up); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("expired session still there: %v", err)
	}
	if _, err := e.store.UploadSession(context.Background(), up2); err != nil {
		t.Fatalf("live session deleted: %v", err)
	}
}

func TestDeployErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	e.setLimits(t, id, map[string]int{"uploadSessions": 100}) // every refused deploy keeps its session open
	salt := e.site(t, tok, "www")
	e.site(t, tok, "blog")
	live := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "v1"}, nil), 201).str("id")

	for _, tc := range []struct {
		name   string
		fs     files
		extra  map[string]any
		status int
		code   string
		check  func(t *testing.T, r resp)
	}{
		{
			name:   "bad _redirects names file and line",
			fs:     files{"/index.html": "v2", "/_redirects": "/a /b 301\n/c /d 999\n"},
			status: 400, code: "rules_invalid",
			check: func(t *testing.T, r resp) {
				if r.errField("file") != "_redirects" || r.errField("line") != 2.0 {
					t.Errorf("error %s", r.raw)
				}
			},
		},
		{
			name:   "bad _headers names file and line",
			fs:     files{"/index.html": "v2", "/_headers": "/*\n  X-A: b\nnot a header line\n"},
			status: 400, code: "rules_invalid",
			check: func(t *testing.T, r resp) {
				if r.errField("file") != "_headers" || r.errField("line") != 3.0 {
					t.Errorf("error %s", r.raw)
				}
			},
		},
		{
			name: "bad html_handling", fs: files{"/index.html": "v2"},
			extra:  map[string]any{"config": map[string]any{"html_handling": "sometimes"}},
			status: 400, code: "invalid",
			check: func(t *testing.T, r resp) {
				if r.errField("field") != "config.html_handling" {
					t.Errorf("error %s", r.raw)
				}
			},
		},
		{
			name: "bad not_found_handling", fs: files{"/index.html": "v2"},
			extra:  map[string]any{"config": map[string]any{"not_found_handling": "teapot"}},
			status: 400, code: "invalid",
			check: func(t *testing.T, r resp) {
				if r.errField("field") != "config.not_found_handling" {
					t.Errorf("error %s", r.raw)
				}
			},
		},
		{
			name: "config may not smuggle rules", fs: files{"/index.html": "v2"},
			extra:  map[string]any{"config": map[string]any{"redirects": "/a /b"}},
			status: 400, code: "invalid",
		},
		{
			name: "bad source type", fs: files{"/index.html": "v2"},
			extra:  map[string]any{"source": map[string]any{"type": "ftp"}},
			status: 400, code: "invalid",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.publish(t, tok, "www", salt, tc.fs, tc.extra)
			wantErr(t, r, tc.status, tc.code)
			if tc.check != nil {
				tc.check(t, r)
			}
			if got := e.activeDeployment(t, tok, "www"); got != live {
				t.Fatalf("live deployment changed to %s", got)
			}
			l := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments", tok, nil), 200)
			if n := len(l.body["deployments"].([]any)); n != 1 {
				t.Fatalf("%d deployments after a failed deploy", n)
			}
		})
	}
	t.Run("session of another site", func(t *testing.T) {
		up, _ := e.startUpload(t, tok, "blog", salt, files{"/index.html": "v1"})
		wantErr(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up}), 404, "not_found")
	})
	t.Run("no upload", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{})
		wantErr(t, r, 400, "invalid")
		if r.errField("field") != "upload" {
			t.Errorf("error %s", r.raw)
		}
	})
}

// flakyBackend wraps a Backend and fails the calls its func fields say.
type flakyBackend struct {
	assets.Backend
	failPut func(key string) bool
	failGet func(key string) bool
}

var errDiskOnFire = errors.New("disk on fire")

func (f *flakyBackend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.failPut != nil && f.failPut(key) {
		io.Copy(io.Discard, r)
		return fmt.Errorf("flaky: %w", errDiskOnFire)
	}
	return f.Backend.Put(ctx, key, r, size)
}

func (f *flakyBackend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if f.failGet != nil && f.failGet(key) {
		return nil, fmt.Errorf("flaky: %w", assets.ErrUnavailable)
	}
	return f.Backend.Get(ctx, key)
}

func TestFailingBackend(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	mode := "" // "all" fails every call, "gz" fails puts of gzip variants
	setMode := func(m string) { mu.Lock(); mode = m; mu.Unlock() }
	fail := func(k string) bool {
		mu.Lock()
		defer mu.Unlock()
		return mode == "all" || mode == "gz" && strings.HasSuffix(k, ".gz")
	}
	e := newEnv(t, withBackend(func(b assets.Backend) assets.Backend {
		return &flakyBackend{Backend: b, failPut: fail, failGet: fail}
	}))
	tid, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	live := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "v1", "/_redirects": "/a /b\n"}, nil), 201).str("id")
	ctx := context.Background()

	t.Run("put fails: 503 and nothing recorded", func(t *testing.T) {
		c := []byte("v2")
		up, missing := e.startUpload(t, tok, "www", salt, files{"/index.html": string(c)})
		setMode("all")
		wantErr(t, e.putBlob(t, tok, up, missing[0], c), 503, "storage_unavailable")
		setMode("")
		if got, _ := e.store.Blobs(ctx, tid, missing); len(got) != 0 {
			t.Fatalf("blob recorded after a failed put: %v", got)
		}
		wantErr(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up}), 400, "missing_blobs")
	})
	t.Run("variant put fails: 503 and nothing recorded", func(t *testing.T) {
		c := []byte(strings.Repeat("<p>compressible</p>", 100))
		up, missing := e.startUpload(t, tok, "www", salt, files{"/index.html": string(c)})
		setMode("gz")
		wantErr(t, e.putBlob(t, tok, up, missing[0], c), 503, "storage_unavailable")
		setMode("")
		if got, _ := e.store.Blobs(ctx, tid, missing); len(got) != 0 {
			t.Fatalf("blob recorded after a failed put: %v", got)
		}
		must(t, e.putBlob(t, tok, up, missing[0], c), 204) // the retry succeeds
	})
	t.Run("reading _redirects fails at deploy: 503, live unchanged", func(t *testing.T) {
		fs := files{"/index.html": "v3", "/_redirects": "/a /c\n"}
		up, missing := e.startUpload(t, tok, "www", salt, fs)
		for _, c := range fs {
			if h := assets.Hash(salt, []byte(c)); contains(missing, h) {
				must(t, e.putBlob(t, tok, up, h, []byte(c)), 204)
			}
		}
		setMode("all")
		wantErr(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up}), 503, "storage_unavailable")
		setMode("")
		if got := e.activeDeployment(t, tok, "www"); got != live {
			t.Fatalf("live deployment changed to %s", got)
		}
		// The session survives the failure; the retry succeeds.
		must(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up}), 201)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestConcurrentDeploys runs two deploys of one site at once: both
// succeed, and the site ends on one of them, consistent with OnActivate's
// last call.
func TestConcurrentDeploys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	sessions := make([]string, 2)
	for i := range sessions {
		c := fmt.Sprintf("version %d", i)
		up, missing := e.startUpload(t, tok, "www", salt, files{"/index.html": c, "/shared.css": "body{}"})
		for _, h := range missing {
			if h == assets.Hash(salt, []byte(c)) {
				must(t, e.putBlob(t, tok, up, h, []byte(c)), 204)
			} else {
				must(t, e.putBlob(t, tok, up, h, []byte("body{}")), 204)
			}
		}
		sessions[i] = up
	}
	ids := make([]string, 2)
	var wg sync.WaitGroup
	for i, up := range sessions {
		wg.Go(func() {
			r := e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up})
			if r.status != 201 {
				t.Errorf("deploy %d: %d %s", i, r.status, r.raw)
			}
			ids[i] = r.str("id")
		})
	}
	wg.Wait()
	active := e.activeDeployment(t, tok, "www")
	if active != ids[0] && active != ids[1] {
		t.Fatalf("active %q is neither of %v", active, ids)
	}
	l := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments", tok, nil), 200)
	if n := len(l.body["deployments"].([]any)); n != 2 {
		t.Fatalf("%d deployments, want 2", n)
	}
	// The later activation wins.
	for _, id := range []string{ids[0], ids[1], ids[0]} {
		must(t, e.do(t, "POST", "/api/v1/sites/www/deployments/"+id+"/activate", tok, nil), 200)
		if got := e.activeDeployment(t, tok, "www"); got != id {
			t.Fatalf("active %s after activating %s", got, id)
		}
	}
}
