package admin_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/assets"
)

// validator is a fake Config.ValidateWorker: it records the modules it is
// given and rejects those that do not start with the wasm magic.
type validator struct {
	mu   sync.Mutex
	seen [][]byte
}

var wasmMagic = []byte("\x00asm\x01\x00\x00\x00")

func (v *validator) validate(_ context.Context, wasm []byte) error {
	v.mu.Lock()
	v.seen = append(v.seen, bytes.Clone(wasm))
	v.mu.Unlock()
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return errors.New("not a WebAssembly module: bad magic number")
	}
	return nil
}

func (v *validator) calls() [][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([][]byte(nil), v.seen...)
}

// workerField is the upload request's "worker" for wasm hashed with salt.
func workerField(salt, wasm []byte) map[string]any {
	return map[string]any{"hash": assets.Hash(salt, wasm), "size": len(wasm)}
}

// publishWorker runs the pipeline for fs and a worker and returns the
// deployment answer.
func (e *env) publishWorker(t *testing.T, token, site string, salt []byte, fs files, wasm []byte, extra map[string]any) resp {
	t.Helper()
	body := manifestOf(salt, fs)
	body["worker"] = workerField(salt, wasm)
	r := must(t, e.do(t, "POST", "/api/v1/sites/"+site+"/uploads", token, body), 201)
	byHash := map[string][]byte{assets.Hash(salt, wasm): wasm}
	for _, c := range fs {
		byHash[assets.Hash(salt, []byte(c))] = []byte(c)
	}
	for _, h := range r.body["missing"].([]any) {
		must(t, e.putBlob(t, token, r.str("id"), h.(string), byHash[h.(string)]), 204)
	}
	req := map[string]any{"upload": r.str("id")}
	for k, v := range extra {
		req[k] = v
	}
	return e.do(t, "POST", "/api/v1/sites/"+site+"/deployments", token, req)
}

func TestWorkerPublish(t *testing.T) {
	t.Parallel()
	v := &validator{}
	e := newEnv(t, withWorkers(v.validate))
	tenantID, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	// A text-like worker: it must still be stored as is, without variants.
	wasm := append(bytes.Clone(wasmMagic), bytes.Repeat([]byte("compressible "), 200)...)
	hash := assets.Hash(salt, wasm)

	body := manifestOf(salt, files{"/index.html": "home"})
	body["worker"] = workerField(salt, wasm)
	up := must(t, e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body), 201)
	missing := up.body["missing"].([]any)
	if !contains(anyStrings(missing), hash) || len(missing) != 2 {
		t.Fatalf("missing = %v, want the page and the worker %s", missing, hash)
	}
	t.Run("worker upload is verified", func(t *testing.T) {
		bad := bytes.Clone(wasm)
		bad[len(bad)-1] ^= 1
		wantErr(t, e.putBlob(t, tok, up.str("id"), hash, bad), 400, "hash_mismatch")
	})
	for _, h := range missing {
		content := wasm
		if h != hash {
			content = []byte("home")
		}
		must(t, e.putBlob(t, tok, up.str("id"), h.(string), content), 204)
	}
	d := must(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{
		"upload": up.str("id"),
		"config": map[string]any{"run_worker_first": []string{"/api/*", "!/api/static/*"}, "vars": map[string]string{"GREETING": "hi"}},
	}), 201)
	if d.str("worker") != hash {
		t.Errorf("deployment worker = %q, want %s", d.str("worker"), hash)
	}
	if calls := v.calls(); len(calls) != 1 || !bytes.Equal(calls[0], wasm) {
		t.Errorf("ValidateWorker called %d times (want once, with the uploaded module)", len(calls))
	}
	got := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments/"+d.str("id"), tok, nil), 200)
	if got.str("worker") != hash {
		t.Errorf("GET deployment worker = %q", got.str("worker"))
	}
	if size, _ := got.body["worker_size"].(float64); int(size) != len(wasm) {
		t.Errorf("GET deployment worker_size = %v, want %d", got.body["worker_size"], len(wasm))
	}
	if _, ok := d.body["worker_size"]; ok {
		t.Errorf("the deploy answer has worker_size %v: only GET of one deployment does", d.body["worker_size"])
	}
	if _, ok := got.body["manifest"].(map[string]any)["/index.html"]; !ok || len(got.body["manifest"].(map[string]any)) != 1 {
		t.Errorf("manifest %v: the worker must not become a file", got.body["manifest"])
	}
	cfg := got.body["config"].(map[string]any)
	if rwf := anyStrings(cfg["run_worker_first"].([]any)); strings.Join(rwf, " ") != "/api/* !/api/static/*" {
		t.Errorf("run_worker_first = %v", rwf)
	}
	if cfg["vars"].(map[string]any)["GREETING"] != "hi" {
		t.Errorf("vars = %v", cfg["vars"])
	}
	for _, variant := range []string{assets.VariantBrotli, assets.VariantGzip} {
		if rc, err := e.blobs.Get(context.Background(), assets.Key(tenantID, hash, variant)); err == nil {
			rc.Close()
			t.Errorf("the worker has a %s variant", variant)
		}
	}
	if rc, err := e.blobs.Get(context.Background(), assets.Key(tenantID, hash, assets.VariantIdentity)); err != nil {
		t.Errorf("worker blob not stored: %v", err)
	} else {
		rc.Close()
	}

	t.Run("redeploy does not upload the worker again", func(t *testing.T) {
		body := manifestOf(salt, files{"/index.html": "home"})
		body["worker"] = workerField(salt, wasm)
		r := must(t, e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body), 201)
		if m := r.body["missing"].([]any); len(m) != 0 {
			t.Fatalf("missing = %v, want none", m)
		}
		d2 := must(t, e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": r.str("id")}), 201)
		if d2.str("worker") != hash {
			t.Errorf("worker = %q", d2.str("worker"))
		}
	})
	t.Run("a deployment without a worker has none", func(t *testing.T) {
		d3 := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "static"}, nil), 201)
		if _, ok := d3.body["worker"]; ok {
			t.Errorf("worker %v in a static deployment", d3.body["worker"])
		}
		got := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments/"+d3.str("id"), tok, nil), 200)
		if _, ok := got.body["worker_size"]; ok {
			t.Errorf("worker_size %v in a static deployment", got.body["worker_size"])
		}
	})
	t.Run("worker with the hash of a file", func(t *testing.T) {
		// The same content as a file and as the worker: one blob.
		fs := files{"/app.wasm": string(wasm), "/index.html": "home"}
		d4 := must(t, e.publishWorker(t, tok, "www", salt, fs, wasm, nil), 201)
		if d4.str("worker") != hash {
			t.Errorf("worker = %q", d4.str("worker"))
		}
	})
}

func anyStrings(l []any) []string {
	out := make([]string, len(l))
	for i, x := range l {
		out[i], _ = x.(string)
	}
	return out
}

func TestWorkerDeployErrors(t *testing.T) {
	t.Parallel()
	good := append(bytes.Clone(wasmMagic), "good"...)

	t.Run("invalid worker", func(t *testing.T) {
		v := &validator{}
		e := newEnv(t, withWorkers(v.validate))
		_, tok := e.tenant(t, "acme")
		salt := e.site(t, tok, "www")
		live := must(t, e.publishWorker(t, tok, "www", salt, files{"/index.html": "v1"}, good, nil), 201).str("id")
		r := e.publishWorker(t, tok, "www", salt, files{"/index.html": "v2"}, []byte("#!/bin/sh\necho not wasm\n"), nil)
		wantErr(t, r, 400, "worker_invalid")
		if msg, _ := r.errField("message").(string); !strings.Contains(msg, "bad magic number") {
			t.Errorf("message %q does not carry the runtime's reason", msg)
		}
		// The validator's text is shown as is: the runtime's own says
		// "worker: invalid module: …" once, with nothing added around it.
		if msg, _ := r.errField("message").(string); msg != "not a WebAssembly module: bad magic number" {
			t.Errorf("message %q, want the validator's text as is", msg)
		}
		if got := e.activeDeployment(t, tok, "www"); got != live {
			t.Errorf("live deployment changed to %s", got)
		}
		l := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments", tok, nil), 200)
		if n := len(l.body["deployments"].([]any)); n != 1 {
			t.Errorf("%d deployments after a failed deploy", n)
		}
	})

	t.Run("workers disabled", func(t *testing.T) {
		e := newEnv(t)
		_, tok := e.tenant(t, "acme")
		salt := e.site(t, tok, "www")
		body := manifestOf(salt, files{"/index.html": "v1"})
		body["worker"] = workerField(salt, good)
		wantErr(t, e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body), 400, "workers_disabled")
		// Static deploys still work.
		must(t, e.publish(t, tok, "www", salt, files{"/index.html": "v1"}, nil), 201)
	})

	t.Run("worker too large", func(t *testing.T) {
		v := &validator{}
		e := newEnv(t, withWorkers(v.validate), withMaxWorkerSize(8))
		_, tok := e.tenant(t, "acme")
		salt := e.site(t, tok, "www")
		body := manifestOf(salt, files{"/index.html": "v1"})
		body["worker"] = workerField(salt, good)
		r := e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body)
		wantErr(t, r, 413, "worker_too_large")
		if r.errField("limit") != 8.0 {
			t.Errorf("error %s does not name the limit", r.raw)
		}
	})

	t.Run("bad worker field", func(t *testing.T) {
		v := &validator{}
		e := newEnv(t, withWorkers(v.validate))
		_, tok := e.tenant(t, "acme")
		salt := e.site(t, tok, "www")
		for _, tc := range []struct {
			name   string
			worker any
			field  string
		}{
			{"not a hash", map[string]any{"hash": "app.wasm", "size": 10}, "worker.hash"},
			{"no hash", map[string]any{"size": 10}, "worker.hash"},
			{"no size", map[string]any{"hash": assets.Hash(salt, good)}, "worker.size"},
			{"empty", map[string]any{"hash": assets.Hash(salt, nil), "size": 0}, "worker.size"},
			{"size not a number", map[string]any{"hash": assets.Hash(salt, good), "size": "big"}, "worker.size"},
			{"not an object", "app.wasm", "worker"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := manifestOf(salt, files{"/index.html": "v1"})
				body["worker"] = tc.worker
				r := e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body)
				wantErr(t, r, 400, "invalid")
				if r.errField("field") != tc.field {
					t.Errorf("field %v, want %s; body %s", r.errField("field"), tc.field, r.raw)
				}
			})
		}
		t.Run("same hash as a file, another size", func(t *testing.T) {
			h := assets.Hash(salt, good)
			body := map[string]any{
				"manifest": map[string]any{"/app.wasm": map[string]any{"hash": h, "size": len(good)}},
				"worker":   map[string]any{"hash": h, "size": len(good) + 1},
			}
			r := e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body)
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != "worker.size" {
				t.Errorf("error %s", r.raw)
			}
		})
	})

	t.Run("worker not uploaded", func(t *testing.T) {
		v := &validator{}
		e := newEnv(t, withWorkers(v.validate))
		_, tok := e.tenant(t, "acme")
		salt := e.site(t, tok, "www")
		body := manifestOf(salt, files{})
		body["worker"] = workerField(salt, good)
		up := must(t, e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body), 201)
		r := e.do(t, "POST", "/api/v1/sites/www/deployments", tok, map[string]any{"upload": up.str("id")})
		wantErr(t, r, 400, "missing_blobs")
		if m, _ := r.errField("missing").([]any); len(m) != 1 || m[0] != assets.Hash(salt, good) {
			t.Errorf("missing %v", r.errField("missing"))
		}
		if len(v.calls()) != 0 {
			t.Errorf("ValidateWorker called for a worker not uploaded")
		}
	})
}

func TestDeployConfigValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	e.setLimits(t, id, map[string]int{"uploadSessions": 100}) // every refused deploy keeps its session open
	salt := e.site(t, tok, "www")
	live := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "v1"}, nil), 201).str("id")

	manyVars := map[string]string{}
	for i := range 65 {
		manyVars["V"+strings.Repeat("x", i)] = "1"
	}
	manyPatterns := make([]string, 65)
	for i := range manyPatterns {
		manyPatterns[i] = "/p" + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		name   string
		config map[string]any
		field  string // "" = accepted
	}{
		{"all", map[string]any{"run_worker_first": []string{"*"}}, ""},
		{"patterns and exclusions", map[string]any{"run_worker_first": []string{"/api/*", "/login", "!/api/static/*"}}, ""},
		{"empty list", map[string]any{"run_worker_first": []string{}}, ""},
		{"star among patterns", map[string]any{"run_worker_first": []string{"*", "/api/*"}}, "config.run_worker_first"},
		{"relative pattern", map[string]any{"run_worker_first": []string{"api/*"}}, "config.run_worker_first"},
		{"empty pattern", map[string]any{"run_worker_first": []string{""}}, "config.run_worker_first"},
		{"only exclusions", map[string]any{"run_worker_first": []string{"!/static/*"}}, "config.run_worker_first"},
		{"pattern with a query", map[string]any{"run_worker_first": []string{"/api?x=1"}}, "config.run_worker_first"},
		{"pattern with a space", map[string]any{"run_worker_first": []string{"/a b"}}, "config.run_worker_first"},
		{"pattern too long", map[string]any{"run_worker_first": []string{"/" + strings.Repeat("a", 256)}}, "config.run_worker_first"},
		{"too many patterns", map[string]any{"run_worker_first": manyPatterns}, "config.run_worker_first"},
		{"vars", map[string]any{"vars": map[string]string{"API_URL": "https://x", "_private": "", "N2": strings.Repeat("v", 4096)}}, ""},
		{"var name with a dash", map[string]any{"vars": map[string]string{"API-URL": "x"}}, "config.vars"},
		{"var name starting with a digit", map[string]any{"vars": map[string]string{"2FA": "x"}}, "config.vars"},
		{"empty var name", map[string]any{"vars": map[string]string{"": "x"}}, "config.vars"},
		{"var value too long", map[string]any{"vars": map[string]string{"BIG": strings.Repeat("v", 4097)}}, "config.vars.BIG"},
		{"too many vars", map[string]any{"vars": manyVars}, "config.vars"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.publish(t, tok, "www", salt, files{"/index.html": "v2"}, map[string]any{"config": tc.config, "activate": false})
			if tc.field == "" {
				must(t, r, 201)
				return
			}
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != tc.field {
				t.Errorf("field %v, want %s; body %s", r.errField("field"), tc.field, r.raw)
			}
			if got := e.activeDeployment(t, tok, "www"); got != live {
				t.Errorf("live deployment changed to %s", got)
			}
		})
	}
}
