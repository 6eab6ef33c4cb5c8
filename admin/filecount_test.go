package admin_test

import (
	"bytes"
	"testing"
)

// TestDeploymentFileCount pins what "files" means in the API's deployment
// JSON (the answer to a deploy, a listing, one deployment): the files
// published. _headers and _redirects are configuration, the worker is
// "worker"; neither is counted, in "files" or in "bytes".
func TestDeploymentFileCount(t *testing.T) {
	t.Parallel()
	v := &validator{}
	e := newEnv(t, withWorkers(v.validate))
	_, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	wasm := append(bytes.Clone(wasmMagic), "module"...)
	fs := files{
		"/index.html": "home", "/a.html": "aa",
		"/_headers": "/*\n  X-Frame-Options: DENY\n", "/_redirects": "/old /a 301\n",
	}
	d := must(t, e.publishWorker(t, tok, "www", salt, fs, wasm, nil), 201)
	check := func(where string, body map[string]any) {
		t.Helper()
		if body["files"] != float64(2) || body["bytes"] != float64(len("home")+len("aa")) {
			t.Errorf("%s: files %v, bytes %v; want 2 files of %d bytes", where, body["files"], body["bytes"], len("home")+len("aa"))
		}
		if body["worker"] == nil || body["worker"] == "" {
			t.Errorf("%s: no worker", where)
		}
	}
	check("deploy", d.body)
	id := d.str("id")
	check("get", must(t, e.do(t, "GET", "/api/v1/sites/www/deployments/"+id, tok, nil), 200).body)
	list := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments", tok, nil), 200)
	deps, _ := list.body["deployments"].([]any)
	if len(deps) != 1 {
		t.Fatalf("listing = %v, want one deployment", list.body)
	}
	check("list", deps[0].(map[string]any))
}

// TestDefaultNotFoundHandling: with not_found_handling unset, a published
// root with /404.html gets 404-page (Cloudflare Pages and Netlify do the
// same), one without gets none; a value the client sets wins.
func TestDefaultNotFoundHandling(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	with404 := files{"/index.html": "home", "/404.html": "gone"}
	nested404 := files{"/index.html": "home", "/docs/404.html": "gone"}
	for _, tc := range []struct {
		name  string
		fs    files
		given string
		want  string
	}{
		{"root 404.html, unset", with404, "", "404-page"},
		{"root 404.html, none set", with404, "none", "none"},
		{"root 404.html, spa set", with404, "single-page-application", "single-page-application"},
		{"no 404.html, unset", files{"/index.html": "home"}, "", "none"},
		{"only a nested 404.html, unset", nested404, "", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra map[string]any
			if tc.given != "" {
				extra = map[string]any{"config": map[string]any{"not_found_handling": tc.given}}
			}
			d := must(t, e.publish(t, tok, "www", salt, tc.fs, extra), 201)
			got := must(t, e.do(t, "GET", "/api/v1/sites/www/deployments/"+d.str("id"), tok, nil), 200)
			cfg, _ := got.body["config"].(map[string]any)
			if cfg["not_found_handling"] != tc.want {
				t.Errorf("not_found_handling = %v, want %q", cfg["not_found_handling"], tc.want)
			}
		})
	}
}
