package gitserve

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// TestMain doubles as the pre-receive hook: the hook script runs this
// test binary with "git-hook" as its last argument.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[len(os.Args)-1] == "git-hook" {
		os.Exit(RunHook(os.Stdin, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

// fixture is a git server over a real SQLite store, local blobs and the
// real admin publish pipeline, with one tenant, its site "blog" and a
// tenant token; and another tenant's site "other".
type fixture struct {
	t       *testing.T
	store   *sqlitestore.Store
	srv     *Server
	http    *httptest.Server
	token   string
	changed chan string
	cfg     Config
}

func newFixture(t *testing.T, opts ...func(*Config)) *fixture {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: store, changed: make(chan string, 64)}
	api := admin.New(admin.Config{
		Domain: "example.test",
		OnActivate: func(s tenants.Site) {
			select {
			case f.changed <- s.Name:
			default:
			}
		},
		SpoolDir: t.TempDir(),
	}, store, blobs)
	for _, name := range []string{"acme", "evil"} {
		tn := tenants.Tenant{ID: "t_" + name, Name: name, Plan: tenants.PlanFree, Salt: tenants.NewSalt(), Created: time.Now()}
		if err := store.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []tenants.Site{{ID: "s_blog", TenantID: "t_acme", Name: "blog"}, {ID: "s_other", TenantID: "t_evil", Name: "other"}} {
		s.Created = time.Now()
		if err := store.CreateSite(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	f.token = admin.NewTokenSecret()
	if err := store.CreateToken(ctx, tenants.Token{ID: "tok_1", TenantID: "t_acme", Name: "ci", Hash: admin.HashToken(f.token), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.cfg = Config{
		Dir:         filepath.Join(dir, "git"),
		HookCommand: []string{os.Args[0], "-test.run=^$", "git-hook"},
		Store:       store,
		Backend:     blobs,
		Publisher:   api,
		Domain:      "example.test",
	}
	for _, o := range opts {
		o(&f.cfg)
	}
	f.srv, f.http = f.node(f.cfg.Dir)
	return f
}

// node starts another git server on the fixture's store and blobs, with
// its own cache directory: another node of the platform.
func (f *fixture) node(dir string) (*Server, *httptest.Server) {
	cfg := f.cfg
	cfg.Dir = dir
	srv, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	f.t.Cleanup(hs.Close)
	return srv, hs
}

// remote is the URL of a site's repository with the token in it.
func (f *fixture) remote(site, token string) string {
	return strings.Replace(f.http.URL, "http://", "http://x:"+token+"@", 1) + Prefix + site + ".git"
}

// git runs git in dir with an isolated configuration.
func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// newRepo makes a work tree with files committed on main.
func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	mustGit(t, dir, "init", "-q")
	writeFiles(t, dir, files)
	mustGit(t, dir, "add", "-A")
	mustGit(t, dir, "commit", "-qm", "first")
	return dir
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) site(name string) tenants.Site {
	s, err := f.store.Site(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func TestPushPublishesAndActivates(t *testing.T) {
	f := newFixture(t)
	repo := newRepo(t, map[string]string{
		"pier.toml":       "[assets]\ndirectory = \"dist\"\n",
		"dist/index.html": "<h1>hi</h1>",
		"dist/.env":       "SECRET=1",
		"README.md":       "not published",
	})
	out := mustGit(t, repo, "push", f.remote("blog", f.token), "main")
	for _, want := range []string{"remote: pier: main: 1 file, 1 uploaded, 0 reused", "is live", "http://blog.example.test/", "skipped .env"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	s := f.site("blog")
	if s.ActiveDeployment == "" {
		t.Fatal("no active deployment after the push")
	}
	d, err := f.store.Deployment(context.Background(), s.ID, s.ActiveDeployment)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Manifest["/index.html"]; !ok || len(d.Manifest) != 1 {
		t.Errorf("manifest = %v, want only /index.html", d.Manifest)
	}
	head := strings.TrimSpace(mustGit(t, repo, "rev-parse", "HEAD"))
	if d.Source.Type != "git" || d.Source.Branch != "main" || d.Source.Commit != head || d.Source.Tree == "" {
		t.Errorf("source = %+v, want git main %s with its tree", d.Source, head)
	}
	refs, err := f.store.GitRefs(context.Background(), s.ID)
	if err != nil || len(refs) != 1 || refs[0].Commit != head || refs[0].Deployment != d.ID || refs[0].Alias != "" {
		t.Errorf("refs = %+v, %v", refs, err)
	}

	// A branch: deployed, not live, with an alias.
	mustGit(t, repo, "checkout", "-qb", "Feature/One")
	writeFiles(t, repo, map[string]string{"dist/index.html": "<h1>feature</h1>"})
	mustGit(t, repo, "commit", "-qam", "feature")
	out = mustGit(t, repo, "push", f.remote("blog", f.token), "Feature/One")
	if !strings.Contains(out, "http://feature-one--blog.example.test/") || !strings.Contains(out, "production is unchanged") {
		t.Errorf("branch push output:\n%s", out)
	}
	if got := f.site("blog").ActiveDeployment; got != d.ID {
		t.Errorf("a branch push changed production: %s, want %s", got, d.ID)
	}
	if r, err := f.store.GitAlias(context.Background(), s.ID, "feature-one"); err != nil || r.Name != "refs/heads/Feature/One" {
		t.Errorf("alias feature-one = %+v, %v", r, err)
	}

	// The same tree on main reuses the branch's deployment.
	mustGit(t, repo, "checkout", "-q", "main")
	mustGit(t, repo, "merge", "-q", "--ff-only", "Feature/One")
	out = mustGit(t, repo, "push", f.remote("blog", f.token), "main")
	if !strings.Contains(out, "reusing it, nothing uploaded") {
		t.Errorf("push of a deployed tree:\n%s", out)
	}

	// Deleting the branch removes its alias.
	out = mustGit(t, repo, "push", f.remote("blog", f.token), ":Feature/One")
	if !strings.Contains(out, "no longer serves it") {
		t.Errorf("delete output:\n%s", out)
	}
	if _, err := f.store.GitAlias(context.Background(), s.ID, "feature-one"); err == nil {
		t.Error("the alias outlived its branch")
	}

	// A clone over v2 and v0 gets main.
	for _, v := range []string{"2", "0"} {
		dst := filepath.Join(t.TempDir(), "c")
		mustGit(t, t.TempDir(), "-c", "protocol.version="+v, "clone", "-q", f.remote("blog", f.token), dst)
		if got := strings.TrimSpace(mustGit(t, dst, "rev-parse", "HEAD")); got != strings.TrimSpace(mustGit(t, repo, "rev-parse", "HEAD")) {
			t.Errorf("protocol v%s clone HEAD = %s", v, got)
		}
	}
}

func TestRefusedPushChangesNothing(t *testing.T) {
	f := newFixture(t)
	repo := newRepo(t, map[string]string{"index.html": "v1"})
	mustGit(t, repo, "push", f.remote("blog", f.token), "main")
	live := f.site("blog").ActiveDeployment
	head := strings.TrimSpace(mustGit(t, repo, "rev-parse", "HEAD"))

	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bad redirects", map[string]string{"_redirects": "/a /b 301\n/x\n"}, "_redirects line 2"},
		{"missing directory", map[string]string{"pier.toml": "[assets]\ndirectory = \"dist\"\n"}, `assets.directory "dist" is not a directory`},
		{"bad pier.toml", map[string]string{"pier.toml": "[assets]\nnope = 1\n"}, "unknown key"},
		{"missing worker", map[string]string{"pier.toml": "[worker]\nmain = \"w.wasm\"\n"}, `worker.main "w.wasm" is not a file`},
		{"file too large", map[string]string{"big.bin": strings.Repeat("\x00", 26<<20)}, "larger than the limit of 26214400 bytes"},
		{"directory outside", map[string]string{"pier.toml": "[assets]\ndirectory = \"../x\"\n"}, "must be a directory inside the repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustGit(t, repo, "reset", "-q", "--hard", head)
			writeFiles(t, repo, tt.files)
			mustGit(t, repo, "add", "-A")
			mustGit(t, repo, "commit", "-qm", tt.name)
			out, err := git(t, repo, "push", f.remote("blog", f.token), "main")
			if err == nil {
				t.Fatalf("push succeeded:\n%s", out)
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(out, "nothing was published") {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if got := f.site("blog").ActiveDeployment; got != live {
				t.Errorf("live deployment %s, want %s", got, live)
			}
			refs, _ := f.store.GitRefs(context.Background(), "s_blog")
			if len(refs) != 1 || refs[0].Commit != head {
				t.Errorf("refs moved: %+v", refs)
			}
		})
	}

	t.Run("tag", func(t *testing.T) {
		mustGit(t, repo, "reset", "-q", "--hard", head)
		mustGit(t, repo, "tag", "v1")
		out, err := git(t, repo, "push", f.remote("blog", f.token), "v1")
		if err == nil || !strings.Contains(out, "only branches") {
			t.Errorf("tag push: %v\n%s", err, out)
		}
	})
	t.Run("delete production", func(t *testing.T) {
		out, err := git(t, repo, "push", f.remote("blog", f.token), ":main")
		if err == nil || !strings.Contains(out, "production branch") {
			t.Errorf("delete main: %v\n%s", err, out)
		}
	})
}

func TestAccess(t *testing.T) {
	f := newFixture(t)
	get := func(path, user, pass string) *http.Response {
		req, _ := http.NewRequest("GET", f.http.URL+path, nil)
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	refs := "/git/blog.git/info/refs?service=git-receive-pack"
	tests := []struct {
		name, path, pass string
		want             int
	}{
		{"no token", refs, "", 401},
		{"wrong token", refs, "pier_wrong", 401},
		{"ok", refs, f.token, 200},
		{"without .git", "/git/blog/info/refs?service=git-upload-pack", f.token, 200},
		{"another tenant's site", "/git/other.git/info/refs?service=git-receive-pack", f.token, 404},
		{"unknown site", "/git/nope.git/info/refs?service=git-upload-pack", f.token, 404},
		{"dumb protocol", "/git/blog.git/info/refs", f.token, 403},
		{"other service", "/git/blog.git/info/refs?service=git-upload-archive", f.token, 403},
		{"dot dot", "/git/../etc.git/info/refs?service=git-upload-pack", f.token, 404},
		{"preview separator", "/git/a--b.git/info/refs?service=git-upload-pack", f.token, 404},
		{"option as site", "/git/--upload-pack=x.git/info/refs?service=git-upload-pack", f.token, 404},
		{"objects path", "/git/blog.git/objects/info/packs", f.token, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(tt.path, "x", tt.pass)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestCheckUpdate(t *testing.T) {
	const a, b = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	tests := []struct {
		name string
		u    refUpdate
		want string // substring of the refusal; "" = allowed
	}{
		{"branch", refUpdate{a, b, "refs/heads/main"}, ""},
		{"new branch", refUpdate{zeroOID, b, "refs/heads/feature/x"}, ""},
		{"delete branch", refUpdate{a, zeroOID, "refs/heads/feature"}, ""},
		{"delete production", refUpdate{a, zeroOID, "refs/heads/main"}, "production branch"},
		{"tag", refUpdate{zeroOID, b, "refs/tags/v1"}, "only branches"},
		{"option", refUpdate{zeroOID, b, "refs/heads/--upload-pack=x"}, "not a branch name"},
		{"dash", refUpdate{zeroOID, b, "refs/heads/-h"}, "not a branch name"},
		{"dot dot", refUpdate{zeroOID, b, "refs/heads/../../config"}, "not a branch name"},
		{"space", refUpdate{zeroOID, b, "refs/heads/a b"}, "not a branch name"},
		{"long", refUpdate{zeroOID, b, "refs/heads/" + strings.Repeat("x", 300)}, "not a branch name"},
		{"sha256", refUpdate{zeroOID, b + "222222222222222222222222", "refs/heads/x"}, "SHA-1"},
		{"bad old", refUpdate{"zz", b, "refs/heads/x"}, "SHA-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkUpdate(tt.u, "refs/heads/main")
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("checkUpdate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestObjectEnv(t *testing.T) {
	p := &push{dir: "/data/git/repos/s_1.git"}
	q := "/data/git/repos/s_1.git/objects/tmp_objdir-incoming-x"
	ok := hookRequest{Quarantine: q, ObjectDir: q, Alternates: "/data/git/repos/s_1.git/./objects"}
	if env, err := p.objectEnv(ok); err != nil || len(env) != 3 {
		t.Errorf("objectEnv(ok) = %v, %v", env, err)
	}
	if env, err := p.objectEnv(hookRequest{}); err != nil || env != nil {
		t.Errorf("objectEnv(no objects) = %v, %v", env, err)
	}
	for name, req := range map[string]hookRequest{
		"other repo":   {Quarantine: "/data/git/repos/s_2.git/objects/x", ObjectDir: "/data/git/repos/s_2.git/objects/x", Alternates: "/data/git/repos/s_2.git/objects"},
		"escape":       {Quarantine: q + "/../../../../s_2.git/objects/x", ObjectDir: q, Alternates: ok.Alternates},
		"objects root": {Quarantine: "/data/git/repos/s_1.git/objects", ObjectDir: "/data/git/repos/s_1.git/objects", Alternates: ok.Alternates},
		"object dir":   {Quarantine: q, ObjectDir: "/tmp/x", Alternates: ok.Alternates},
		"alternates":   {Quarantine: q, ObjectDir: q, Alternates: "/etc"},
	} {
		if _, err := p.objectEnv(req); err == nil {
			t.Errorf("objectEnv(%s) accepted %+v", name, req)
		}
	}
}

func TestRunHookOutsideServer(t *testing.T) {
	var stderr bytes.Buffer
	code := RunHook(strings.NewReader(""), &stderr, func(string) string { return "" })
	if code == 0 || !strings.Contains(stderr.String(), "only under pier serve") {
		t.Errorf("RunHook = %d, %q", code, stderr.String())
	}
}

func TestBytesAndCounts(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1204: "1,204", 1234567: "1,234,567"} {
		if got := comma(n); got != want {
			t.Errorf("comma(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{12: "12 B", 41_000: "41 KB", 2_500_000: "2.5 MB", 3_000_000_000: "3.00 GB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSecondNodeAndRepack: a node that never saw the repository serves
// and takes pushes from the stores alone, and a repository whose packs
// reach RepackAt is repacked into one.
func TestSecondNodeAndRepack(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RepackAt = 3 })
	ctx := context.Background()
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("p/%02d.html", i)] = fmt.Sprintf("page %d", i)
	}
	repo := newRepo(t, files)
	mustGit(t, repo, "push", f.remote("blog", f.token), "main")
	for i := range 2 { // the third push leaves RepackAt packs
		writeFiles(t, repo, map[string]string{"p/00.html": fmt.Sprintf("version %d", i)})
		mustGit(t, repo, "commit", "-qam", fmt.Sprintf("v%d", i))
		mustGit(t, repo, "push", f.remote("blog", f.token), "main")
	}
	testenv.WaitFor(t, testenv.Patience, func() error {
		packs, err := f.store.GitPacks(ctx, "s_blog")
		if err != nil || len(packs) != 1 {
			return fmt.Errorf("packs = %d (%v), want 1 after the repack", len(packs), err)
		}
		return nil
	})

	_, other := f.node(filepath.Join(t.TempDir(), "git"))
	remoteB := strings.Replace(other.URL, "http://", "http://x:"+f.token+"@", 1) + Prefix + "blog.git"
	clone := filepath.Join(t.TempDir(), "c")
	mustGit(t, t.TempDir(), "clone", "-q", remoteB, clone)
	want := strings.TrimSpace(mustGit(t, repo, "rev-parse", "HEAD"))
	if got := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD")); got != want {
		t.Fatalf("second node's clone at %s, want %s", got, want)
	}
	writeFiles(t, repo, map[string]string{"p/05.html": "changed on B"})
	mustGit(t, repo, "commit", "-qam", "to B")
	out := mustGit(t, repo, "push", remoteB, "main")
	if !strings.Contains(out, "main: 20 files, 1 uploaded, 19 reused") {
		t.Errorf("push to the second node:\n%s", out)
	}
	// The first node follows: a fetch from it sees B's commit.
	out = mustGit(t, clone, "pull", "-q", "--ff-only", f.remote("blog", f.token), "main")
	if got := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD")); got != strings.TrimSpace(mustGit(t, repo, "rev-parse", "HEAD")) {
		t.Errorf("first node serves %s after B's push:\n%s", got, out)
	}
}

// TestShallowPush: a commit on top of a shallow clone of history Pier
// never saw is accepted, and the repository can be cloned afterwards.
func TestShallowPush(t *testing.T) {
	f := newFixture(t)
	origin := newRepo(t, map[string]string{"index.html": "one"})
	for i := range 3 {
		writeFiles(t, origin, map[string]string{"index.html": fmt.Sprint("v", i)})
		mustGit(t, origin, "commit", "-qam", fmt.Sprint("v", i))
	}
	shallow := filepath.Join(t.TempDir(), "s")
	mustGit(t, t.TempDir(), "clone", "-q", "--depth", "1", "file://"+origin, shallow)
	writeFiles(t, shallow, map[string]string{"index.html": "from CI"})
	mustGit(t, shallow, "commit", "-qam", "ci")
	out := mustGit(t, shallow, "push", f.remote("blog", f.token), "HEAD:main")
	if !strings.Contains(out, "is live") {
		t.Errorf("shallow push:\n%s", out)
	}
	sh, err := f.store.GitShallow(context.Background(), "s_blog")
	if err != nil || len(sh) != 1 {
		t.Errorf("shallow = %v, %v; want the clone's boundary", sh, err)
	}
	mustGit(t, t.TempDir(), "clone", "-q", f.remote("blog", f.token), filepath.Join(t.TempDir(), "c"))
}

// TestStalledPushIsDropped: a client that stops sending mid-push is cut
// off after IdleTimeout (its git process killed), and the site takes the
// next push.
func TestStalledPushIsDropped(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IdleTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "POST /git/blog.git/git-receive-pack HTTP/1.1\r\nHost: x\r\n" +
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+f.token)) + "\r\n" +
		"Content-Type: application/x-git-receive-pack-request\r\nContent-Length: 100000\r\n\r\n0098"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, conn) // returns when the server closes
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(testenv.Patience):
		t.Fatal("the server kept a stalled push open")
	}
	repo := newRepo(t, map[string]string{"index.html": "after the stall"})
	testenv.WaitFor(t, testenv.Patience, func() error {
		if out, err := git(t, repo, "push", f.remote("blog", f.token), "main"); err != nil {
			return fmt.Errorf("push after a stalled one: %v\n%s", err, out)
		}
		return nil
	})
}

// TestRelativeDir: pier serve --data ./data gives a relative Dir.
func TestRelativeDir(t *testing.T) {
	f := newFixture(t)
	t.Chdir(t.TempDir())
	_, hs := f.node("git")
	remote := strings.Replace(hs.URL, "http://", "http://x:"+f.token+"@", 1) + Prefix + "blog.git"
	repo := newRepo(t, map[string]string{"index.html": "relative"})
	if out, err := git(t, repo, "push", remote, "main"); err != nil || !strings.Contains(out, "is live") {
		t.Errorf("push to a server with a relative Dir: %v\n%s", err, out)
	}
}

// TestCostlyAssetsIgnore: a pushed .assetsignore whose rules would take
// unbounded work over the tree is refused at its bound, not run.
func TestCostlyAssetsIgnore(t *testing.T) {
	f := newFixture(t)
	deep := strings.Repeat("a/", 50)
	files := map[string]string{".assetsignore": strings.Repeat(strings.Repeat("**/a/", 5)+"z\n", 200)}
	for i := range 500 {
		files[fmt.Sprintf("%sf%03d.html", deep, i)] = "x"
	}
	repo := newRepo(t, files)
	out, err := git(t, repo, "push", f.remote("blog", f.token), "main")
	if err == nil || !strings.Contains(out, ".assetsignore: applying its rules to this tree takes more than") {
		t.Errorf("push: %v\n%s", err, out)
	}
	if s := f.site("blog"); s.ActiveDeployment != "" {
		t.Errorf("refused push went live: %s", s.ActiveDeployment)
	}
}

// TestPushBindsKV: a push's pier.toml [[kv]] tables bind namespaces of
// the site's tenant, by name, as pier deploy's do; another tenant's
// namespace of that name is never bound, and an unknown one refuses the
// push.
func TestPushBindsKV(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []tenants.KVNamespace{
		{ID: "kv_evil", TenantID: "t_evil", Name: "shared", Created: time.Now()}, // created first: a lookup by name alone would find it
		{ID: "kv_acme", TenantID: "t_acme", Name: "shared", Created: time.Now()},
	} {
		if err := f.store.CreateKVNamespace(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	repo := newRepo(t, map[string]string{
		"pier.toml":  "[[kv]]\nbinding = \"STORE\"\nnamespace = \"shared\"\n",
		"index.html": "hi",
	})
	mustGit(t, repo, "push", f.remote("blog", f.token), "main")
	s := f.site("blog")
	d, err := f.store.Deployment(ctx, s.ID, s.ActiveDeployment)
	if err != nil {
		t.Fatal(err)
	}
	want := tenants.KVBinding{Binding: "STORE", Namespace: "shared", NamespaceID: "kv_acme"}
	if len(d.Config.KV) != 1 || d.Config.KV[0] != want {
		t.Errorf("config.kv = %+v, want %+v", d.Config.KV, want)
	}

	writeFiles(t, repo, map[string]string{"pier.toml": "[[kv]]\nbinding = \"STORE\"\nnamespace = \"nowhere\"\n"})
	mustGit(t, repo, "commit", "-qam", "unknown namespace")
	out, err := git(t, repo, "push", f.remote("blog", f.token), "main")
	if err == nil || !strings.Contains(out, "nowhere") || !strings.Contains(out, "nothing was published") {
		t.Errorf("push binding an unknown namespace: %v\n%s", err, out)
	}
	if got := f.site("blog").ActiveDeployment; got != d.ID {
		t.Errorf("live deployment %s, want %s", got, d.ID)
	}

	// A site token's push may keep the live deployment's namespace, not
	// bind another of the tenant's (admin.DeployRequest.SiteToken).
	if err := f.store.CreateKVNamespace(ctx, tenants.KVNamespace{ID: "kv_private", TenantID: "t_acme", Name: "private", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	siteTok := admin.NewTokenSecret()
	if err := f.store.CreateToken(ctx, tenants.Token{ID: "tok_site", TenantID: "t_acme", SiteID: "s_blog", Name: "ci", Hash: admin.HashToken(siteTok), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, repo, map[string]string{"pier.toml": "[[kv]]\nbinding = \"STORE\"\nnamespace = \"shared\"\n\n[[kv]]\nbinding = \"MORE\"\nnamespace = \"private\"\n"})
	mustGit(t, repo, "commit", "-qam", "another namespace")
	out, err = git(t, repo, "push", f.remote("blog", siteTok), "main")
	if err == nil || !strings.Contains(out, "site token") || !strings.Contains(out, "private") {
		t.Errorf("site token's push binding another namespace: %v\n%s", err, out)
	}
	if got := f.site("blog").ActiveDeployment; got != d.ID {
		t.Errorf("live deployment %s, want %s", got, d.ID)
	}
	writeFiles(t, repo, map[string]string{"pier.toml": "[[kv]]\nbinding = \"STORE\"\nnamespace = \"shared\"\n", "index.html": "changed"})
	mustGit(t, repo, "commit", "-qam", "the live namespace only")
	if out, err := git(t, repo, "push", f.remote("blog", siteTok), "main"); err != nil {
		t.Errorf("site token's push keeping the live namespace: %v\n%s", err, out)
	}
	if got := f.site("blog").ActiveDeployment; got == d.ID {
		t.Errorf("the site token's push did not go live")
	}
}
