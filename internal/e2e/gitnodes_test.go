package e2e

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// The tests of this file push with the real git client to real `pier
// serve` processes: two nodes sharing PostgreSQL and MinIO (a repository
// lives in the stores, not on a node's disk), and one node fed pack bombs.
// Their helpers are prefixed gn.

// gnClient is gitClient (git_test.go) bound to one test, with errors
// instead of exit codes, for goroutines.
type gnClient struct {
	t *testing.T
	c *gitClient
}

func newGNClient(t *testing.T) *gnClient {
	t.Helper()
	return &gnClient{t: t, c: newGitClient(t)}
}

// run runs git in dir ("" for anywhere) with stdin (may be nil) and
// returns its combined output.
func (g *gnClient) run(dir string, stdin io.Reader, args ...string) (string, error) {
	if dir == "" {
		dir = g.t.TempDir()
	}
	out, code, err := g.c.exec(dir, stdin, args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	return out, err
}

// must runs git and fails the test if it fails; it returns the output.
func (g *gnClient) must(dir string, args ...string) string {
	g.t.Helper()
	out, err := g.run(dir, nil, args...)
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, tail(out, 4000))
	}
	return out
}

// commit commits everything in dir and returns the commit's id.
func (g *gnClient) commit(dir, msg string) string {
	g.t.Helper()
	g.must(dir, "add", "-A")
	g.must(dir, "commit", "-q", "-m", msg)
	return g.head(dir)
}

func (g *gnClient) head(dir string) string {
	g.t.Helper()
	return strings.TrimSpace(g.must(dir, "rev-parse", "HEAD"))
}

// remoteMain is the commit refs/heads/main of url points at ("" when
// there is none).
func (g *gnClient) remoteMain(url string) string {
	g.t.Helper()
	out := g.must("", "ls-remote", url, "refs/heads/main")
	oid, _, _ := strings.Cut(strings.TrimSpace(out), "\t")
	return oid
}

// gnRemote is the URL of a site's repository on a node, the token in it.
func gnRemote(s *server, token, site string) string {
	return "http://x:" + token + "@" + strings.TrimPrefix(s.API, "http://") + "/git/" + site + ".git"
}

// gnTenantToken creates a token of tenant on s (an admin call).
func gnTenantToken(t *testing.T, s *server, tenant string) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	if code := s.api("POST", "/api/v1/tenants/"+tenant+"/tokens", s.Token, map[string]string{"name": "git"}, &tok); code != http.StatusCreated || tok.Token == "" {
		t.Fatalf("creating a token of %s: %d %+v", tenant, code, tok)
	}
	return tok.Token
}

// gnWaitBody waits until s's edge serves want in host's path.
func gnWaitBody(t *testing.T, s *server, host, path, want string) {
	t.Helper()
	testenv.WaitFor(t, testenv.Patience, func() error {
		if r := s.get(host, path); r.Status != 200 || r.Body != want {
			return fmt.Errorf("%s: GET %s%s = %d %q, want %q", s.API, host, path, r.Status, tail(r.Body, 200), want)
		}
		return nil
	})
}

// gnCluster starts two `pier serve` nodes on one PostgreSQL database and
// one MinIO bucket, each with a data directory of its own, creates tenant
// acme and returns the nodes and a token of acme.
func gnCluster(t *testing.T) (a, b *server, token string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	newGNClient(t) // skips without git
	minio := testenv.StartMinIO(t)
	pg := testenv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	s3env := []string{"AWS_ACCESS_KEY_ID=" + minio.AccessKey, "AWS_SECRET_ACCESS_KEY=" + minio.SecretKey}
	flags := []string{"--db", dsn, "--s3-endpoint", minio.Endpoint, "--s3-bucket", "pier-gitnodes", "--s3-region", minio.Region}
	a = startPier(t, "", flags, s3env...)
	a.pier("tenants", "create", "acme")
	b = startPier(t, "", flags, s3env...)
	if a.Data == b.Data {
		t.Fatal("the nodes share a data directory")
	}
	return a, b, gnTenantToken(t, a, "acme")
}

// TestGitNodesPushToAnyNode: a repository lives in the shared stores, so a
// node that never saw it takes the next push (uploading only what
// changed), every node serves the result and clones the same history, and
// a node that lost its local cache rebuilds it from the stores.
func TestGitNodesPushToAnyNode(t *testing.T) {
	a, b, tok := gnCluster(t)
	g := newGNClient(t)
	a.pier("sites", "create", "docs", "--tenant", "acme")
	const host = "docs.localhost"

	work := t.TempDir()
	g.must(work, "init", "-q")
	files := map[string]string{"index.html": "<h1>v1</h1>"}
	for i := range 49 {
		files[fmt.Sprintf("pages/p%02d.txt", i)] = fmt.Sprintf("<p>page %d</p>", i)
	}
	writeFiles(t, work, files)
	c1 := g.commit(work, "v1")
	out := g.must(work, "push", gnRemote(a, tok, "docs"), "main")
	if !strings.Contains(out, "main: 50 files, 50 uploaded") || !strings.Contains(out, "is live") {
		t.Errorf("first push to A:\n%s", out)
	}
	gnWaitBody(t, a, host, "/", "<h1>v1</h1>")

	// A follow-up commit changing one file, pushed to B, which has never
	// seen the repository.
	writeFiles(t, work, map[string]string{"index.html": "<h1>v2</h1>"})
	c2 := g.commit(work, "v2")
	out = g.must(work, "push", gnRemote(b, tok, "docs"), "main")
	if !regexp.MustCompile(`remote: pier: main: 50 files, 1 uploaded, 49 reused`).MatchString(out) {
		t.Errorf("push to B does not say it uploaded exactly 1 file:\n%s", out)
	}
	gnWaitBody(t, b, host, "/", "<h1>v2</h1>")
	// A learns of B's activation through the store's change feed.
	gnWaitBody(t, a, host, "/", "<h1>v2</h1>")
	if r := a.get(host, "/pages/p07.txt"); r.Body != "<p>page 7</p>" {
		t.Errorf("A: an unchanged page = %d %q", r.Status, r.Body)
	}

	// Both nodes give the same history.
	for _, n := range []struct {
		name string
		s    *server
	}{{"A", a}, {"B", b}} {
		if got := g.remoteMain(gnRemote(n.s, tok, "docs")); got != c2 {
			t.Errorf("ls-remote on %s: main = %s, want %s", n.name, got, c2)
		}
		clone := filepath.Join(t.TempDir(), "clone")
		g.must("", "clone", "-q", gnRemote(n.s, tok, "docs"), clone)
		if head := g.head(clone); head != c2 {
			t.Errorf("clone from %s: HEAD = %s, want %s", n.name, head, c2)
		}
		if parent := strings.TrimSpace(g.must(clone, "rev-parse", "HEAD~1")); parent != c1 {
			t.Errorf("clone from %s: HEAD~1 = %s, want %s", n.name, parent, c1)
		}
		if data, err := os.ReadFile(filepath.Join(clone, "index.html")); err != nil || string(data) != "<h1>v2</h1>" {
			t.Errorf("clone from %s: index.html = %q, %v", n.name, data, err)
		}
	}

	// A loses its local cache: stopped, its git directory deleted,
	// restarted. The repository comes back from the stores.
	a.stop()
	if err := os.RemoveAll(filepath.Join(a.Data, "git")); err != nil {
		t.Fatal(err)
	}
	a.start()
	g.must(work, "fetch", "-q", gnRemote(a, tok, "docs"), "main")
	if got := strings.TrimSpace(g.must(work, "rev-parse", "FETCH_HEAD")); got != c2 {
		t.Errorf("fetch from the restarted A: FETCH_HEAD = %s, want %s", got, c2)
	}
	clone := filepath.Join(t.TempDir(), "after-loss")
	g.must("", "clone", "-q", gnRemote(a, tok, "docs"), clone)
	if head := g.head(clone); head != c2 {
		t.Errorf("clone from the restarted A: HEAD = %s, want %s", head, c2)
	}
	if n := strings.TrimSpace(g.must(clone, "rev-list", "--count", "HEAD")); n != "2" {
		t.Errorf("clone from the restarted A has %s commits, want 2", n)
	}
	// And it takes a push again, uploading only the change; B serves it.
	writeFiles(t, work, map[string]string{"pages/p07.txt": "<p>page 7, v3</p>"})
	c3 := g.commit(work, "v3")
	out = g.must(work, "push", gnRemote(a, tok, "docs"), "main")
	if !strings.Contains(out, "main: 50 files, 1 uploaded, 49 reused") {
		t.Errorf("push to the restarted A:\n%s", out)
	}
	gnWaitBody(t, b, host, "/pages/p07.txt", "<p>page 7, v3</p>")
	if got := g.remoteMain(gnRemote(b, tok, "docs")); got != c3 {
		t.Errorf("ls-remote on B after the push to the restarted A: %s, want %s", got, c3)
	}
}

// gnLoserSays matches what a push that lost a race says: git's own
// refusal (its view of the branch was stale) or Pier's.
var gnLoserSays = regexp.MustCompile(`fetch first|non-fast-forward|stale info|moved since you fetched`)

// TestGitNodesConcurrentPushes: two pushes to one branch from two clones,
// both based on the same commit, started together: exactly one wins, the
// other is told to fetch first, and the branch and the live site are the
// winner's on every node. Once with the pushes on two nodes, once on one.
func TestGitNodesConcurrentPushes(t *testing.T) {
	a, b, tok := gnCluster(t)
	g := newGNClient(t)
	for _, tc := range []struct {
		name   string
		site   string
		second *server // where the second clone pushes (the first: A)
	}{
		{"two nodes", "race-nodes", b},
		{"one node", "race-node", a},
	} {
		a.pier("sites", "create", tc.site, "--tenant", "acme")
		host := tc.site + ".localhost"
		seed := t.TempDir()
		g.must(seed, "init", "-q")
		writeFiles(t, seed, map[string]string{"index.html": "base", "about.html": "about"})
		g.commit(seed, "base")
		g.must(seed, "push", "-q", gnRemote(a, tok, tc.site), "main")

		clones := [2]string{filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two")}
		nodes := [2]*server{a, tc.second}
		for i, dir := range clones {
			g.must("", "clone", "-q", gnRemote(nodes[i], tok, tc.site), dir)
		}
		for round := 1; round <= 3; round++ {
			var commits [2]string
			for i, dir := range clones {
				g.must(dir, "fetch", "-q", "origin")
				g.must(dir, "reset", "-q", "--hard", "origin/main")
				writeFiles(t, dir, map[string]string{"index.html": fmt.Sprintf("round %d, clone %d", round, i+1)})
				commits[i] = g.commit(dir, fmt.Sprintf("round %d clone %d", round, i+1))
			}
			if p0, p1 := strings.TrimSpace(g.must(clones[0], "rev-parse", "HEAD~1")), strings.TrimSpace(g.must(clones[1], "rev-parse", "HEAD~1")); p0 != p1 {
				t.Fatalf("%s, round %d: the clones are not based on the same commit: %s, %s", tc.name, round, p0, p1)
			}
			var (
				outs  [2]string
				errs  [2]error
				ready sync.WaitGroup
				done  sync.WaitGroup
			)
			start := make(chan struct{})
			for i := range clones {
				ready.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					ready.Done()
					<-start
					outs[i], errs[i] = g.run(clones[i], nil, "push", "origin", "main")
				}()
			}
			ready.Wait()
			close(start)
			done.Wait()

			won := -1
			switch {
			case errs[0] == nil && errs[1] != nil:
				won = 0
			case errs[1] == nil && errs[0] != nil:
				won = 1
			default:
				t.Fatalf("%s, round %d: want exactly one push to succeed; errors %v, %v\nclone 1:\n%s\nclone 2:\n%s",
					tc.name, round, errs[0], errs[1], tail(outs[0], 3000), tail(outs[1], 3000))
			}
			lost := 1 - won
			if !gnLoserSays.MatchString(outs[lost]) {
				t.Errorf("%s, round %d: the losing push does not say to fetch first:\n%s", tc.name, round, tail(outs[lost], 3000))
			}
			t.Logf("%s, round %d: clone %d won; the loser was told: %s", tc.name, round, won+1, gnLoserSays.FindString(outs[lost]))
			want := fmt.Sprintf("round %d, clone %d", round, won+1)
			for _, n := range []*server{a, b} {
				if got := g.remoteMain(gnRemote(n, tok, tc.site)); got != commits[won] {
					t.Errorf("%s, round %d: ls-remote on %s: main = %s, want the winner's %s (the loser's is %s)", tc.name, round, n.API, got, commits[won], commits[lost])
				}
				gnWaitBody(t, n, host, "/", want)
			}
		}
	}
}

// TestGitNodesPackBomb: what one push can make the server hold is bounded.
// A huge incompressible blob is refused at the tenant's push limit; a huge
// blob that compresses to almost nothing passes that limit but is refused
// by the publish step (over the file size limit) without being held in
// memory; a deep tree and many objects are refused or accepted cleanly;
// git bombs (a tiny pack whose trees list millions of paths, or paths of
// hundreds of megabytes) are refused before their listing is held. The
// site is unchanged by every refusal, and the server stays healthy.
func TestGitNodesPackBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	g := newGNClient(t)
	// 10,000 files per deployment: a push of 50,000 files is refused by
	// that limit (accepting it would take minutes, one stored blob at a
	// time).
	s := startPier(t, "", []string{"--max-files", "10000"})
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "bomb", "--tenant", "acme")
	tok := gnTenantToken(t, s, "acme")
	url := gnRemote(s, tok, "bomb")
	const host = "bomb.localhost"

	work := t.TempDir()
	g.must(work, "init", "-q")
	writeFiles(t, work, map[string]string{"index.html": "safe"})
	base := g.commit(work, "base")
	g.must(work, "push", "-q", url, "main")
	gnWaitBody(t, s, host, "/", "safe")

	setPushMB := func(mb int) {
		t.Helper()
		var got struct {
			Effective struct {
				GitPushMB int `json:"gitPushMB"`
			} `json:"effective_limits"`
		}
		limits := map[string]any{}
		if mb > 0 {
			limits["gitPushMB"] = mb
		}
		if code := s.api("PATCH", "/api/v1/tenants/acme", s.Token, map[string]any{"limits": limits}, nil); code != 200 {
			t.Fatalf("PATCH tenant limits: %d", code)
		}
		s.api("GET", "/api/v1/tenants/acme", s.Token, nil, &got)
		if mb > 0 && got.Effective.GitPushMB != mb {
			t.Fatalf("the tenant's gitPushMB is %d after setting it to %d", got.Effective.GitPushMB, mb)
		}
	}
	// unchanged checks that a refused push moved nothing.
	unchanged := func(what string) {
		t.Helper()
		if got := g.remoteMain(url); got != base {
			t.Errorf("%s: main = %s, want it unchanged at %s", what, got, base)
		}
		if r := s.get(host, "/"); r.Status != 200 || r.Body != "safe" {
			t.Errorf("%s: the live site = %d %q, want it unchanged", what, r.Status, tail(r.Body, 200))
		}
	}
	pid := s.cmd.Process.Pid
	const maxGrowthKB = 200 << 10 // pier serve's own peak RSS may grow by this much
	const maxTreeKB = 400 << 10   // pier serve and its git processes together
	hwm0 := gnStatusKB(pid, "VmHWM:")
	checkMemory := func(what string, treePeak int64) {
		t.Helper()
		hwm := gnStatusKB(pid, "VmHWM:")
		t.Logf("%s: pier serve peak RSS %d MB (%+d MB since start of the test), with its git processes %d MB", what, hwm>>10, (hwm-hwm0)>>10, treePeak>>10)
		if hwm-hwm0 > maxGrowthKB {
			t.Errorf("%s: pier serve's peak RSS grew by %d MB, more than %d MB", what, (hwm-hwm0)>>10, maxGrowthKB>>10)
		}
		if treePeak > maxTreeKB {
			t.Errorf("%s: pier serve and its git processes reached %d MB, more than %d MB", what, treePeak>>10, maxTreeKB>>10)
		}
	}

	// (a) A 20 MB incompressible file with a 2 MB push limit.
	setPushMB(2)
	random := make([]byte, 20<<20)
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	rng.Read(random)
	if err := os.WriteFile(filepath.Join(work, "random.bin"), random, 0o644); err != nil {
		t.Fatal(err)
	}
	random = nil
	g.commit(work, "20 MB of noise")
	watch := gnWatchRSS(pid)
	began := time.Now()
	out, err := g.run(work, nil, "push", url, "main")
	peak := watch()
	t.Logf("(a) the push took %v", time.Since(began).Round(time.Millisecond))
	if err == nil {
		t.Errorf("(a) a 20 MB pack over a 2 MB limit was accepted:\n%s", tail(out, 3000))
	}
	if !strings.Contains(out, "maximum allowed size") {
		t.Errorf("(a) the refusal does not name the limit:\n%s", tail(out, 3000))
	}
	unchanged("(a) huge blob")
	checkMemory("(a) huge blob", peak)
	g.must(work, "reset", "-q", "--hard", base)

	// (b) 1 GiB of zeros: a pack of about 1 MB, under the 2 MB push limit.
	// Built here rather than by git (which takes a minute to deflate and
	// hash it twice on a busy machine) and sent as git's smart HTTP
	// protocol does.
	bomb := gnZerosPack(t, base, 1<<30)
	t.Logf("(b) a pack of %d bytes holding a blob of 1 GiB", len(bomb.pack))
	watch = gnWatchRSS(pid)
	began = time.Now()
	status, report, progress := gnReceivePack(t, s, tok, "bomb", base, bomb.commit, bomb.pack)
	peak = watch()
	t.Logf("(b) the push took %v", time.Since(began).Round(time.Millisecond))
	if status != 200 || strings.Contains(report, "ok refs/heads/main") || !strings.Contains(report, "ng refs/heads/main") {
		t.Errorf("(b) a 1 GiB file was not refused: HTTP %d\nreport: %q\nprogress:\n%s", status, report, tail(progress, 3000))
	}
	if strings.Contains(progress, "maximum allowed size") || !strings.Contains(report, "unpack ok") {
		t.Errorf("(b) the pack did not pass the push limit (the test must exercise the publish step): %q\n%s", report, tail(progress, 3000))
	}
	if !strings.Contains(progress, "pier: refused main") || !strings.Contains(progress, "big.bin") {
		t.Errorf("(b) the refusal does not name the file:\n%s", tail(progress, 3000))
	}
	unchanged("(b) compressible blob")
	checkMemory("(b) compressible blob", peak)

	// (c) A deep tree and many objects, within the plan's push limit.
	setPushMB(0)
	for _, c := range []struct {
		name   string
		stream func(w io.Writer)
		path   string // a file of the commit the site serves if accepted
		want   string
		refuse string // when set, the push must be refused saying this
	}{
		{"5,000 nested directories", func(w io.Writer) {
			deep := strings.Repeat("d/", 5000) + "deep.txt"
			fmt.Fprintf(w, "M 100644 inline %s\ndata 4\ndeep\n", deep)
		}, "/index.html", "5,000 nested directories", ""},
		{"50,000 tiny blobs", func(w io.Writer) {
			for i := range 50_000 {
				fmt.Fprintf(w, "M 100644 :%d many/%02d/%05d.txt\n", i+1, i%100, i)
			}
		}, "/many/07/12307.txt", "tiny 12307", "10000"},
	} {
		what := "(c) " + c.name
		var blobs func(w io.Writer)
		if c.name == "50,000 tiny blobs" {
			blobs = func(w io.Writer) {
				for i := range 50_000 {
					body := "tiny " + strconv.Itoa(i)
					fmt.Fprintf(w, "blob\nmark :%d\ndata %d\n%s\n", i+1, len(body), body)
				}
			}
		}
		commit := gnFastImport(t, g, work, base, c.name, blobs, func(w io.Writer) {
			fmt.Fprintf(w, "M 100644 inline index.html\ndata %d\n%s\n", len(c.name), c.name)
			c.stream(w)
		})
		watch = gnWatchRSS(pid)
		began := time.Now()
		out, err := g.run(work, nil, "push", url, "main")
		peak = watch()
		t.Logf("%s: the push took %v", what, time.Since(began).Round(time.Millisecond))
		if c.refuse != "" && (err == nil || !strings.Contains(out, c.refuse)) {
			t.Errorf("%s: want a refusal naming %q; git: %v\n%s", what, c.refuse, err, tail(out, 3000))
		}
		if err != nil {
			if !strings.Contains(out, "remote: pier: refused") && !strings.Contains(out, "remote: fatal") && !strings.Contains(out, "remote: error") {
				t.Errorf("%s: refused without saying why on remote: lines:\n%s", what, tail(out, 3000))
			}
			t.Logf("%s: refused: %s", what, gnRemoteLines(out))
			unchanged(what)
		} else {
			t.Logf("%s: accepted: %s", what, gnRemoteLines(out))
			if got := g.remoteMain(url); got != commit {
				t.Errorf("%s: accepted, but main = %s, want %s", what, got, commit)
			}
			gnWaitBody(t, s, host, c.path, c.want)
		}
		checkMemory(what, peak)
		// Back to the base for the next case (a force push if the last
		// one was accepted).
		g.must(work, "reset", "-q", "--hard", base)
		if err == nil {
			g.must(work, "push", "-q", "-f", url, "main")
			gnWaitBody(t, s, host, "/", "safe")
		}
	}

	// (d) Git bombs, a few kilobytes each: trees sharing subtrees, 16
	// wide and 5 deep (1,118,481 paths), and a chain of 12,000 nested
	// directories (288 MB of paths).
	for _, c := range []struct {
		name         string
		width, depth int
		refuse       string
	}{
		{"git bomb, 16 wide and 5 deep", 16, 5, "more than 250,000 files and directories"},
		{"git bomb, 12,000 deep", 1, 12_000, "nested too deep"},
	} {
		what := "(d) " + c.name
		gitBomb := gnTreeBombPack(t, base, c.width, c.depth)
		watch = gnWatchRSS(pid)
		began = time.Now()
		status, report, progress := gnReceivePack(t, s, tok, "bomb", base, gitBomb.commit, gitBomb.pack)
		peak = watch()
		t.Logf("%s: a pack of %d bytes: the push took %v: %s", what, len(gitBomb.pack), time.Since(began).Round(time.Millisecond), gnRemoteLines(strings.ReplaceAll(progress, "pier:", "remote: pier:")))
		if status != 200 || strings.Contains(report, "ok refs/heads/main") || !strings.Contains(report, "ng refs/heads/main") {
			t.Errorf("%s: not refused: HTTP %d\nreport: %q\nprogress:\n%s", what, status, report, tail(progress, 3000))
		}
		if !strings.Contains(progress, "pier: refused main") || !strings.Contains(progress, c.refuse) {
			t.Errorf("%s: the refusal does not say %q:\n%s", what, c.refuse, tail(progress, 3000))
		}
		unchanged(what)
		checkMemory(what, peak)
	}

	resp, err := http.Get(s.API + "/healthz")
	if err != nil {
		t.Fatalf("healthz after the bombs: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz after the bombs: %d", resp.StatusCode)
	}
	if r := s.get(host, "/"); r.Status != 200 || r.Body != "safe" {
		t.Errorf("the site after the bombs: %d %q", r.Status, r.Body)
	}
}

// gnRemoteLines returns the "remote: pier:" lines of git's output, for a
// log.
func gnRemoteLines(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "remote: pier:") || strings.HasPrefix(l, "remote: fatal") || strings.HasPrefix(l, "remote: error") || strings.HasPrefix(l, " ! ") {
			if l = strings.TrimSpace(l); len(l) > 300 {
				l = l[:300] + "…"
			}
			lines = append(lines, l)
		}
	}
	if len(lines) > 8 {
		lines = append(lines[:8], "…")
	}
	return strings.Join(lines, " | ")
}

// gnFastImport commits on top of parent in dir's repository what stream
// writes as git fast-import file commands (M lines), after the blob
// commands blobs writes (nil: none), sets main to it and returns its id;
// the worktree is left alone.
func gnFastImport(t *testing.T, g *gnClient, dir, parent, msg string, blobs, stream func(w io.Writer)) string {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		if blobs != nil {
			blobs(bw)
		}
		fmt.Fprintf(bw, "commit refs/heads/main\ncommitter Pier Test <test@pier.example> 1700000000 +0000\ndata %d\n%s\nfrom %s\n", len(msg), msg, parent)
		stream(bw)
		bw.WriteString("\n")
		pw.CloseWithError(bw.Flush())
	}()
	out, err := g.run(dir, pr, "fast-import", "--quiet", "--force")
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		t.Fatalf("git fast-import: %v\n%s", err, tail(out, 3000))
	}
	return strings.TrimSpace(g.must(dir, "rev-parse", "refs/heads/main"))
}

// gnStatusKB reads a "Vm…:" field (kB) of a process's /proc status; 0
// when the process is gone.
func gnStatusKB(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// gnTreeRSS sums the resident memory (kB) of pid and its descendants
// (pier serve's git processes and their hooks).
func gnTreeRSS(pid int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var total int64
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		total += gnStatusKB(p, "VmRSS:")
		queue = append(queue, children[p]...)
	}
	return total
}

// gnWatchRSS samples the resident memory of pid's process tree until the
// returned function is called, which returns the highest sample (kB).
func gnWatchRSS(pid int) func() int64 {
	var peak atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb := gnTreeRSS(pid); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// gnBomb is a pack holding a commit whose tree has a huge file of zeros.
type gnBomb struct {
	commit string
	pack   []byte
}

// gnZerosPack builds a pack of four objects: a blob of size zero bytes
// (big.bin), a small index.html, their tree and a commit on top of
// parent. size must be a multiple of 1 MiB.
func gnZerosPack(t *testing.T, parent string, size int64) gnBomb {
	t.Helper()
	const chunk = 1 << 20
	zeros := make([]byte, chunk)

	// The blob's id: SHA-1 of its header and content.
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", size)
	for range size / chunk {
		h.Write(zeros)
	}
	bigID := h.Sum(nil)

	// Its zlib stream: one sync-flushed deflate segment of 1 MiB of zeros
	// (byte-aligned, references inside itself only) repeated, then an
	// empty final block and the Adler-32 of size zero bytes.
	var seg bytes.Buffer
	fw, err := flate.NewWriter(&seg, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(zeros)
	fw.Flush()
	bigZ := []byte{0x78, 0xda}
	for range size / chunk {
		bigZ = append(bigZ, seg.Bytes()...)
	}
	bigZ = append(bigZ, 0x03, 0x00)
	bigZ = binary.BigEndian.AppendUint32(bigZ, uint32(size%65521)<<16|1)

	objID := func(typ string, body []byte) []byte {
		h := sha1.New()
		fmt.Fprintf(h, "%s %d\x00", typ, len(body))
		h.Write(body)
		return h.Sum(nil)
	}
	index := []byte("bomb")
	indexID := objID("blob", index)
	var tree bytes.Buffer
	tree.WriteString("100644 big.bin\x00")
	tree.Write(bigID)
	tree.WriteString("100644 index.html\x00")
	tree.Write(indexID)
	treeID := objID("tree", tree.Bytes())
	commit := []byte(fmt.Sprintf("tree %x\nparent %s\nauthor Pier Test <test@pier.example> 1700000000 +0000\ncommitter Pier Test <test@pier.example> 1700000000 +0000\n\n1 GiB of zeros\n", treeID, parent))
	commitID := objID("commit", commit)

	var pack bytes.Buffer
	pack.WriteString("PACK")
	binary.Write(&pack, binary.BigEndian, uint32(2))
	binary.Write(&pack, binary.BigEndian, uint32(4))
	entry := func(typ int, size int64, z []byte) {
		b := []byte{byte(typ<<4) | byte(size&0x0f)}
		for size >>= 4; size > 0; size >>= 7 {
			b[len(b)-1] |= 0x80
			b = append(b, byte(size&0x7f))
		}
		pack.Write(b)
		pack.Write(z)
	}
	deflate := func(body []byte) []byte {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(body)
		zw.Close()
		return z.Bytes()
	}
	const objCommit, objTree, objBlob = 1, 2, 3
	entry(objBlob, size, bigZ)
	entry(objBlob, int64(len(index)), deflate(index))
	entry(objTree, int64(tree.Len()), deflate(tree.Bytes()))
	entry(objCommit, int64(len(commit)), deflate(commit))
	sum := sha1.Sum(pack.Bytes())
	pack.Write(sum[:])
	return gnBomb{commit: hex.EncodeToString(commitID), pack: pack.Bytes()}
}

// gnTreeBombPack builds a pack whose commit (on top of parent) has a
// tree of depth levels of width directories each, all sharing one subtree
// per level, over width files sharing one blob: width^depth paths from
// depth+4 objects.
func gnTreeBombPack(t *testing.T, parent string, width, depth int) gnBomb {
	t.Helper()
	var pack bytes.Buffer
	count := 0
	var objs bytes.Buffer
	add := func(typ int, name string, body []byte) []byte {
		count++
		h := sha1.New()
		fmt.Fprintf(h, "%s %d\x00", name, len(body))
		h.Write(body)
		size := int64(len(body))
		b := []byte{byte(typ<<4) | byte(size&0x0f)}
		for size >>= 4; size > 0; size >>= 7 {
			b[len(b)-1] |= 0x80
			b = append(b, byte(size&0x7f))
		}
		objs.Write(b)
		zw := zlib.NewWriter(&objs)
		zw.Write(body)
		zw.Close()
		return h.Sum(nil)
	}
	const objCommit, objTree, objBlob = 1, 2, 3
	id := add(objBlob, "blob", []byte("x"))
	mode := "100644"
	for level := 0; level < depth; level++ {
		var tree bytes.Buffer
		for i := range width {
			fmt.Fprintf(&tree, "%s %c%02d\x00", mode, "fd"[min(level, 1)], i)
			tree.Write(id)
		}
		id = add(objTree, "tree", tree.Bytes())
		mode = "40000"
	}
	index := add(objBlob, "blob", []byte("git bomb"))
	var root bytes.Buffer
	root.WriteString("40000 bomb\x00")
	root.Write(id)
	root.WriteString("100644 index.html\x00")
	root.Write(index)
	rootID := add(objTree, "tree", root.Bytes())
	commit := add(objCommit, "commit", []byte(fmt.Sprintf("tree %x\nparent %s\nauthor Pier Test <test@pier.example> 1700000000 +0000\ncommitter Pier Test <test@pier.example> 1700000000 +0000\n\ngit bomb\n", rootID, parent)))
	pack.WriteString("PACK")
	binary.Write(&pack, binary.BigEndian, uint32(2))
	binary.Write(&pack, binary.BigEndian, uint32(count))
	pack.Write(objs.Bytes())
	sum := sha1.Sum(pack.Bytes())
	pack.Write(sum[:])
	return gnBomb{commit: hex.EncodeToString(commit), pack: pack.Bytes()}
}

// gnReceivePack pushes pack to site's main (old → new) the way git's smart
// HTTP client does, and returns the HTTP status, the report-status text
// and the progress (side band 2 and 3) text.
func gnReceivePack(t *testing.T, s *server, token, site, old, new string, pack []byte) (status int, report, progress string) {
	t.Helper()
	cmd := fmt.Sprintf("%s %s refs/heads/main\x00report-status side-band-64k agent=git/pier-e2e\n", old, new)
	var body bytes.Buffer
	fmt.Fprintf(&body, "%04x%s0000", len(cmd)+4, cmd)
	body.Write(pack)
	req, err := http.NewRequest("POST", s.API+"/git/"+site+".git/git-receive-pack", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("x", token)
	req.Header.Set("Content-Type", "application/x-git-receive-pack-request")
	req.Header.Set("Accept", "application/x-git-receive-pack-result")
	client := &http.Client{Timeout: testenv.Patience}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST git-receive-pack: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the receive-pack answer: %v", err)
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, "", string(raw)
	}
	var rep, prog strings.Builder
	for len(raw) >= 4 {
		n, err := strconv.ParseUint(string(raw[:4]), 16, 16)
		if err != nil || (n != 0 && (n < 5 || int(n) > len(raw))) {
			prog.WriteString("[malformed answer] " + string(raw))
			break
		}
		if n == 0 {
			raw = raw[4:]
			continue
		}
		band, data := raw[4], raw[5:n]
		raw = raw[n:]
		switch band {
		case 1:
			rep.Write(data)
		default:
			prog.Write(data)
		}
	}
	return resp.StatusCode, rep.String(), prog.String()
}
