package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/apiclient"
)

// siteFiles is a small site with a duplicate file and things a deploy
// must leave out.
var siteFiles = map[string]string{
	"index.html":          "<h1>home</h1>",
	"about/index.html":    "<h1>about</h1>",
	"css/site.css":        "body{}",
	"copy.html":           "<h1>home</h1>", // same content as index.html: one blob
	"_headers":            "/*\n  X-Frame-Options: DENY\n",
	"app.js":              "console.log(1)",
	"app.js.map":          "{}",
	".git/config":         "[core]",
	"node_modules/x/a.js": "x",
	"sub/.DS_Store":       "junk",
	".assetsignore":       "*.map\n",
	"pier.toml":           "site = \"blog\"\n[assets]\nhtml_handling = \"drop-trailing-slash\"\n[vars]\nGREETING = \"hi\"\n",
}

// wantPaths are the files siteFiles publishes: the deployment's manifest
// paths. /_headers is uploaded too, but it is configuration, not a file.
var wantPaths = []string{"/about/index.html", "/app.js", "/copy.html", "/css/site.css", "/index.html"}

func decodeResult(t *testing.T, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", out)
	}
	return m
}

func TestDeployJSON(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, siteFiles)

	res := runCLI(t, api, false, "deploy", dir, "--json")
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", res.code, res.stderr)
	}
	if res.stderr != "" {
		t.Errorf("stderr is not a terminal but got output: %q", res.stderr)
	}
	got := decodeResult(t, res.stdout)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	wantKeys := []string{"bytes_uploaded", "deployment", "files", "preview_url", "reused", "rules", "uploaded", "url"}
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("JSON keys = %v, want %v", keys, wantKeys)
	}
	var bytesUp float64
	for _, p := range []string{"index.html", "about/index.html", "css/site.css", "_headers", "app.js"} {
		bytesUp += float64(len(siteFiles[p]))
	}
	want := map[string]any{
		"deployment":     "d1",
		"url":            "http://blog.localhost:8080/",
		"preview_url":    "http://d1--blog.localhost:8080/",
		"files":          float64(len(wantPaths)),
		"uploaded":       float64(len(wantPaths)), // copy.html shares index.html's blob, new all the same
		"reused":         float64(0),
		"rules":          []any{"/_headers"},
		"bytes_uploaded": bytesUp, // _headers included, copy.html's blob sent once
	}
	for k, v := range want {
		if !jsonEqual(got[k], v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	// The server holds exactly the manifest's files under the tenant's
	// salted hashes.
	d := api.deployments[0]
	paths := make([]string, 0, len(d.Manifest))
	for p, e := range d.Manifest {
		paths = append(paths, p)
		content := siteFiles[strings.TrimPrefix(p, "/")]
		if want := assets.Hash(api.salt, []byte(content)); e.Hash != want {
			t.Errorf("%s: hash %s, want assets.Hash(salt, content) = %s", p, e.Hash, want)
		}
		if e.Size != int64(len(content)) {
			t.Errorf("%s: size %d, want %d", p, e.Size, len(content))
		}
		if string(api.blobs[e.Hash]) != content {
			t.Errorf("%s: stored blob %q, want %q", p, api.blobs[e.Hash], content)
		}
	}
	slices.Sort(paths)
	if !slices.Equal(paths, wantPaths) {
		t.Errorf("manifest paths = %v, want %v", paths, wantPaths)
	}

	cfg, _ := api.lastDeploy["config"].(map[string]any)
	if cfg["html_handling"] != "drop-trailing-slash" {
		t.Errorf("config.html_handling = %v, want the value of pier.toml", cfg["html_handling"])
	}
	if vars, _ := cfg["vars"].(map[string]any); vars["GREETING"] != "hi" {
		t.Errorf("config.vars = %v, want GREETING=hi", cfg["vars"])
	}
	if src, _ := api.lastDeploy["source"].(map[string]any); src["type"] != "cli" {
		t.Errorf("source = %v, want type cli", api.lastDeploy["source"])
	}
	if api.lastDeploy["activate"] != true {
		t.Errorf("activate = %v, want true", api.lastDeploy["activate"])
	}
}

func TestRedeployUploadsOnlyChanges(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, siteFiles)
	if res := runCLI(t, api, false, "deploy", dir, "--json"); res.code != 0 {
		t.Fatalf("first deploy: exit %d: %s", res.code, res.stderr)
	}
	writeTree(t, dir, map[string]string{"css/site.css": "body{color:red}"})

	res := runCLI(t, api, false, "deploy", dir, "--json")
	if res.code != 0 {
		t.Fatalf("redeploy: exit %d: %s", res.code, res.stderr)
	}
	got := decodeResult(t, res.stdout)
	if got["uploaded"] != float64(1) || got["reused"] != float64(len(wantPaths)-1) || got["bytes_uploaded"] != float64(len("body{color:red}")) {
		t.Errorf("redeploy = %v, want 1 uploaded, %d reused, %d bytes", got, len(wantPaths)-1, len("body{color:red}"))
	}
	if n := api.putCount(assets.Hash(api.salt, []byte("body{color:red}"))); n != 1 {
		t.Errorf("changed blob uploaded %d times, want 1", n)
	}
	if n := api.putCount(assets.Hash(api.salt, []byte("<h1>home</h1>"))); n != 1 {
		t.Errorf("unchanged blob uploaded %d times in two deploys, want 1", n)
	}
}

func TestDeployHumanOutput(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "hello"})

	res := runCLI(t, api, false, "deploy", dir, "--site", "blog", "--no-activate")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{
		"Deployment:   d1",
		"http://blog.localhost:8080/ (unchanged: deployment not activated)",
		"Preview URL:  http://d1--blog.localhost:8080/",
		"Files:        1 (1 uploaded, 0 reused)\n",
		"Uploaded:     5 B\n",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if api.lastDeploy["activate"] != false {
		t.Errorf("activate = %v, want false with --no-activate", api.lastDeploy["activate"])
	}
	if api.active != "" {
		t.Errorf("active deployment = %q after --no-activate, want none", api.active)
	}
}

func TestDeployProgress(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		want     []string // in stderr; none means stderr must be empty
	}{
		{name: "not a terminal", terminal: false},
		{name: "terminal", terminal: true, want: []string{"hashing", "uploading", "2/2 files", "\r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"a.html": "a", "b.html": "b"})
			res := runCLI(t, api, tt.terminal, "deploy", dir, "--site", "blog", "--json")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			decodeResult(t, res.stdout) // progress never reaches stdout
			if len(tt.want) == 0 && res.stderr != "" {
				t.Errorf("stderr = %q, want nothing", res.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q: %q", w, res.stderr)
				}
			}
		})
	}
}

func TestDeployRetries(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		code      string
		wantPuts  int // PUTs of the failing blob
		wantError string
	}{
		{name: "503 then success", status: 503, code: "storage_unavailable", wantPuts: 2},
		{name: "429 then success", status: 429, code: "rate_limited", wantPuts: 2},
		{name: "connection dropped then success", status: dropConnection, wantPuts: 2},
		{name: "400 is not retried", status: 400, code: "invalid", wantPuts: 1, wantError: "injected failure 1 of"},
		{name: "404 is not retried", status: 404, code: "not_found", wantPuts: 1, wantError: "(not_found)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"index.html": "hello", "other.html": "other"})
			failing := assets.Hash(api.salt, []byte("hello"))
			api.failPut = func(hash string, n int) (int, string) {
				if hash == failing && n == 1 {
					return tt.status, tt.code
				}
				return 0, ""
			}
			plan, err := planDeploy(dir, deployFlags{site: fakeSite})
			if err != nil {
				t.Fatal(err)
			}
			d := &deployer{
				client: apiclient.New(api.srv.URL, fakeToken, api.srv.Client()),
				retry:  retryPolicy{base: time.Millisecond, max: 2 * time.Millisecond},
			}
			_, err = d.deploy(context.Background(), plan)
			if n := api.putCount(failing); n != tt.wantPuts {
				t.Errorf("PUTs of the failing blob = %d, want %d", n, tt.wantPuts)
			}
			if tt.wantError == "" {
				if err != nil {
					t.Fatalf("deploy: %v", err)
				}
				if api.active != "d1" {
					t.Errorf("active = %q, want d1", api.active)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Fatalf("deploy error = %v, want it to contain %q", err, tt.wantError)
			}
			if n := api.callCount("POST /api/v1/sites/{site}/deployments"); n != 0 {
				t.Errorf("%d deployments created after a failed upload, want 0", n)
			}
		})
	}
}

func TestDeployShowsServerError(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "hello"})
	api.failPut = func(string, int) (int, string) { return 400, "invalid" }

	res := runCLI(t, api, false, "deploy", dir, "--site", "blog")
	if res.code != 1 {
		t.Errorf("exit %d, want 1", res.code)
	}
	want := fmt.Sprintf("pier: uploading /index.html: injected failure 1 of %s (invalid)\n", assets.Hash(api.salt, []byte("hello")))
	if res.stderr != want {
		t.Errorf("stderr = %q, want %q", res.stderr, want)
	}
	if res.stdout != "" {
		t.Errorf("stdout = %q, want nothing", res.stdout)
	}
}

func TestDeployRefusals(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		code  int
		want  string
	}{
		{name: "missing worker", files: map[string]string{"index.html": "x"}, args: []string{"--site", "blog", "--worker", "nope.wasm"}, code: 1, want: "worker module: stat nope.wasm"},
		{name: "missing worker in pier.toml", files: map[string]string{"index.html": "x", "pier.toml": "site = \"blog\"\n[worker]\nmain = \"w.wasm\"\n"}, code: 1, want: "w.wasm: no such file"},
		{name: "worker is a directory", files: map[string]string{"index.html": "x", "w.wasm/x": "x", "pier.toml": "site = \"blog\"\n[worker]\nmain = \"w.wasm\"\n"}, code: 1, want: "w.wasm is not a regular file"},
		{name: "empty worker", files: map[string]string{"index.html": "x", "w.wasm": "", "pier.toml": "site = \"blog\"\n[worker]\nmain = \"w.wasm\"\n"}, code: 1, want: "w.wasm is empty"},
		{name: "no site", files: map[string]string{"index.html": "x"}, code: 2, want: "no site"},
		{name: "unknown site", files: map[string]string{"index.html": "x"}, args: []string{"--site", "nope"}, code: 1, want: "site \"nope\" not found (not_found)"},
		{name: "bad html handling", files: map[string]string{"index.html": "x"}, args: []string{"--site", "blog", "--html-handling", "sometimes"}, code: 1, want: "html_handling \"sometimes\""},
		{name: "empty directory", files: map[string]string{".assetsignore": "*\n"}, args: []string{"--site", "blog"}, code: 1, want: "no files to deploy"},
		{name: "unknown key", files: map[string]string{"index.html": "x", "pier.toml": "sight = \"blog\"\n"}, args: []string{"--site", "blog"}, code: 1, want: "unknown key sight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			res := runCLI(t, api, false, append([]string{"deploy", dir}, tt.args...)...)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d", res.code, tt.code)
			}
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", res.stderr, tt.want)
			}
			if n := api.callCount("POST /api/v1/sites/{site}/deployments"); n != 0 {
				t.Errorf("%d deployments created, want 0", n)
			}
		})
	}
}

func TestPlanDeployDirectory(t *testing.T) {
	project := t.TempDir()
	writeTree(t, project, map[string]string{
		"pier.toml":         "site = \"blog\"\n[assets]\ndirectory = \"public\"\n",
		"public/index.html": "x",
		"other/index.html":  "y",
	})
	tests := []struct {
		name    string
		cwd     string
		dir     string
		wantDir string
	}{
		{name: "DIR holds pier.toml naming the assets", cwd: t.TempDir(), dir: project, wantDir: filepath.Join(project, "public")},
		{name: "pier.toml in the current directory", cwd: project, dir: ".", wantDir: "public"},
		{name: "no DIR: the directory ./pier.toml names", cwd: project, dir: "", wantDir: "public"},
		{name: "explicit DIR wins over ./pier.toml", cwd: project, dir: "other", wantDir: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.cwd)
			p, err := planDeploy(tt.dir, deployFlags{})
			if err != nil {
				t.Fatal(err)
			}
			if p.dir != tt.wantDir || p.site != "blog" {
				t.Errorf("plan = dir %q site %q, want dir %q site blog", p.dir, p.site, tt.wantDir)
			}
		})
	}
}

func TestDeploymentsAndRollback(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "v1"})
	if res := runCLI(t, api, false, "deploy", dir, "--site", "blog"); res.code != 0 {
		t.Fatal(res.stderr)
	}
	writeTree(t, dir, map[string]string{"index.html": "v2"})
	if res := runCLI(t, api, false, "deploy", "--site", "blog", dir); res.code != 0 {
		t.Fatal(res.stderr)
	}

	res := runCLI(t, api, false, "deployments", "list", "--site", "blog")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if res.code != 0 || len(lines) != 3 {
		t.Fatalf("exit %d, output:\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !strings.HasPrefix(lines[1], "*  d2") || !strings.HasPrefix(lines[2], "   d1") {
		t.Errorf("want d2 active and listed first:\n%s", res.stdout)
	}

	res = runCLI(t, api, false, "rollback", "d1", "--site", "blog")
	if res.code != 0 || res.stdout != "Deployment d1 is live at http://blog.localhost:8080/\n" {
		t.Errorf("rollback: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	if api.active != "d1" {
		t.Errorf("active = %q after rollback, want d1", api.active)
	}

	res = runCLI(t, api, false, "deployments", "get", "--site", "blog", "d2", "--files", "--json")
	var d struct {
		ID       string                    `json:"id"`
		Active   bool                      `json:"active"`
		Manifest map[string]map[string]any `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &d); err != nil {
		t.Fatalf("deployments get --json: %v\n%s", err, res.stdout)
	}
	if d.ID != "d2" || d.Active || d.Manifest["/index.html"]["hash"] != assets.Hash(api.salt, []byte("v2")) {
		t.Errorf("deployments get = %+v", d)
	}

	res = runCLI(t, api, false, "rollback", "--site", "blog", "d9")
	if res.code != 1 || res.stderr != "pier: deployment \"d9\" not found (not_found)\n" {
		t.Errorf("rollback to unknown: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestUnreachableAPI(t *testing.T) {
	res := runCLI(t, nil, false, "tenants", "list", "--api", "http://127.0.0.1:1")
	if res.code != 1 || !strings.Contains(res.stderr, "is 'pier serve' running") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

// BenchmarkRedeploy10k measures the client's share of a redeploy of a
// 10,000-file site in which one file changed: walk, hash, manifest, one
// blob, deployment, against the in-memory fake API. (The end-to-end figure
// against a real server and MinIO is in the project benchmarks.)
func BenchmarkRedeploy10k(b *testing.B) {
	api := newFakeAPI(b)
	dir := b.TempDir()
	content := bytes.Repeat([]byte("x"), 2048)
	for i := range 10_000 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		copy(content, fmt.Sprintf("file %d\n", i))
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d.html", i)), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	client := apiclient.New(api.srv.URL, fakeToken, api.srv.Client())
	plan, err := planDeploy(dir, deployFlags{site: fakeSite})
	if err != nil {
		b.Fatal(err)
	}
	d := &deployer{client: client}
	if _, err := d.deploy(context.Background(), plan); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if err := os.WriteFile(filepath.Join(dir, "changed.html"), fmt.Appendf(nil, "version %d", i), 0o644); err != nil {
			b.Fatal(err)
		}
		r, err := d.deploy(context.Background(), plan)
		if err != nil {
			b.Fatal(err)
		}
		if r.Uploaded != 1 {
			b.Fatalf("redeploy uploaded %d blobs, want 1", r.Uploaded)
		}
	}
}

func TestDeployHashMismatch(t *testing.T) {
	api := newFakeAPI(t)
	api.shownSalt = []byte("not-the-real-one") // the client hashes with the wrong salt
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "hello"})

	res := runCLI(t, api, false, "deploy", dir, "--site", "blog")
	if res.code != 1 || !strings.Contains(res.stderr, "(hash_mismatch); did the file change during the deploy?") {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
	if n := api.putCount(assets.Hash(api.shownSalt, []byte("hello"))); n != 1 {
		t.Errorf("%d PUTs of a blob the server refused, want 1 (no retry)", n)
	}
}

// TestDeployWithoutDir: without DIR, only the directory ./pier.toml names
// is published; the current directory never is by default.
func TestDeployWithoutDir(t *testing.T) {
	makeRun := map[string]string{ // where make run keeps its data
		"data/admin.token": "secret", "data/pier.db": "db", "Makefile": "run:", "public/index.html": "home",
	}
	tests := []struct {
		name      string
		pierToml  string // "" for none
		code      int
		want      string // in stderr
		wantPaths []string
	}{
		{name: "no pier.toml", code: 2, want: "pier: no directory to publish: pass it (pier deploy DIR), or name it in pier.toml ([assets] directory = \"public\")\nRun 'pier help deploy' for usage.\n"},
		{name: "pier.toml without a directory", pierToml: "site = \"blog\"\n", code: 2, want: "pier.toml does not name the directory to publish: pass it (pier deploy DIR)"},
		{name: "pier.toml names it", pierToml: "site = \"blog\"\n[assets]\ndirectory = \"public\"\n", wantPaths: []string{"/index.html"}},
		{
			name: "pier.toml names the current directory", pierToml: "site = \"blog\"\n[assets]\ndirectory = \".\"\n",
			want:      "pier: not published: /data/ (" + dataDirReason + ")\n",
			wantPaths: []string{"/Makefile", "/public/index.html"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			cwd := t.TempDir()
			writeTree(t, cwd, makeRun)
			if tt.pierToml != "" {
				writeTree(t, cwd, map[string]string{"pier.toml": tt.pierToml})
			}
			t.Chdir(cwd)
			res := runCLI(t, api, false, "deploy", "--site", "blog")
			if res.code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", res.code, tt.code, res.stderr)
			}
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", res.stderr, tt.want)
			}
			if tt.wantPaths == nil {
				if n := api.callCount("POST /api/v1/sites/{site}/uploads"); n != 0 {
					t.Errorf("%d upload sessions opened, want 0", n)
				}
				return
			}
			paths := slices.Sorted(maps.Keys(api.deployments[0].Manifest))
			if !slices.Equal(paths, tt.wantPaths) {
				t.Errorf("manifest paths = %v, want %v", paths, tt.wantPaths)
			}
		})
	}
}

// TestDeployRefusesLinkIntoDataDir: a directory to publish that is a
// symlink into a server's data directory is refused before anything is
// uploaded, whether DIR or pier.toml names it.
func TestDeployRefusesLinkIntoDataDir(t *testing.T) {
	tests := []struct {
		name     string
		pierToml string // in the current directory; "" for none
		args     []string
	}{
		{name: "DIR", args: []string{"pub"}},
		{name: "pier.toml's directory", pierToml: "site = \"blog\"\n[assets]\ndirectory = \"pub\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			cwd := t.TempDir()
			writeTree(t, cwd, map[string]string{"data/admin.token": "secret", "data/pier.db": "db", "data/blobs/t1/ab": "blob"})
			if tt.pierToml != "" {
				writeTree(t, cwd, map[string]string{"pier.toml": tt.pierToml})
			}
			symlink(t, filepath.Join("data", "blobs"), filepath.Join(cwd, "pub"))
			t.Chdir(cwd)
			res := runCLI(t, api, false, append([]string{"deploy", "--site", "blog"}, tt.args...)...)
			if res.code != 1 {
				t.Errorf("exit %d, want 1", res.code)
			}
			want := "a Pier server's data directory (it holds pier.db): it is never published"
			if !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "pub resolves to ") {
				t.Errorf("stderr = %q, want it to say pub resolves into %q", res.stderr, want)
			}
			if n := api.callCount("POST /api/v1/sites/{site}/uploads"); n != 0 {
				t.Errorf("%d upload sessions opened, want 0", n)
			}
		})
	}
}

// TestDeployReportsSkippedSecrets: secrets are left out of the upload, said
// on stderr and listed in --json.
func TestDeployReportsSkippedSecrets(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "home", ".env": "KEY=v", "ci.token": "t"})
	res := runCLI(t, api, false, "deploy", dir, "--site", "blog", "--json")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	wantErr := "pier: not published: /.env (an environment file, secret by convention)\n" +
		"pier: not published: /ci.token (a token file)\n"
	if res.stderr != wantErr {
		t.Errorf("stderr = %q, want %q", res.stderr, wantErr)
	}
	got := decodeResult(t, res.stdout)
	want := []any{
		map[string]any{"path": "/.env", "reason": "an environment file, secret by convention"},
		map[string]any{"path": "/ci.token", "reason": "a token file"},
	}
	if !jsonEqual(got["skipped"], want) {
		t.Errorf("skipped = %v, want %v", got["skipped"], want)
	}
	for _, h := range []string{assets.Hash(api.salt, []byte("KEY=v")), assets.Hash(api.salt, []byte("t"))} {
		if api.putCount(h) != 0 {
			t.Errorf("a secret was uploaded")
		}
	}
}

// TestFileCountsAgree: a deploy, the listing and the deployment count the
// same files, the files published: _headers and _redirects are
// configuration and the worker is shown on its own.
func TestFileCountsAgree(t *testing.T) {
	api := newFakeAPI(t)
	api.validateWorker = wasmMagicOnly
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"site/index.html": "home", "site/a.html": "a", "site/b.css": "b",
		"site/_headers": "/*\n  X-Frame-Options: DENY\n", "site/_redirects": "/old /a 301\n",
		"app.wasm": testWasm,
	})
	res := runCLI(t, api, false, "deploy", filepath.Join(dir, "site"), "--site", "blog", "--worker", filepath.Join(dir, "app.wasm"))
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{
		"Files:        3 (3 uploaded, 0 reused)\n",
		"Rules:        /_headers, /_redirects (configuration, not served)\n",
		"Worker:       " + assets.Hash(api.salt, []byte(testWasm)) + " (",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("deploy stdout lacks %q:\n%s", want, res.stdout)
		}
	}

	res = runCLI(t, api, false, "deployments", "list", "--site", "blog")
	lines := strings.Split(strings.TrimRight(res.stdout, "\n"), "\n")
	if res.code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "FILES") {
		t.Fatalf("deployments list: exit %d:\n%s%s", res.code, res.stdout, res.stderr)
	}
	col := strings.Index(lines[0], "FILES")
	if got := strings.Fields(lines[1][col:])[0]; got != "3" {
		t.Errorf("deployments list shows %s files, want 3:\n%s", got, res.stdout)
	}

	res = runCLI(t, api, false, "deployments", "get", "--site", "blog", "d1")
	if want := "Files:               3 ("; !strings.Contains(res.stdout, want) {
		t.Errorf("deployments get lacks %q:\n%s", want, res.stdout)
	}
}
