package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// realAPI is the real admin API over SQLite and a blob directory in temp
// dirs, with a bootstrap admin token.
type realAPI struct {
	url   string
	admin string
	api   *admin.API
	store tenants.Store // the API's store, for seeding what the API cannot create (usage)
}

func newRealAPI(tb testing.TB, opts ...func(*admin.Config)) *realAPI {
	tb.Helper()
	dir := tb.TempDir()
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "pier.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := admin.Config{
		EdgeURL:  func(h string) string { return "http://" + h + ":8080/" },
		SpoolDir: tb.TempDir(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	api := admin.New(cfg, store, blobs)
	srv := httptest.NewServer(api.Handler())
	tb.Cleanup(srv.Close)
	secret := admin.NewTokenSecret()
	if err := store.CreateToken(ctx, tenants.Token{ID: "tok_boot", Name: "bootstrap", Hash: admin.HashToken(secret)}); err != nil {
		tb.Fatal(err)
	}
	return &realAPI{url: srv.URL, admin: secret, api: api, store: store}
}

// pier runs one command line against the API with token.
func (r *realAPI) pier(tb testing.TB, token string, args ...string) cliResult {
	tb.Helper()
	var stdout bytes.Buffer
	return r.pierCtx(context.Background(), token, &stdout, args...)
}

// pierCtx runs one command line with ctx (cancel = Ctrl-C), its standard
// output going to stdout (and into the result if it is a *bytes.Buffer).
func (r *realAPI) pierCtx(ctx context.Context, token string, stdout io.Writer, args ...string) cliResult {
	var stderr bytes.Buffer
	vars := map[string]string{"PIER_API": r.url, "PIER_TOKEN": token}
	e := &env{
		stdout:   stdout,
		stderr:   &stderr,
		getenv:   func(k string) string { return vars[k] },
		readFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
		http:     http.DefaultClient,
	}
	code := run(ctx, e, args)
	res := cliResult{code: code, stderr: stderr.String()}
	if b, ok := stdout.(*bytes.Buffer); ok {
		res.stdout = b.String()
	}
	return res
}

// must runs a command that has to succeed and returns its stdout.
func (r *realAPI) must(t *testing.T, token string, args ...string) string {
	t.Helper()
	res := r.pier(t, token, args...)
	if res.code != 0 {
		t.Fatalf("pier %s: exit %d\n%s", strings.Join(args, " "), res.code, res.stderr)
	}
	return res.stdout
}

// TestAgainstAdminAPI runs the README tour against the real admin API
// in-process: tenants, sites, tokens, deploy, redeploy, rollback.
func TestAgainstAdminAPI(t *testing.T) {
	api := newRealAPI(t)
	adm := api.admin

	out := api.must(t, adm, "tenants", "create", "acme", "--plan", "pro", "--tag", "env:prod", "--tag", "team:web")
	if !strings.Contains(out, "pro") || !strings.Contains(out, "env:prod, team:web") {
		t.Errorf("tenants create:\n%s", out)
	}
	if out := api.must(t, adm, "tenants", "list", "--tag", "team:web"); !strings.Contains(out, "acme") {
		t.Errorf("tenants list --tag:\n%s", out)
	}
	if out := api.must(t, adm, "tenants", "list", "--tag", "team:none"); strings.Contains(out, "acme") {
		t.Errorf("tenants list --tag team:none lists acme:\n%s", out)
	}
	if out := api.must(t, adm, "tenants", "set-plan", "acme", "enterprise"); !strings.Contains(out, "enterprise") {
		t.Errorf("set-plan:\n%s", out)
	}
	res := api.pier(t, adm, "tenants", "set-plan", "acme", "platinum")
	if res.code != 1 || !strings.Contains(res.stderr, "platinum") || !strings.HasSuffix(res.stderr, ")\n") {
		t.Errorf("set-plan platinum: exit %d, stderr %q", res.code, res.stderr)
	}

	if url := api.must(t, adm, "sites", "create", "blog", "--tenant", "acme"); url != "http://blog.localhost:8080/\n" {
		t.Errorf("sites create printed %q, want the URL", url)
	}
	secret := strings.TrimSpace(api.must(t, adm, "tokens", "create", "--tenant", "acme", "--name", "ci"))
	if !strings.HasPrefix(secret, "pier_") {
		t.Fatalf("tokens create printed %q", secret)
	}
	spare := api.must(t, adm, "tokens", "create", "--tenant", "acme", "--name", "spare", "--json")
	var spareTok struct{ ID, Token string }
	if err := json.Unmarshal([]byte(spare), &spareTok); err != nil || spareTok.Token == "" {
		t.Fatalf("tokens create --json: %v\n%s", err, spare)
	}
	if out := api.must(t, secret, "tokens", "list", "--tenant", "acme"); !strings.Contains(out, "spare") || strings.Contains(out, spareTok.Token) {
		t.Errorf("tokens list:\n%s", out)
	}
	if out := api.must(t, adm, "tokens", "list", "--admin"); !strings.Contains(out, "admin") || strings.Contains(out, spareTok.ID) {
		t.Errorf("tokens list --admin:\n%s", out)
	}
	if res := api.pier(t, adm, "tokens", "list", "--admin", "--tenant", "acme"); res.code != 2 || !strings.Contains(res.stderr, "exclude each other") {
		t.Errorf("tokens list --admin --tenant: exit %d, stderr %q", res.code, res.stderr)
	}
	api.must(t, secret, "tokens", "delete", spareTok.ID)
	if res := api.pier(t, spareTok.Token, "sites", "list"); res.code != 1 || !strings.Contains(res.stderr, "(unauthorized)") {
		t.Errorf("revoked token still works: exit %d, stderr %q", res.code, res.stderr)
	}

	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"index.html": "<h1>v1</h1>", "about/index.html": "about", "style.css": "body{}",
		"_redirects": "/old /about/ 301\n",
		"pier.toml":  "site = \"blog\"\n[assets]\nnot_found_handling = \"404-page\"\n",
	})
	var first deployResult
	if err := json.Unmarshal([]byte(api.must(t, secret, "deploy", dir, "--json")), &first); err != nil {
		t.Fatal(err)
	}
	// Files are the files published: _redirects is configuration.
	if first.Files != 3 || first.Uploaded != 3 || first.Reused != 0 || !slices.Equal(first.Rules, []string{"/_redirects"}) ||
		first.URL != "http://blog.localhost:8080/" || first.PreviewURL != fmt.Sprintf("http://%s--blog.localhost:8080/", first.Deployment) {
		t.Errorf("first deploy = %+v", first)
	}

	writeTree(t, dir, map[string]string{"index.html": "<h1>v2</h1>"})
	var second deployResult
	if err := json.Unmarshal([]byte(api.must(t, secret, "deploy", "--site", "blog", dir, "--json")), &second); err != nil {
		t.Fatal(err)
	}
	if second.Files != 3 || second.Uploaded != 1 || second.Reused != 2 || second.BytesUploaded != int64(len("<h1>v2</h1>")) {
		t.Errorf("redeploy = %+v, want exactly the changed file uploaded", second)
	}
	// The deploy, the listing and the deployment itself count the same files.
	var listed struct{ Deployments []apiclient.Deployment }
	if err := json.Unmarshal([]byte(api.must(t, secret, "deployments", "list", "--site", "blog", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	for _, d := range listed.Deployments {
		if d.Files != 3 {
			t.Errorf("deployments list: %s has %d files, want 3 as the deploy said", d.ID, d.Files)
		}
	}
	var got apiclient.Deployment
	if err := json.Unmarshal([]byte(api.must(t, secret, "deployments", "get", "--site", "blog", first.Deployment, "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Files != 3 || len(got.Manifest) != 3 {
		t.Errorf("deployments get: %d files, %d manifest entries; want 3 and 3", got.Files, len(got.Manifest))
	}

	list := api.must(t, secret, "deployments", "list", "--site", "blog")
	if !strings.Contains(list, "*  "+second.Deployment) {
		t.Errorf("deployments list does not mark %s live:\n%s", second.Deployment, list)
	}
	if out := api.must(t, secret, "rollback", "--site", "blog", first.Deployment); !strings.Contains(out, first.Deployment+" is live at http://blog.localhost:8080/") {
		t.Errorf("rollback:\n%s", out)
	}
	if out := api.must(t, secret, "deployments", "get", "--site", "blog", first.Deployment, "--files"); !strings.Contains(out, "Active:") ||
		!strings.Contains(out, "/about/index.html") || !strings.Contains(out, "404-page") {
		t.Errorf("deployments get:\n%s", out)
	}

	// A bad _redirects is refused with the server's message; nothing changes.
	writeTree(t, dir, map[string]string{"_redirects": "/a /b 999\n"})
	res = api.pier(t, secret, "deploy", dir)
	if res.code != 1 || !strings.Contains(res.stderr, "(rules_invalid)") {
		t.Errorf("bad _redirects: exit %d, stderr %q", res.code, res.stderr)
	}

	// A tenant token cannot see another tenant: 404, as if it did not exist.
	api.must(t, adm, "tenants", "create", "other")
	res = api.pier(t, secret, "tenants", "get", "other")
	if res.code != 1 || !strings.Contains(res.stderr, "(not_found)") {
		t.Errorf("tenant token reading another tenant: exit %d, stderr %q", res.code, res.stderr)
	}
	res = api.pier(t, "pier_wrong", "sites", "list")
	if res.code != 1 || !strings.Contains(res.stderr, "(unauthorized)") || !strings.Contains(res.stderr, "PIER_TOKEN") {
		t.Errorf("bad token: exit %d, stderr %q", res.code, res.stderr)
	}

	if out := api.must(t, adm, "sites", "list", "--json"); !strings.Contains(out, `"name": "blog"`) || strings.Contains(out, "hash_salt") {
		t.Errorf("sites list --json:\n%s", out)
	}
	api.must(t, adm, "sites", "delete", "blog")
	api.must(t, adm, "tenants", "delete", "acme")
	if res := api.pier(t, adm, "tenants", "get", "acme"); res.code != 1 {
		t.Errorf("tenant still there after delete: %q", res.stdout)
	}
}

// TestWorkerAgainstAdminAPI deploys a worker and follows the site's log
// through the real admin API.
func TestWorkerAgainstAdminAPI(t *testing.T) {
	hub := logstream.New(0)
	var (
		mu        sync.Mutex
		validated [][]byte
	)
	r := newRealAPI(t, func(c *admin.Config) {
		c.Logs = hub
		c.ValidateWorker = func(_ context.Context, wasm []byte) error {
			mu.Lock()
			defer mu.Unlock()
			validated = append(validated, bytes.Clone(wasm))
			return wasmMagicOnly(wasm)
		}
	})
	r.must(t, r.admin, "tenants", "create", "acme")
	token := strings.TrimSpace(r.must(t, r.admin, "tokens", "create", "--tenant", "acme", "--name", "ci"))
	r.must(t, token, "sites", "create", "blog")

	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"public/index.html": "home",
		"app.wasm":          testWasm,
		"pier.toml":         "site = \"blog\"\n[assets]\ndirectory = \"public\"\nrun_worker_first = [\"/api/*\"]\n[worker]\nmain = \"app.wasm\"\n[vars]\nGREETING = \"hi\"\n",
	})
	var res map[string]any
	if err := json.Unmarshal([]byte(r.must(t, token, "deploy", dir, "--json")), &res); err != nil {
		t.Fatal(err)
	}
	worker, _ := res["worker"].(string)
	mu.Lock()
	seen := append([][]byte(nil), validated...)
	mu.Unlock()
	if worker == "" || len(seen) != 1 || string(seen[0]) != testWasm {
		t.Fatalf("deploy answered worker %q; the server validated %d modules", worker, len(seen))
	}
	var d struct {
		Worker string `json:"worker"`
		Config struct {
			RunWorkerFirst []string          `json:"run_worker_first"`
			Vars           map[string]string `json:"vars"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.must(t, token, "deployments", "get", res["deployment"].(string), "--site", "blog", "--json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Worker != worker || strings.Join(d.Config.RunWorkerFirst, ",") != "/api/*" || d.Config.Vars["GREETING"] != "hi" {
		t.Errorf("deployment %+v", d)
	}
	human := r.must(t, token, "deployments", "get", res["deployment"].(string), "--site", "blog")
	for _, want := range []string{"Worker:              " + worker, "Run worker first:    /api/*", "Vars:                GREETING"} {
		if !strings.Contains(human, want) {
			t.Errorf("deployments get:\n%s\nlacks %q", human, want)
		}
	}

	t.Run("invalid worker", func(t *testing.T) {
		writeTree(t, dir, map[string]string{"app.wasm": "#!/bin/sh\n"})
		res := r.pier(t, token, "deploy", dir)
		if res.code != 1 || !strings.Contains(res.stderr, "bad magic number (worker_invalid)") {
			t.Errorf("exit %d, stderr %q", res.code, res.stderr)
		}
	})

	t.Run("logs", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &lineWriter{onLine: func(n int) {
			if n == 2 {
				cancel()
			}
		}}
		done := make(chan cliResult)
		go func() { done <- r.pierCtx(ctx, token, out, "logs", "--site", "blog") }()
		for !hub.HasSubscribers("blog") {
			time.Sleep(time.Millisecond) // until pier logs is connected; the test deadline bounds it
		}
		hub.Publish("blog", testInvocation)
		hub.Publish("blog", testLogLine)
		res := <-done
		if res.code != 0 {
			t.Errorf("exit %d\n%s", res.code, res.stderr)
		}
		if want := formatEvent(testInvocation) + "\n" + formatEvent(testLogLine) + "\n"; out.String() != want {
			t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
		}
	})
}

// TestTenantsBulk: pier tenants bulk changes every tenant with a tag and
// refuses incomplete flags before asking the API.
func TestTenantsBulk(t *testing.T) {
	t.Parallel()
	r := newRealAPI(t)
	r.must(t, r.admin, "tenants", "create", "acme", "--tag", "env:dev")
	r.must(t, r.admin, "tenants", "create", "beta", "--tag", "env:dev")
	r.must(t, r.admin, "tenants", "create", "gamma", "--tag", "env:prod")
	out := r.must(t, r.admin, "tenants", "bulk", "--tag", "env:dev", "--plan", "pro", "--disable")
	if !strings.Contains(out, "2 tenants carry env:dev; 2 changed") || !strings.Contains(out, "acme: pro, disabled") {
		t.Errorf("bulk output:\n%s", out)
	}
	list := r.must(t, r.admin, "tenants", "list", "--tag", "env:prod")
	if !strings.Contains(list, "gamma") || strings.Contains(list, "disabled") {
		t.Errorf("a tenant without the tag changed:\n%s", list)
	}
	for _, args := range [][]string{
		{"tenants", "bulk", "--plan", "pro"},
		{"tenants", "bulk", "--tag", "env:dev"},
		{"tenants", "bulk", "--tag", "env:dev", "--enable", "--disable"},
	} {
		if res := r.pier(t, r.admin, args...); res.code != exitUsage {
			t.Errorf("pier %s: exit %d, want usage error\n%s", strings.Join(args, " "), res.code, res.stderr)
		}
	}
	if res := r.pier(t, r.admin, "tenants", "bulk", "--tag", "env:dev", "--plan", "gold"); res.code != 1 || !strings.Contains(res.stderr, "plan") {
		t.Errorf("a bad plan: exit %d\n%s", res.code, res.stderr)
	}
}
