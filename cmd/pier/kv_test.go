package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pierhq/pier/tenants"
)

// pierStdin runs one command line with stdin as its standard input.
func (r *realAPI) pierStdin(t *testing.T, token string, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"PIER_API": r.url, "PIER_TOKEN": token}
	e := &env{
		stdin:    strings.NewReader(stdin),
		stdout:   &stdout,
		stderr:   &stderr,
		getenv:   func(k string) string { return vars[k] },
		readFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
		http:     http.DefaultClient,
	}
	code := run(context.Background(), e, args)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// TestKVCLI: pier kv creates, lists and deletes namespaces and reads,
// writes, lists and deletes keys, with a tenant token (names) and an
// admin token (--tenant).
func TestKVCLI(t *testing.T) {
	api := newRealAPI(t)
	adm := api.admin
	api.must(t, adm, "tenants", "create", "acme")
	tok := strings.TrimSpace(api.must(t, adm, "tokens", "create", "--tenant", "acme", "--name", "ci"))

	if out := api.must(t, tok, "kv", "create", "blog-data"); !strings.Contains(out, "Created KV namespace blog-data (kv_") {
		t.Errorf("kv create:\n%s", out)
	}
	api.must(t, adm, "kv", "create", "cache", "--tenant", "acme")
	if res := api.pier(t, adm, "kv", "create", "other"); res.code != 2 || !strings.Contains(res.stderr, "--tenant is required") {
		t.Errorf("kv create with an admin token and no --tenant: exit %d, stderr %q", res.code, res.stderr)
	}
	if res := api.pier(t, tok, "kv", "create", "blog-data"); res.code != 1 || !strings.Contains(res.stderr, "(conflict)") {
		t.Errorf("kv create of a taken name: exit %d, stderr %q", res.code, res.stderr)
	}
	out := api.must(t, tok, "kv", "list")
	if i, j := strings.Index(out, "blog-data"), strings.Index(out, "cache"); i < 0 || j < i {
		t.Errorf("kv list (by name):\n%s", out)
	}

	api.must(t, tok, "kv", "put", "blog-data", "greeting", "hello")
	api.must(t, tok, "kv", "put", "blog-data", "a/b", "slashed", "--ttl", "1h")
	file := filepath.Join(t.TempDir(), "v.bin")
	if err := os.WriteFile(file, []byte{0, 1, 2, 0xff}, 0o644); err != nil {
		t.Fatal(err)
	}
	api.must(t, tok, "kv", "put", "blog-data", "bin", "--file", file)
	if res := api.pierStdin(t, tok, "from stdin\n", "kv", "put", "blog-data", "piped"); res.code != 0 {
		t.Fatalf("kv put from stdin: exit %d, %s", res.code, res.stderr)
	}
	for key, want := range map[string]string{"greeting": "hello", "a/b": "slashed", "bin": "\x00\x01\x02\xff", "piped": "from stdin\n"} {
		if got := api.must(t, tok, "kv", "get", "blog-data", key); got != want {
			t.Errorf("kv get %s = %q, want %q", key, got, want)
		}
	}
	if got := api.must(t, adm, "kv", "get", "blog-data", "greeting", "--tenant", "acme"); got != "hello" {
		t.Errorf("kv get with an admin token and --tenant = %q", got)
	}
	if res := api.pier(t, tok, "kv", "put", "blog-data", "x", "v", "--file", file); res.code != 2 {
		t.Errorf("kv put VALUE --file: exit %d, want 2", res.code)
	}

	out = api.must(t, tok, "kv", "keys", "blog-data")
	for _, want := range []string{`"a/b"`, `"bin"`, `"greeting"`, `"piped"`, "never"} {
		if !strings.Contains(out, want) {
			t.Errorf("kv keys lacks %s:\n%s", want, out)
		}
	}
	if out := api.must(t, tok, "kv", "keys", "blog-data", "--prefix", "a/"); strings.Contains(out, "greeting") || !strings.Contains(out, `"a/b"`) {
		t.Errorf("kv keys --prefix a/:\n%s", out)
	}

	api.must(t, tok, "kv", "delete-key", "blog-data", "greeting")
	if res := api.pier(t, tok, "kv", "get", "blog-data", "greeting"); res.code != 1 || !strings.Contains(res.stderr, "(not_found)") {
		t.Errorf("kv get of a deleted key: exit %d, stderr %q", res.code, res.stderr)
	}

	bulk := filepath.Join(t.TempDir(), "bulk.json")
	if err := os.WriteFile(bulk, []byte(`[{"key":"x","value":"1"},{"key":"y","value":"AAE=","base64":true,"ttl":60}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := api.pier(t, tok, "kv", "bulk", "blog-data", bulk); res.code != 0 || !strings.Contains(res.stderr, "Wrote 2 keys") {
		t.Errorf("kv bulk: exit %d, stderr %q", res.code, res.stderr)
	}
	if got := api.must(t, tok, "kv", "get", "blog-data", "y"); got != "\x00\x01" {
		t.Errorf("kv get y = %q", got)
	}

	api.must(t, tok, "kv", "delete", "cache")
	if out := api.must(t, tok, "kv", "list"); strings.Contains(out, "cache") {
		t.Errorf("kv list after delete:\n%s", out)
	}
}

// TestKVKeysPages: pier kv keys reads every page.
func TestKVKeysPages(t *testing.T) {
	api := newRealAPI(t)
	api.must(t, api.admin, "tenants", "create", "acme")
	tok := strings.TrimSpace(api.must(t, api.admin, "tokens", "create", "--tenant", "acme", "--name", "ci"))
	api.must(t, tok, "kv", "create", "data")
	var items []string
	for i := range tenants.MaxPageLimit + 5 {
		items = append(items, fmt.Sprintf(`{"key":"k%05d","value":"v"}`, i))
	}
	bulk := filepath.Join(t.TempDir(), "bulk.json")
	if err := os.WriteFile(bulk, []byte("["+strings.Join(items, ",")+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	api.must(t, tok, "kv", "bulk", "data", bulk)
	out := api.must(t, tok, "kv", "keys", "data")
	if n := strings.Count(out, `"k0`) + strings.Count(out, `"k1`); n != tenants.MaxPageLimit+5 {
		t.Errorf("kv keys listed %d keys, want %d", n, tenants.MaxPageLimit+5)
	}
}

// TestDeployKVBindings: pier deploy sends pier.toml's [[kv]] tables; the
// deployment binds the tenant's namespace by its ID.
func TestDeployKVBindings(t *testing.T) {
	api := newRealAPI(t)
	adm := api.admin
	api.must(t, adm, "tenants", "create", "acme")
	api.must(t, adm, "sites", "create", "blog", "--tenant", "acme")
	tok := strings.TrimSpace(api.must(t, adm, "tokens", "create", "--tenant", "acme", "--name", "ci"))
	api.must(t, tok, "kv", "create", "blog-data")
	dir := t.TempDir()
	toml := "site = \"blog\"\n[[kv]]\nbinding = \"STORE\"\nnamespace = \"blog-data\"\n"
	writeTree(t, dir, map[string]string{"index.html": "hi", "pier.toml": toml})
	api.must(t, tok, "deploy", dir)
	site, err := api.store.Site(context.Background(), "blog")
	if err != nil {
		t.Fatal(err)
	}
	d, err := api.store.Deployment(context.Background(), site.ID, site.ActiveDeployment)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := api.store.(tenants.KVStore).KVNamespace(context.Background(), site.TenantID, "blog-data")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Config.KV) != 1 || d.Config.KV[0] != (tenants.KVBinding{Binding: "STORE", Namespace: "blog-data", NamespaceID: ns.ID}) {
		t.Errorf("deployment's kv %+v, want STORE bound to %s", d.Config.KV, ns.ID)
	}
	if out := api.must(t, tok, "deployments", "get", "--site", "blog", d.ID); !strings.Contains(out, "STORE = blog-data") {
		t.Errorf("deployments get lacks the binding:\n%s", out)
	}

	writeTree(t, dir, map[string]string{"pier.toml": strings.Replace(toml, "blog-data", "missing", 1)})
	res := api.pier(t, tok, "deploy", dir)
	if res.code != 1 || !strings.Contains(res.stderr, "config.kv[0].namespace") || !strings.Contains(res.stderr, "missing") {
		t.Errorf("deploy binding an unknown namespace: exit %d, stderr %q", res.code, res.stderr)
	}
	writeTree(t, dir, map[string]string{"pier.toml": strings.Replace(toml, "STORE", "9bad", 1)})
	if res := api.pier(t, tok, "deploy", dir); res.code == 0 || !strings.Contains(res.stderr, "kv[0].binding") {
		t.Errorf("deploy with a bad binding name: exit %d, stderr %q", res.code, res.stderr)
	}
}
