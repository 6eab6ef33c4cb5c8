package e2e

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// The git push tests drive the real git client against the real pier
// serve, single node (SQLite, local disk): what git prints, what the edge
// serves and what the repository's refs are after each push. The two-node
// (PostgreSQL, MinIO), concurrency and pack-bomb tests live elsewhere.

// gitMaxFileSize is the shared server's --max-file-size, small so that a
// file over it is cheap to push.
const gitMaxFileSize = 500_000

// gitConsoleHost is the shared server's --console-host: the git URLs
// answer there too, through the edge's listener.
const gitConsoleHost = "console.pier.test"

// gitClient is an isolated git: its own HOME, no system or global
// configuration, no prompts, a fixed identity.
type gitClient struct {
	env []string
}

func newGitClient(t *testing.T) *gitClient {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	home := t.TempDir()
	return &gitClient{env: []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + os.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		// glibc returns memory to the system after every object git
		// deflates; on some kernels (gVisor) that makes fast-import of
		// 50,000 blobs take half a minute instead of half a second.
		"MALLOC_TOP_PAD_=67108864",
	}}
}

// exec runs git in dir with stdin (nil for none) and returns its combined
// output and exit code; err only when git could not run. It may be called
// from any goroutine.
func (g *gitClient) exec(dir string, stdin io.Reader, args ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	argv := append([]string{
		"-c", "user.name=Pier Test", "-c", "user.email=test@pier.invalid",
		"-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always",
		"-c", "advice.detachedHead=false", "-c", "commit.gpgSign=false",
	}, args...)
	cmd := exec.CommandContext(ctx, "git", argv...)
	cmd.Env = g.env
	cmd.Dir = dir
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode(), nil
	}
	return string(out), 0, err
}

// run runs git in dir ("" for a new empty directory) and returns its
// combined output and exit code.
func (g *gitClient) run(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	out, code, err := g.exec(dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, code
}

// must runs git and fails the test unless it exits 0.
func (g *gitClient) must(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := g.run(t, dir, args...)
	if code != 0 {
		t.Fatalf("git %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// init makes a new repository with files committed on main and returns
// its directory.
func (g *gitClient) init(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	g.must(t, dir, "init", "-q")
	g.commit(t, dir, files, "first")
	return dir
}

// commit writes files (path → content) into the work tree, commits
// everything and returns the new commit.
func (g *gitClient) commit(t *testing.T, dir string, files map[string]string, msg string) string {
	t.Helper()
	writeFiles(t, dir, files)
	g.must(t, dir, "add", "-A")
	g.must(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return g.head(t, dir)
}

// writeFiles writes files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (g *gitClient) head(t *testing.T, dir string) string {
	t.Helper()
	return strings.TrimSpace(g.must(t, dir, "rev-parse", "HEAD"))
}

// lsRemote returns the remote's refs (name → commit); HEAD is left out.
func (g *gitClient) lsRemote(t *testing.T, url string) map[string]string {
	t.Helper()
	out := g.must(t, t.TempDir(), "ls-remote", url)
	refs := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		oid, name, ok := strings.Cut(l, "\t")
		if ok && name != "HEAD" {
			refs[name] = oid
		}
	}
	return refs
}

// gitSite is a tenant, one of its sites and a tenant token.
type gitSite struct {
	s      *server
	name   string
	tenant string
	token  string
}

// newGitSite creates tenant (unless it exists), site and a tenant token.
func newGitSite(s *server, tenant, site string) gitSite {
	s.t.Helper()
	if s.api("GET", "/api/v1/tenants/"+tenant, s.Token, nil, nil) == http.StatusNotFound {
		s.pier("tenants", "create", tenant)
	}
	s.pier("sites", "create", site, "--tenant", tenant)
	tok := strings.TrimSpace(s.pier("tokens", "create", "--tenant", tenant, "--name", "git-"+site))
	return gitSite{s: s, name: site, tenant: tenant, token: tok}
}

// url is the site's repository URL with token as the password.
func (gs gitSite) url(token string) string {
	return gitURL(gs.s, token, gs.name)
}

func gitURL(s *server, token, site string) string {
	host := strings.TrimPrefix(s.API, "http://")
	if token == "" {
		return "http://" + host + "/git/" + site + ".git"
	}
	return "http://x:" + token + "@" + host + "/git/" + site + ".git"
}

// host is the site's production host; alias(a) a branch alias host.
func (gs gitSite) host() string          { return gs.name + ".localhost" }
func (gs gitSite) alias(a string) string { return a + "--" + gs.name + ".localhost" }

// edgeURL is the URL a push prints for host.
func (gs gitSite) edgeURL(host string) string {
	_, port, _ := strings.Cut(gs.s.EdgeAddr, ":")
	return "http://" + host + ":" + port + "/"
}

// wantOutput fails the test for each of wants that out lacks.
func wantOutput(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("git output lacks %q:\n%s", w, out)
		}
	}
}

// wantServed fails the test unless host/path answers status with body.
func wantServed(t *testing.T, s *server, host, path string, status int, body string) {
	t.Helper()
	if r := s.get(host, path); r.Status != status || r.Body != body {
		t.Errorf("GET %s%s = %d %q, want %d %q", host, path, r.Status, r.Body, status, body)
	}
}

// wantRefs fails the test unless the remote's refs are exactly want.
func wantRefs(t *testing.T, g *gitClient, url string, want map[string]string) {
	t.Helper()
	got := g.lsRemote(t, url)
	if fmt.Sprint(sortedRefs(got)) != fmt.Sprint(sortedRefs(want)) {
		t.Errorf("remote refs = %v, want %v", sortedRefs(got), sortedRefs(want))
	}
}

func sortedRefs(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// branchAliasOf returns the alias of the branch a push's output names.
func branchAliasOf(t *testing.T, out, site string) string {
	t.Helper()
	m := regexp.MustCompile(`remote: pier:   branch http://([a-z0-9-]+)--` + site + `\.localhost:`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the push names no branch alias:\n%s", out)
	}
	return m[1]
}

// wantBranches fails the test unless GET /api/v1/sites/{site}/git says
// production is the production branch and lists exactly want: branch →
// "<commit> production" or "<commit> <alias URL>".
func wantBranches(t *testing.T, s *server, gs gitSite, production string, want map[string]string) {
	t.Helper()
	var got struct {
		ProductionBranch string `json:"production_branch"`
		Branches         []struct {
			Name, Commit string
			URL          *string `json:"url"`
			Production   bool
		} `json:"branches"`
	}
	if code := s.api("GET", "/api/v1/sites/"+gs.name+"/git", gs.token, nil, &got); code != 200 {
		t.Fatalf("GET /api/v1/sites/%s/git: %d", gs.name, code)
	}
	have := map[string]string{}
	for _, b := range got.Branches {
		v := b.Commit + " production"
		switch {
		case b.URL != nil:
			v = b.Commit + " " + *b.URL
		case !b.Production:
			v = b.Commit + " (no alias)"
		}
		have[b.Name] = v
	}
	if got.ProductionBranch != production || fmt.Sprint(sortedRefs(have)) != fmt.Sprint(sortedRefs(want)) {
		t.Errorf("the site's git branches = %s %v, want %s %v", got.ProductionBranch, sortedRefs(have), production, sortedRefs(want))
	}
}

var liveRE = regexp.MustCompile(`remote: pier: deployment ([a-z0-9]+) is live`)
var branchDeployRE = regexp.MustCompile(`remote: pier: deployment ([a-z0-9]+) of branch `)

// liveDeployment returns the deployment a push's output says is live.
func liveDeployment(t *testing.T, out string) string {
	t.Helper()
	m := liveRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the push names no live deployment:\n%s", out)
	}
	return m[1]
}

// randomFiles returns n files of size incompressible bytes each.
func randomFiles(prefix string, n, size int, seed uint64) map[string]string {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	files := map[string]string{}
	for i := range n {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		files[fmt.Sprintf("%s%d.bin", prefix, i)] = string(b)
	}
	return files
}

// TestGitPush publishes sites with git push against one pier serve: each
// subtest has its own tenant and site.
func TestGitPush(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := startPier(t, "", []string{"--max-file-size", fmt.Sprint(gitMaxFileSize), "--console-host", gitConsoleHost})

	t.Run("first push of 1000 files, then one changed file", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "big", "big")
		files := map[string]string{"index.html": "version one"}
		for i := range 1000 {
			files[fmt.Sprintf("d%02d/f%04d.txt", i/100, i)] = fmt.Sprintf("file %d", i)
		}
		dir := g.init(t, files)
		c1 := g.head(t, dir)
		out := g.must(t, dir, "push", gs.url(gs.token), "main")
		wantOutput(t, out,
			"remote: pier: main: 1,001 files, 1,001 uploaded, 0 reused (",
			"remote: pier:   "+gs.edgeURL(gs.host()),
			"* [new branch]      main -> main")
		d1 := liveDeployment(t, out)
		wantOutput(t, out, "remote: pier:   preview "+gs.edgeURL(d1+"--big.localhost"))
		wantServed(t, s, gs.host(), "/", 200, "version one")
		wantServed(t, s, gs.host(), "/d07/f0777.txt", 200, "file 777")
		wantRefs(t, g, gs.url(gs.token), map[string]string{"refs/heads/main": c1})
		list := s.pier("deployments", "list", "--site", "big")
		if !regexp.MustCompile(`\*\s+` + d1 + `\s.*git main@` + c1[:7]).MatchString(list) {
			t.Errorf("deployments list does not show %s live from git main@%s:\n%s", d1, c1[:7], list)
		}

		c2 := g.commit(t, dir, map[string]string{"d05/f0500.txt": "file 500, changed"}, "one change")
		out = g.must(t, dir, "push", gs.url(gs.token), "main")
		wantOutput(t, out, "remote: pier: main: 1,001 files, 1 uploaded, 1,000 reused (17 B)")
		d2 := liveDeployment(t, out)
		if d2 == d1 {
			t.Errorf("the second push reports the first deployment %s live", d1)
		}
		wantServed(t, s, gs.host(), "/d05/f0500.txt", 200, "file 500, changed")
		wantServed(t, s, gs.host(), "/d05/f0501.txt", 200, "file 501")
		wantServed(t, s, d1+"--big.localhost", "/d05/f0500.txt", 200, "file 500")
		wantRefs(t, g, gs.url(gs.token), map[string]string{"refs/heads/main": c2})
		list = s.pier("deployments", "list", "--site", "big")
		if !regexp.MustCompile(`\*\s+` + d2 + `\s.*git main@` + c2[:7]).MatchString(list) {
			t.Errorf("deployments list does not show %s live from git main@%s:\n%s", d2, c2[:7], list)
		}
		var dep struct {
			Source struct{ Type, Branch, Commit string } `json:"source"`
		}
		if code := s.api("GET", "/api/v1/sites/big/deployments/"+d2, gs.token, nil, &dep); code != 200 ||
			dep.Source.Type != "git" || dep.Source.Branch != "main" || dep.Source.Commit != c2 {
			t.Errorf("GET deployment %s: %d source %+v, want git main %s", d2, code, dep.Source, c2)
		}
	})

	t.Run("branch push, alias, delete", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "branchy", "branchy")
		url := gs.url(gs.token)
		dir := g.init(t, map[string]string{"index.html": "production"})
		main := g.head(t, dir)
		g.must(t, dir, "push", url, "main")

		g.must(t, dir, "checkout", "-q", "-b", "feature/New_Look")
		f1 := g.commit(t, dir, map[string]string{"index.html": "feature one"}, "feature")
		out := g.must(t, dir, "push", url, "feature/New_Look")
		wantOutput(t, out,
			"remote: pier: feature/New_Look: 1 file, 1 uploaded, 0 reused (11 B)",
			"(a preview; production is unchanged)",
			"remote: pier:   branch "+gs.edgeURL(gs.alias("feature-new-look")))
		if strings.Contains(out, " is live") {
			t.Errorf("a branch push says a deployment is live:\n%s", out)
		}
		m := branchDeployRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the branch push names no deployment:\n%s", out)
		}
		wantServed(t, s, gs.host(), "/", 200, "production")
		wantServed(t, s, gs.alias("feature-new-look"), "/", 200, "feature one")
		wantServed(t, s, m[1]+"--branchy.localhost", "/", 200, "feature one")
		wantRefs(t, g, url, map[string]string{"refs/heads/main": main, "refs/heads/feature/New_Look": f1})
		wantBranches(t, s, gs, "main", map[string]string{
			"main":             main + " production",
			"feature/New_Look": f1 + " " + gs.edgeURL(gs.alias("feature-new-look")),
		})

		// The alias follows the branch's latest push.
		f2 := g.commit(t, dir, map[string]string{"index.html": "feature two"}, "feature again")
		out = g.must(t, dir, "push", url, "feature/New_Look")
		wantOutput(t, out, "remote: pier:   branch "+gs.edgeURL(gs.alias("feature-new-look")))
		wantServed(t, s, gs.alias("feature-new-look"), "/", 200, "feature two")
		wantServed(t, s, gs.host(), "/", 200, "production")
		list := s.pier("deployments", "list", "--site", "branchy")
		if !strings.Contains(list, "git feature/New_Look@"+f2[:7]) {
			t.Errorf("deployments list does not show the branch's source:\n%s", list)
		}

		// Two branches that slug alike get different aliases; a slug that
		// looks like a deployment id gets a hash suffix.
		g.must(t, dir, "checkout", "-q", "-b", "feature-new-look")
		g.commit(t, dir, map[string]string{"index.html": "look-alike"}, "look-alike")
		out = g.must(t, dir, "push", url, "feature-new-look")
		if a := branchAliasOf(t, out, "branchy"); !regexp.MustCompile(`^feature-new-look-[0-9a-f]{6}$`).MatchString(a) {
			t.Errorf("the look-alike branch's alias is %q, want feature-new-look-<hash>", a)
		} else {
			wantServed(t, s, gs.alias(a), "/", 200, "look-alike")
		}
		wantServed(t, s, gs.alias("feature-new-look"), "/", 200, "feature two")
		g.must(t, dir, "checkout", "-q", "-b", "release1")
		g.commit(t, dir, map[string]string{"index.html": "release"}, "release")
		out = g.must(t, dir, "push", url, "release1")
		if a := branchAliasOf(t, out, "branchy"); !regexp.MustCompile(`^release1-[0-9a-f]{6}$`).MatchString(a) {
			t.Errorf("the alias of branch release1 is %q, want release1-<hash> (never a deployment id's shape)", a)
		} else {
			wantServed(t, s, gs.alias(a), "/", 200, "release")
		}
		g.must(t, dir, "push", url, ":feature-new-look", ":release1")

		// The production branch cannot be deleted.
		out, code := g.run(t, dir, "push", url, ":main")
		if code == 0 {
			t.Errorf("deleting main succeeded:\n%s", out)
		}
		wantOutput(t, out, "remote: pier: refusing to delete main: it is the site's production branch")
		wantRefs(t, g, url, map[string]string{"refs/heads/main": main, "refs/heads/feature/New_Look": f2})

		out = g.must(t, dir, "push", url, ":feature/New_Look")
		wantOutput(t, out,
			"remote: pier: branch feature/New_Look deleted; "+gs.edgeURL(gs.alias("feature-new-look"))+" no longer serves it",
			"[deleted]")
		wantRefs(t, g, url, map[string]string{"refs/heads/main": main})
		wantBranches(t, s, gs, "main", map[string]string{"main": main + " production"})
		if r := s.get(gs.alias("feature-new-look"), "/"); r.Status != 404 {
			t.Errorf("the deleted branch's alias answers %d %q", r.Status, r.Body)
		}
		wantServed(t, s, gs.host(), "/", 200, "production")
	})

	t.Run("production branch other than main", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "trunky", "trunky")
		url := gs.url(gs.token)
		dir := g.init(t, map[string]string{"index.html": "m1"})
		g.must(t, dir, "push", url, "main")
		s.pier("sites", "set-branch", "trunky", "trunk")

		m2 := g.commit(t, dir, map[string]string{"index.html": "m2"}, "m2")
		out := g.must(t, dir, "push", url, "main")
		wantOutput(t, out, "of branch main (a preview; production is unchanged)", "remote: pier:   branch "+gs.edgeURL(gs.alias("main")))
		wantServed(t, s, gs.host(), "/", 200, "m1")
		wantServed(t, s, gs.alias("main"), "/", 200, "m2")

		g.must(t, dir, "checkout", "-q", "-b", "trunk")
		t1 := g.commit(t, dir, map[string]string{"index.html": "t1"}, "t1")
		out = g.must(t, dir, "push", url, "trunk")
		liveDeployment(t, out)
		wantServed(t, s, gs.host(), "/", 200, "t1")
		// HEAD names the production branch: a clone checks it out.
		if out := g.must(t, "", "ls-remote", "--symref", url, "HEAD"); !strings.HasPrefix(out, "ref: refs/heads/trunk\tHEAD") {
			t.Errorf("ls-remote --symref HEAD = %q, want refs/heads/trunk", out)
		}
		wantBranches(t, s, gs, "trunk", map[string]string{
			"trunk": t1 + " production",
			"main":  m2 + " " + gs.edgeURL(gs.alias("main")),
		})

		out, code := g.run(t, dir, "push", url, ":trunk")
		if code == 0 {
			t.Errorf("deleting the production branch trunk succeeded:\n%s", out)
		}
		wantOutput(t, out, "remote: pier: refusing to delete trunk: it is the site's production branch")
		g.must(t, dir, "push", url, ":main")
		wantRefs(t, g, url, map[string]string{"refs/heads/trunk": t1})
		wantServed(t, s, gs.host(), "/", 200, "t1")
	})

	t.Run("force-push an old commit rolls back", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "rollback", "rollback")
		url := gs.url(gs.token)
		dir := g.init(t, map[string]string{"index.html": "old", "same.txt": "same"})
		c1 := g.head(t, dir)
		d1 := liveDeployment(t, g.must(t, dir, "push", url, "main"))
		c2 := g.commit(t, dir, map[string]string{"index.html": "new"}, "new")
		g.must(t, dir, "push", url, "main")
		wantServed(t, s, gs.host(), "/", 200, "new")

		// Without -f, git refuses the non-fast-forward.
		out, code := g.run(t, dir, "push", url, c1+":refs/heads/main")
		if code == 0 {
			t.Errorf("a non-fast-forward push without -f succeeded:\n%s", out)
		}
		wantRefs(t, g, url, map[string]string{"refs/heads/main": c2})

		out = g.must(t, dir, "push", "-f", url, c1+":refs/heads/main")
		wantOutput(t, out,
			"remote: pier: main: commit "+c1[:7]+" has the tree of deployment "+d1+"; reusing it, nothing uploaded",
			"remote: pier: deployment "+d1+" is live",
			"(forced update)")
		if strings.Contains(out, " uploaded, ") {
			t.Errorf("the rollback push uploaded:\n%s", out)
		}
		wantServed(t, s, gs.host(), "/", 200, "old")
		wantRefs(t, g, url, map[string]string{"refs/heads/main": c1})
	})

	t.Run("shallow clone from CI, clone and fetch of the Pier repository", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "shallow", "shallow")
		origin := g.init(t, map[string]string{"index.html": "one", "a.txt": "a"})
		g.commit(t, origin, map[string]string{"index.html": "two"}, "two")
		g.commit(t, origin, map[string]string{"index.html": "three", "b.txt": "b"}, "three")
		ci := filepath.Join(t.TempDir(), "ci")
		g.must(t, "", "clone", "-q", "--depth", "1", "file://"+origin, ci)
		if out := g.must(t, ci, "rev-list", "--count", "HEAD"); strings.TrimSpace(out) != "1" {
			t.Fatalf("the CI clone is not shallow: %s commits", out)
		}
		c := g.commit(t, ci, map[string]string{"index.html": "built in CI"}, "ci build")
		out := g.must(t, ci, "push", gs.url(gs.token), "HEAD:main")
		wantOutput(t, out, "remote: pier: main: 3 files, 3 uploaded, 0 reused (")
		liveDeployment(t, out)
		wantServed(t, s, gs.host(), "/", 200, "built in CI")
		wantServed(t, s, gs.host(), "/b.txt", 200, "b")
		wantRefs(t, g, gs.url(gs.token), map[string]string{"refs/heads/main": c})

		// The tenant clones the site's repository, the token coming from a
		// credential helper instead of the URL.
		helper := fmt.Sprintf("!f() { echo username=x; echo password=%s; }; f", gs.token)
		clone := filepath.Join(t.TempDir(), "clone")
		g.must(t, "", "-c", "credential.helper="+helper, "clone", "-q", gs.url(""), clone)
		if got := g.head(t, clone); got != c {
			t.Errorf("the clone's HEAD = %s, want %s", got, c)
		}
		if b, err := os.ReadFile(filepath.Join(clone, "index.html")); err != nil || string(b) != "built in CI" {
			t.Errorf("the clone's index.html = %q, %v", b, err)
		}
		// A push through the helper, then a fetch into the first clone.
		c2 := g.commit(t, clone, map[string]string{"index.html": "from the clone"}, "clone")
		g.must(t, clone, "-c", "credential.helper="+helper, "push", "-q", "origin", "main")
		wantServed(t, s, gs.host(), "/", 200, "from the clone")
		g.must(t, ci, "fetch", "-q", gs.url(gs.token), "main")
		if got := strings.TrimSpace(g.must(t, ci, "rev-parse", "FETCH_HEAD")); got != c2 {
			t.Errorf("fetched %s, want %s", got, c2)
		}

		// Through the console host on the edge's listener, as
		// https://console.example.net/git/<site>.git.
		viaConsole := "http://x:" + gs.token + "@" + s.EdgeAddr + "/git/shallow.git"
		hostHeader := "http.extraHeader=Host: " + gitConsoleHost
		c3 := g.commit(t, clone, map[string]string{"index.html": "through the console host"}, "console")
		g.must(t, clone, "-c", hostHeader, "push", "-q", viaConsole, "main")
		wantServed(t, s, gs.host(), "/", 200, "through the console host")
		if out := g.must(t, "", "-c", hostHeader, "ls-remote", viaConsole, "main"); !strings.HasPrefix(out, c3+"\trefs/heads/main") {
			t.Errorf("ls-remote through the console host = %q, want %s", out, c3)
		}
		// A site host is no git server.
		if out, code := g.run(t, "", "-c", "http.extraHeader=Host: "+gs.host(), "ls-remote", viaConsole); code == 0 {
			t.Errorf("a site host answered git:\n%s", out)
		}

		bad := filepath.Join(t.TempDir(), "bad")
		out, code := g.run(t, "", "clone", "-q", gs.url("pier_wrong-token"), bad)
		if code == 0 {
			t.Errorf("a clone with a wrong token succeeded")
		}
		wantOutput(t, out, "Authentication failed")
		if _, err := os.Stat(filepath.Join(bad, "index.html")); err == nil {
			t.Errorf("a clone with a wrong token checked out files")
		}
	})

	t.Run("pier.toml from the commit", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "toml", "toml")
		url := gs.url(gs.token)
		dir := g.init(t, map[string]string{
			"README.md":  "readme",
			"src/app.ts": "source",
			"pier.toml": `[assets]
directory = "dist"
html_handling = "none"
not_found_handling = "single-page-application"
`,
			"dist/index.html": "app shell",
			"dist/about.html": "about page",
		})
		out := g.must(t, dir, "push", url, "main")
		wantOutput(t, out, "remote: pier: main: 2 files, 2 uploaded, 0 reused (")
		wantServed(t, s, gs.host(), "/", 200, "app shell")
		// html_handling none: /about.html as it is, /about not resolved
		// (the SPA fallback answers it); auto would redirect and resolve.
		wantServed(t, s, gs.host(), "/about.html", 200, "about page")
		wantServed(t, s, gs.host(), "/about", 200, "app shell")
		wantServed(t, s, gs.host(), "/deep/link", 200, "app shell")
		// Only dist is published: the root's files are not (a miss with
		// an extension is a 404, not the SPA's shell).
		for p, content := range map[string]string{"/README.md": "readme", "/src/app.ts": "source", "/pier.toml": "[assets]", "/dist/index.html": ""} {
			r := s.get(gs.host(), p)
			if r.Status == 200 && r.Body != "app shell" || content != "" && strings.Contains(r.Body, content) {
				t.Errorf("GET %s = %d %q: a file outside dist is served", p, r.Status, r.Body)
			}
		}

		// The next commit's pier.toml wins: 404-page with dist/404.html.
		c2 := g.commit(t, dir, map[string]string{
			"pier.toml":     "[assets]\ndirectory = \"./dist\"\nnot_found_handling = \"404-page\"\n",
			"dist/404.html": "custom 404",
		}, "404 page")
		g.must(t, dir, "push", url, "main")
		wantServed(t, s, gs.host(), "/README.md", 404, "custom 404")
		wantServed(t, s, gs.host(), "/deep/link", 404, "custom 404")
		if r := s.get(gs.host(), "/about.html"); r.Status != 307 || r.Header.Get("Location") != "/about" {
			t.Errorf("GET /about.html with the default html_handling = %d %q", r.Status, r.Header.Get("Location"))
		}
		wantRefs(t, g, url, map[string]string{"refs/heads/main": c2})

		t.Run("worker.main", func(t *testing.T) {
			wat2wasm, err := exec.LookPath("wat2wasm")
			if err != nil {
				if os.Getenv("PIER_TEST_REQUIRE_SERVERS") == "1" {
					t.Fatal("wat2wasm not found: run make examples (installs wabt)")
				}
				t.Skip("wat2wasm not found")
			}
			wasmFile := filepath.Join(t.TempDir(), "worker.wasm")
			if out, err := exec.Command(wat2wasm, filepath.Join(repoRoot(t), "examples", "worker-wat", "worker.wat"), "-o", wasmFile).CombinedOutput(); err != nil {
				t.Fatalf("wat2wasm: %v\n%s", err, out)
			}
			wasm, err := os.ReadFile(wasmFile)
			if err != nil {
				t.Fatal(err)
			}
			c3 := g.commit(t, dir, map[string]string{
				"build/worker.wasm": string(wasm),
				"pier.toml": `[assets]
directory = "dist"
run_worker_first = ["/wat"]

[vars]
GREETING = "hello"

[worker]
main = "./build/worker.wasm"
`,
			}, "worker")
			g.must(t, dir, "push", url, "main")
			wantServed(t, s, gs.host(), "/wat", 200, "hello from WAT\n")
			wantServed(t, s, gs.host(), "/", 200, "app shell")
			if r := s.get(gs.host(), "/build/worker.wasm"); r.Status == 200 {
				t.Errorf("the worker module is served as a file")
			}
			wantRefs(t, g, url, map[string]string{"refs/heads/main": c3})
		})
	})

	t.Run("files a push leaves out", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "skips", "skips")
		dir := t.TempDir()
		g.must(t, dir, "init", "-q")
		if err := os.Symlink("index.html", filepath.Join(dir, "link.html")); err != nil {
			t.Fatal(err)
		}
		c := g.commit(t, dir, map[string]string{
			"index.html":      "home",
			".env":            "SECRET=1",
			"keys/server.key": "private",
			"drafts/post.md":  "draft",
			".assetsignore":   "drafts/\n",
			".gitignore":      "*.log\n",
			"node_modules/x":  "dependency",
		}, "skips")
		out := g.must(t, dir, "push", gs.url(gs.token), "main")
		wantOutput(t, out,
			"remote: pier: skipped .env: an environment file, secret by convention",
			"remote: pier: skipped keys/server.key: a private key",
			"remote: pier: skipped link.html: a symbolic link (commit the file itself)",
			"remote: pier: main: 2 files, 2 uploaded, 0 reused (")
		wantServed(t, s, gs.host(), "/", 200, "home")
		wantServed(t, s, gs.host(), "/.gitignore", 200, "*.log\n")
		for _, p := range []string{"/.env", "/keys/server.key", "/link.html", "/drafts/post.md", "/.assetsignore", "/node_modules/x"} {
			if r := s.get(gs.host(), p); r.Status != 404 {
				t.Errorf("GET %s = %d %q, want 404", p, r.Status, r.Body)
			}
		}
		wantRefs(t, g, gs.url(gs.token), map[string]string{"refs/heads/main": c})
	})

	t.Run("refusals", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "guard", "guard")
		url := gs.url(gs.token)
		dir := g.init(t, map[string]string{"index.html": "live version"})
		good := g.head(t, dir)
		g.must(t, dir, "push", url, "main")
		wantServed(t, s, gs.host(), "/", 200, "live version")

		cases := []struct {
			name  string
			files map[string]string
			ref   string // default main
			want  []string
		}{
			{
				name:  "bad _redirects line",
				files: map[string]string{"_redirects": "/old /new 301\n/only-a-source\n"},
				want:  []string{"remote: pier: refused main: ", "_redirects", "line 2"},
			},
			{
				name:  "file over the size limit",
				files: map[string]string{"big.bin": strings.Repeat("x", gitMaxFileSize+1)},
				want:  []string{"remote: pier: refused main: ", "/big.bin", fmt.Sprint(gitMaxFileSize)},
			},
			{
				name:  "missing assets.directory",
				files: map[string]string{"pier.toml": "[assets]\ndirectory = \"dist\"\n"},
				want:  []string{`remote: pier: refused main: pier.toml: assets.directory "dist" is not a directory in commit`},
			},
			{
				name:  "assets.directory outside the repository",
				files: map[string]string{"pier.toml": "[assets]\ndirectory = \"../\"\n"},
				want:  []string{`remote: pier: refused main: pier.toml: assets.directory "../" must be a directory inside the repository`},
			},
			{
				name:  "invalid pier.toml",
				files: map[string]string{"pier.toml": "[assets\n"},
				want:  []string{"remote: pier: refused main: pier.toml"},
			},
			{
				name:  "invalid not_found_handling",
				files: map[string]string{"pier.toml": "[assets]\nnot_found_handling = \"sometimes\"\n"},
				want:  []string{"remote: pier: refused main: ", "not_found_handling", "sometimes"},
			},
			{
				name: "worker that does not compile",
				files: map[string]string{
					"worker.wasm": "\x00asm\x01\x00\x00\x00garbage that is no module",
					"pier.toml":   "[worker]\nmain = \"worker.wasm\"\n",
				},
				want: []string{"remote: pier: refused main: ", "worker", "invalid module"},
			},
			{
				name:  "worker.main not in the commit",
				files: map[string]string{"pier.toml": "[worker]\nmain = \"build/worker.wasm\"\n"},
				want:  []string{`remote: pier: refused main: pier.toml: worker.main "build/worker.wasm" is not a file in commit`},
			},
			{
				name:  "a tag",
				files: map[string]string{"index.html": "tagged"},
				ref:   "refs/tags/v1",
				want:  []string{`remote: pier: refusing "refs/tags/v1": only branches (refs/heads/…) can be pushed to Pier`},
			},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				g.must(t, dir, "reset", "-q", "--hard", good)
				g.must(t, dir, "clean", "-q", "-fdx")
				c := g.commit(t, dir, tc.files, tc.name)
				ref := tc.ref
				if ref == "" {
					ref = "refs/heads/main"
				}
				out, code := g.run(t, dir, "push", url, c+":"+ref)
				if code == 0 {
					t.Fatalf("the push succeeded:\n%s", out)
				}
				wantOutput(t, out, tc.want...)
				if tc.ref == "" {
					wantOutput(t, out, "remote: pier: nothing was published; the live site is unchanged")
				}
				wantOutput(t, out, "pre-receive hook declined")
				wantServed(t, s, gs.host(), "/", 200, "live version")
				wantRefs(t, g, url, map[string]string{"refs/heads/main": good})
			})
		}
		t.Run("more refs than a push may update", func(t *testing.T) {
			g.must(t, dir, "reset", "-q", "--hard", good)
			args := []string{"push", url}
			for i := range 33 {
				args = append(args, fmt.Sprintf("HEAD:refs/heads/b%d", i))
			}
			out, code := g.run(t, dir, args...)
			if code == 0 {
				t.Fatalf("a push of 33 branches succeeded:\n%s", out)
			}
			wantOutput(t, out, "remote: pier: a push may update at most 32 refs")
			wantRefs(t, g, url, map[string]string{"refs/heads/main": good})
		})

		list := s.pier("deployments", "list", "--site", "guard")
		if n := strings.Count(list, "git main@"); n != 1 {
			t.Errorf("refused pushes left deployments behind (%d git deployments):\n%s", n, list)
		}

		// One push of two branches, one of them bad: neither moves. (The
		// good branch's deployment, built before the bad one was refused,
		// stays in the list, never live; a later push of its tree reuses
		// it.)
		t.Run("two branches, one refused", func(t *testing.T) {
			g.must(t, dir, "reset", "-q", "--hard", good)
			g.must(t, dir, "checkout", "-q", "-B", "ok-branch")
			okc := g.commit(t, dir, map[string]string{"index.html": "fine"}, "fine")
			g.must(t, dir, "checkout", "-q", "-B", "bad-branch")
			badc := g.commit(t, dir, map[string]string{"_redirects": "/a\n"}, "bad")
			g.must(t, dir, "checkout", "-q", "main")
			out, code := g.run(t, dir, "push", url, okc+":refs/heads/main", badc+":refs/heads/bad-branch")
			if code == 0 {
				t.Fatalf("the push succeeded:\n%s", out)
			}
			wantOutput(t, out, "remote: pier: refused bad-branch: _redirects line 1", "remote: pier: nothing was published; the live site is unchanged")
			if strings.Contains(out, " is live") {
				t.Errorf("a refused push says a deployment is live:\n%s", out)
			}
			wantServed(t, s, gs.host(), "/", 200, "live version")
			wantRefs(t, g, url, map[string]string{"refs/heads/main": good})
			list := s.pier("deployments", "list", "--site", "guard")
			if !regexp.MustCompile(`\*\s+\w+\s.*git main@` + good[:7]).MatchString(list) {
				t.Errorf("the live deployment is no longer the one of %s:\n%s", good[:12], list)
			}
		})
		g.must(t, dir, "checkout", "-q", "main")
		g.must(t, dir, "reset", "-q", "--hard", good)

		// Pushing the same commit again moves nothing and publishes
		// nothing new.
		out := g.must(t, dir, "push", url, "main")
		wantOutput(t, out, "Everything up-to-date")

	})

	t.Run("tenant limits", func(t *testing.T) {
		g := newGitClient(t)
		limited := func(t *testing.T, name string, limits map[string]int) (gitSite, string, string) {
			gs := newGitSite(s, name, name)
			var got struct {
				Limits map[string]int `json:"limits"`
			}
			if code := s.api("PATCH", "/api/v1/tenants/"+name, s.Token, map[string]any{"limits": limits}, &got); code != 200 {
				t.Fatalf("PATCH limits of %s: %d", name, code)
			}
			for k, v := range limits {
				if got.Limits[k] != v {
					t.Fatalf("tenant %s limits = %v, want %s %d", name, got.Limits, k, v)
				}
			}
			dir := g.init(t, map[string]string{"index.html": "small"})
			g.must(t, dir, "push", gs.url(gs.token), "main")
			return gs, dir, g.head(t, dir)
		}
		t.Run("repository size", func(t *testing.T) {
			gs, dir, good := limited(t, "smallrepo", map[string]int{"gitRepoMB": 1})
			g.commit(t, dir, randomFiles("r", 4, 400_000, 1), "1.6 MB of noise")
			out, code := g.run(t, dir, "push", gs.url(gs.token), "main")
			if code == 0 {
				t.Fatalf("a push over gitRepoMB succeeded:\n%s", out)
			}
			wantOutput(t, out, "remote: pier: refused: the repository would be ", "over the plan's limit of 1 MB (gitRepoMB)")
			wantServed(t, s, gs.host(), "/", 200, "small")
			wantRefs(t, g, gs.url(gs.token), map[string]string{"refs/heads/main": good})
		})
		t.Run("push size", func(t *testing.T) {
			gs, dir, good := limited(t, "smallpush", map[string]int{"gitPushMB": 1})
			g.commit(t, dir, randomFiles("p", 8, 400_000, 2), "3.2 MB of noise")
			out, code := g.run(t, dir, "push", gs.url(gs.token), "main")
			if code == 0 {
				t.Fatalf("a push over gitPushMB succeeded:\n%s", out)
			}
			// receive-pack's index-pack stops at receive.maxInputSize and
			// says so with the limit (git's words, not Pier's).
			wantOutput(t, out, "remote: fatal: pack exceeds maximum allowed size (1024.00 KiB)")
			wantServed(t, s, gs.host(), "/", 200, "small")
			wantRefs(t, g, gs.url(gs.token), map[string]string{"refs/heads/main": good})
		})
	})

	t.Run("authentication and scoping", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "authz", "authz")
		other := newGitSite(s, "intruder", "intruder")
		sibling := newGitSite(s, "authz", "authz-two")
		url := gs.url(gs.token)
		dir := g.init(t, map[string]string{"index.html": "mine"})
		good := g.head(t, dir)
		g.must(t, dir, "push", url, "main")
		next := g.commit(t, dir, map[string]string{"index.html": "changed"}, "next")

		for _, svc := range []string{"git-receive-pack", "git-upload-pack"} {
			for _, tc := range []struct{ name, token string }{{"no token", ""}, {"wrong token", "pier_not-a-token"}} {
				req, _ := http.NewRequest("GET", s.API+"/git/authz.git/info/refs?service="+svc, nil)
				if tc.token != "" {
					req.SetBasicAuth("x", tc.token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("%s, %s: %d WWW-Authenticate %q, want 401 with a Basic challenge", svc, tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
			}
		}

		out, code := g.run(t, dir, "push", gs.url("pier_not-a-token"), "main")
		if code == 0 {
			t.Errorf("a push with a wrong token succeeded")
		}
		wantOutput(t, out, "Authentication failed")
		out, code = g.run(t, dir, "push", gs.url(""), "main")
		if code == 0 {
			t.Errorf("a push without a token succeeded")
		}
		// The 401 made git ask for credentials, which it may not here.
		wantOutput(t, out, "could not read Username", "terminal prompts disabled")

		// Another tenant's token: the site does not exist for it.
		req, _ := http.NewRequest("GET", s.API+"/git/authz.git/info/refs?service=git-receive-pack", nil)
		req.SetBasicAuth("x", other.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("another tenant's token: %d %v, want 404 without a challenge", resp.StatusCode, resp.Header)
		}
		out, code = g.run(t, dir, "push", gs.url(other.token), "main")
		if code == 0 {
			t.Errorf("another tenant's token pushed")
		}
		wantOutput(t, out, "not found")
		_, code = g.run(t, "", "ls-remote", gs.url(other.token))
		if code == 0 {
			t.Errorf("another tenant's token read the refs")
		}

		// A site never pushed to has an empty repository the tenant can
		// clone.
		out = g.must(t, "", "clone", sibling.url(sibling.token), filepath.Join(t.TempDir(), "empty"))
		wantOutput(t, out, "You appear to have cloned an empty repository")
		wantRefs(t, g, sibling.url(sibling.token), map[string]string{})

		// A disabled tenant may read its repository but not push.
		frozen := newGitSite(s, "frozen", "frozen")
		fdir := g.init(t, map[string]string{"index.html": "frozen"})
		if code := s.api("PATCH", "/api/v1/tenants/frozen", s.Token, map[string]any{"disabled": true}, nil); code != 200 {
			t.Fatalf("disabling the tenant: %d", code)
		}
		out, code = g.run(t, fdir, "push", frozen.url(frozen.token), "main")
		if code == 0 {
			t.Errorf("a disabled tenant pushed:\n%s", out)
		}
		wantOutput(t, out, "403")
		wantRefs(t, g, frozen.url(frozen.token), map[string]string{})

		// A deleted site's repository goes with it: another tenant that
		// takes the name finds an empty one.
		gone := newGitSite(s, "authz", "reused-name")
		g.must(t, dir, "push", gone.url(gone.token), "main")
		s.pier("sites", "delete", "reused-name")
		if _, code := g.run(t, "", "ls-remote", gone.url(gone.token)); code == 0 {
			t.Errorf("the deleted site's repository still answers")
		}
		s.pier("sites", "create", "reused-name", "--tenant", "intruder")
		wantRefs(t, g, gitURL(s, other.token, "reused-name"), map[string]string{})
		out = g.must(t, "", "clone", gitURL(s, other.token, "reused-name"), filepath.Join(t.TempDir(), "reused"))
		wantOutput(t, out, "You appear to have cloned an empty repository")

		// A site token pushes to its site only.
		siteTok := strings.TrimSpace(s.pier("tokens", "create", "--site", "authz", "--name", "ci"))
		out, code = g.run(t, dir, "push", gitURL(s, siteTok, sibling.name), "main")
		if code == 0 {
			t.Errorf("a site token pushed to another site of its tenant")
		}
		wantOutput(t, out, "not found")
		if r := s.get(sibling.host(), "/"); r.Status == 200 {
			t.Errorf("the sibling site serves %q after a refused push", r.Body)
		}
		wantServed(t, s, gs.host(), "/", 200, "mine")
		wantRefs(t, g, url, map[string]string{"refs/heads/main": good})

		out = g.must(t, dir, "push", gitURL(s, siteTok, "authz"), "main")
		liveDeployment(t, out)
		wantServed(t, s, gs.host(), "/", 200, "changed")
		// The admin token reads every site.
		wantRefs(t, g, gitURL(s, s.Token, "authz"), map[string]string{"refs/heads/main": next})
	})

	t.Run("injection attempts", func(t *testing.T) {
		testGitInjection(t, s, newGitClient(t))
	})

	// Last, as it restarts the shared server: the node's local copy of
	// the repositories is a cache, rebuilt from the store and the blob
	// backend.
	t.Run("restart without the local repositories", func(t *testing.T) {
		g := newGitClient(t)
		gs := newGitSite(s, "cache", "cache")
		url := gs.url(gs.token)
		dir := g.init(t, map[string]string{"index.html": "before", "keep.txt": "kept"})
		g.must(t, dir, "push", url, "main")
		c1 := g.head(t, dir)
		s.stop()
		repos := filepath.Join(s.Data, "git", "repos")
		if ents, err := os.ReadDir(repos); err != nil || len(ents) == 0 {
			t.Fatalf("no local repositories in %s: %v", repos, err)
		}
		if err := os.RemoveAll(repos); err != nil {
			t.Fatal(err)
		}
		s.start()
		wantRefs(t, g, url, map[string]string{"refs/heads/main": c1})
		c2 := g.commit(t, dir, map[string]string{"index.html": "after"}, "after")
		out := g.must(t, dir, "push", url, "main")
		wantOutput(t, out, "remote: pier: main: 2 files, 1 uploaded, 1 reused (")
		wantServed(t, s, gs.host(), "/", 200, "after")
		clone := filepath.Join(t.TempDir(), "clone")
		g.must(t, "", "clone", "-q", url, clone)
		if got := strings.TrimSpace(g.must(t, clone, "rev-list", "--count", "HEAD")); got != "2" || g.head(t, clone) != c2 {
			t.Errorf("the clone after the rebuild has %s commits, HEAD %s; want 2, %s", got, g.head(t, clone), c2)
		}
	})
}

// testGitInjection pushes and asks for crafted ref names and paths: each
// is refused without effect, and the server stays healthy.
func testGitInjection(t *testing.T, s *server, g *gitClient) {
	gs := newGitSite(s, "inject", "inject")
	url := gs.url(gs.token)
	dir := g.init(t, map[string]string{"index.html": "safe"})
	good := g.head(t, dir)
	g.must(t, dir, "push", url, "main")
	pwned := filepath.Join(t.TempDir(), "pwned")
	refs := map[string]string{"refs/heads/main": good}

	checkUnharmed := func(t *testing.T) {
		t.Helper()
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("%s exists: an injected command ran", pwned)
		}
		wantServed(t, s, gs.host(), "/", 200, "safe")
		wantRefs(t, g, url, refs)
		resp, err := http.Get(s.API + "/healthz")
		if err != nil {
			t.Fatalf("healthz: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("healthz = %d", resp.StatusCode)
		}
	}

	// Ref names git's client sends as they are; the server refuses them.
	for _, tc := range []struct{ ref, want string }{
		{"refs/heads/-h", `remote: pier: refusing branch "-h": not a branch name Pier accepts`},
		{"refs/heads/--upload-pack=touch", `remote: pier: refusing branch "--upload-pack=touch": not a branch name Pier accepts`},
		{"refs/heads/" + strings.Repeat("long/", 41) + "x", `remote: pier: refusing branch "long/long/`},
		{"refs/tags/v1", `remote: pier: refusing "refs/tags/v1": only branches (refs/heads/…) can be pushed to Pier`},
		{"refs/notes/commits", `remote: pier: refusing "refs/notes/commits": only branches`},
		{"refs/pull/1/head", `remote: pier: refusing "refs/pull/1/head": only branches`},
	} {
		t.Run("git push "+printableRef(tc.ref), func(t *testing.T) {
			out, code := g.run(t, dir, "push", url, "HEAD:"+tc.ref)
			if code == 0 {
				t.Errorf("the push succeeded:\n%s", out)
			}
			wantOutput(t, out, tc.want, "pre-receive hook declined")
			if strings.HasPrefix(tc.ref, "refs/heads/long/") {
				wantOutput(t, out, "at most 200 bytes")
			}
			checkUnharmed(t)
		})
	}

	// Objects git's fsck refuses (receive.fsckObjects): a tree holding
	// ".git" (the classic way to plant a repository's config in a
	// checkout) and a commit with a malformed author.
	t.Run("objects fsck refuses", func(t *testing.T) {
		blob := strings.TrimSpace(g.must(t, dir, "hash-object", "-w", "--", "index.html"))
		oid := make([]byte, 20)
		if _, err := fmt.Sscanf(blob, "%x", &oid); err != nil {
			t.Fatal(err)
		}
		treeFile := filepath.Join(t.TempDir(), "tree")
		if err := os.WriteFile(treeFile, append([]byte("100644 .git\x00"), oid...), 0o644); err != nil {
			t.Fatal(err)
		}
		tree := strings.TrimSpace(g.must(t, dir, "hash-object", "-t", "tree", "--literally", "-w", "--", treeFile))
		dotgit := strings.TrimSpace(g.must(t, dir, "commit-tree", tree, "-m", "dot git"))
		commitFile := filepath.Join(t.TempDir(), "commit")
		goodTree := strings.TrimSpace(g.must(t, dir, "rev-parse", "HEAD^{tree}"))
		if err := os.WriteFile(commitFile, []byte("tree "+goodTree+"\nauthor no email 1 +0000\ncommitter x <x@y> 1 +0000\n\nbad\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		badAuthor := strings.TrimSpace(g.must(t, dir, "hash-object", "-t", "commit", "--literally", "-w", "--", commitFile))
		for c, why := range map[string]string{dotgit: "hasDotgit", badAuthor: "missingEmail"} {
			out, code := g.run(t, dir, "push", "-f", url, c+":refs/heads/main")
			if code == 0 {
				t.Errorf("the push of %s succeeded:\n%s", c, out)
			}
			wantOutput(t, out, "remote: error: object ", ": "+why+": ", "remote: fatal: fsck error in packed object")
			checkUnharmed(t)
		}
	})

	// Ref names git's client will not send, through the raw protocol:
	// receive-pack itself refuses what is no ref name ("funny refname"),
	// Pier's hook the rest; either way the answer is an "ng" line.
	for _, ref := range []string{
		"refs/heads/--upload-pack=touch " + pwned,
		"refs/heads/with space",
		"refs/heads/a\tb",
		"refs/heads/../../config",
		"refs/heads/.git/config",
		"refs/heads/x.lock",
		"refs/heads/" + strings.Repeat("a", 300),
		"--upload-pack=touch " + pwned,
		"-h",
		"HEAD",
	} {
		t.Run("raw push "+printableRef(ref), func(t *testing.T) {
			status, body := rawReceivePack(t, s, gs.token, "inject", zeroOIDHex+" "+good+" "+ref, "report-status side-band-64k")
			if status != 200 || !strings.Contains(body, "ng ") || strings.Contains(body, "ok refs/") {
				t.Errorf("raw push: %d %q, want 200 with an ng line", status, printableRef(body))
			}
			checkUnharmed(t)
		})
	}
	t.Run("raw push of a pkt-line longer than the protocol allows", func(t *testing.T) {
		status, body := rawReceivePack(t, s, gs.token, "inject", zeroOIDHex+" "+good+" refs/heads/"+strings.Repeat("b", 70000), "report-status")
		if strings.Contains(body, "ok refs/") {
			t.Errorf("raw push: %d %q: a ref was accepted", status, printableRef(body))
		}
		checkUnharmed(t)
	})
	// In git's protocol a NUL ends the ref name (the capabilities follow
	// it), so these push branch "x" and "" whatever follows the NUL:
	// receive-pack takes nothing after it for a ref or an argument.
	t.Run("raw push with NUL in the ref name", func(t *testing.T) {
		rawReceivePack(t, s, gs.token, "inject", zeroOIDHex+" "+good+" refs/heads/\x00--upload-pack=touch "+pwned, "report-status")
		checkUnharmed(t)
		status, body := rawReceivePack(t, s, gs.token, "inject", zeroOIDHex+" "+good+" refs/heads/x\x00report-status --upload-pack=touch "+pwned, "report-status")
		if status != 200 || !strings.Contains(body, "ok refs/heads/x\n") {
			t.Errorf("raw push of refs/heads/x<NUL>…: %d %q, want branch x pushed", status, printableRef(body))
		}
		refs["refs/heads/x"] = good
		checkUnharmed(t)
		wantServed(t, s, gs.alias("x"), "/", 200, "safe")
		g.must(t, dir, "push", "-q", url, ":x")
		delete(refs, "refs/heads/x")
		checkUnharmed(t)
	})

	// Paths that try to leave /git/<site>.git, or name no site.
	for _, p := range []string{
		"/git/../../etc.git/info/refs",
		"/git/%2e%2e/%2e%2e/etc.git/info/refs",
		"/git/..%2f..%2fetc.git/info/refs",
		"/git/inject.git/../../../etc/passwd",
		"/git/inject.git/info/../../../etc/passwd",
		"/git/inject--x.git/info/refs",
		"/git/main--inject.git/info/refs",
		"/git/-h.git/info/refs",
		"/git/--upload-pack=x.git/info/refs",
		"/git/inject.git/objects/info/packs",
		"/git/inject.git/HEAD",
		"/git/inject.git/config",
	} {
		t.Run("path "+p, func(t *testing.T) {
			req, err := http.NewRequest("GET", s.API+p+"?service=git-upload-pack", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("x", gs.token)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && (strings.Contains(resp.Header.Get("Content-Type"), "git") || strings.Contains(string(b), "root:")) {
				t.Errorf("GET %s = 200 %s %q", p, resp.Header.Get("Content-Type"), b)
			}
			if strings.Contains(string(b), "refs/heads/main") || strings.Contains(string(b), "[core]") {
				t.Errorf("GET %s reveals the repository: %d %q", p, resp.StatusCode, b)
			}
		})
	}
	// GETs move no ref: one check after them all.
	checkUnharmed(t)

	t.Run("services other than the two", func(t *testing.T) {
		for _, svc := range []string{"", "git-upload-archive", "git-foo", "--upload-pack=x", "upload-pack", "git-receive-pack%00"} {
			req, _ := http.NewRequest("GET", s.API+"/git/inject.git/info/refs?service="+svc, nil)
			req.SetBasicAuth("x", gs.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Errorf("service=%q: %d, want 403", svc, resp.StatusCode)
			}
		}
		req, _ := http.NewRequest("POST", s.API+"/git/inject.git/git-upload-archive", strings.NewReader("0000"))
		req.SetBasicAuth("x", gs.token)
		req.Header.Set("Content-Type", "application/x-git-upload-archive-request")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("POST git-upload-archive: %d, want 404", resp.StatusCode)
		}
		checkUnharmed(t)
	})

	t.Run("Git-Protocol header", func(t *testing.T) {
		for _, v := range []string{"version=2:--x", "version=2\n--upload-pack=x", "--upload-pack=touch " + pwned, strings.Repeat("v", 4000)} {
			req, _ := http.NewRequest("GET", s.API+"/git/inject.git/info/refs?service=git-upload-pack", nil)
			req.SetBasicAuth("x", gs.token)
			req.Header["Git-Protocol"] = []string{v}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// A header Go will not send is no test of the server.
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Ignored: the protocol v0 advertisement, refs listed.
			if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "001e# service=git-upload-pack\n0000") ||
				!strings.Contains(string(b), good+" refs/heads/main") {
				t.Errorf("Git-Protocol %q: %d %q", v, resp.StatusCode, b)
			}
		}
		// Version 2, as git sends it, works.
		clone := filepath.Join(t.TempDir(), "v2")
		g.must(t, "", "-c", "protocol.version=2", "clone", "-q", url, clone)
		if got := g.head(t, clone); got != good {
			t.Errorf("protocol v2 clone HEAD = %s, want %s", got, good)
		}
		checkUnharmed(t)
	})
}

const zeroOIDHex = "0000000000000000000000000000000000000000"

var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// printableRef quotes a crafted ref (or an answer) for a subtest name or
// a message, bounded.
func printableRef(s string) string {
	q := fmt.Sprintf("%q", s)
	if len(q) > 200 {
		q = q[:200] + "…"
	}
	return q
}

// emptyPack is a pack of no objects, what git sends with a command whose
// commit the server already has.
func emptyPack() []byte {
	hdr := []byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00")
	sum := sha1.Sum(hdr)
	return append(hdr, sum[:]...)
}

// rawReceivePack POSTs one crafted command line with capabilities caps to
// site's receive-pack, then an empty pack, and returns the status and the
// raw answer.
func rawReceivePack(t *testing.T, s *server, token, site, command, caps string) (int, string) {
	t.Helper()
	line := command + "\x00" + caps + " agent=pier-test\n"
	var body bytes.Buffer
	if len(line)+4 <= 0xffff {
		fmt.Fprintf(&body, "%04x%s", len(line)+4, line)
	} else {
		// Longer than a pkt-line can be: send it anyway, with a length
		// that says otherwise.
		fmt.Fprintf(&body, "ffff%s", line)
	}
	body.WriteString("0000")
	body.Write(emptyPack())
	req, err := http.NewRequest("POST", s.API+"/git/"+site+".git/git-receive-pack", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("x", token)
	req.Header.Set("Content-Type", "application/x-git-receive-pack-request")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("POST git-receive-pack: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
