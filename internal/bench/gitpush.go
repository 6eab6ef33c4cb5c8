package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The git push benchmark's repository: 10,000 files, 200 MB, made like
// the deploy benchmark's site (80% random binary, 20% HTML).
const (
	gitBenchFiles = 10_000
	gitBenchSite  = "big"
	// gitBenchRSSTarget is the bound on how much `pier serve`
	// may grow while receiving the first push.
	gitBenchRSSTarget = 256 << 20
	// gitBenchChangeTarget bounds a one-file push, from `git push` start
	// to the edge serving the new content.
	gitBenchChangeTarget = 2 * time.Second
	// gitBenchChangedPath is the file each round changes, and the URL
	// the edge serves it at (auto-trailing-slash drops .html).
	gitBenchChangedPath = "d00/f00000.html"
	gitBenchChangedURL  = "/d00/f00000"
)

// benchGitPush measures publishing with git push on a real `pier serve`
// (SQLite + local disk, an enterprise tenant): the first push of a
// 10,000-file / 200 MB repository (wall time, and how much the server's
// resident memory grows), then one-file changes pushed to it (from `git
// push` start until the edge serves the new file), with the same changes
// made by `pier deploy` in the same run as the baseline.
//
//	go run ./internal/bench git [-rounds 5] [-heapprofile FILE] [-cpuprofile FILE]
func benchGitPush(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("git", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "one-file changes pushed (and deployed by the CLI, the baseline)")
	heapProfile := fs.String("heapprofile", "", "write pier serve's heap profile (pprof, allocations since start) after the first push to this file")
	cpuProfile := fs.String("cpuprofile", "", "after the measurements, profile pier serve's CPU for 10 s of one-file pushes back to back into this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := exec.LookPath("git"); err != nil {
		return fmt.Errorf("git not found: %w", err)
	}
	work, err := os.MkdirTemp("", "pier-bench-git")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	g := &gitRunner{env: gitBenchEnv(work)}
	repo := filepath.Join(work, "repo")
	started := time.Now()
	size, err := g.makeRepo(ctx, repo)
	if err != nil {
		return err
	}
	built := time.Since(started)

	var extra []string
	if *heapProfile != "" || *cpuProfile != "" {
		extra = append(extra, "--pprof")
	}
	p, err := startPierServe(ctx, filepath.Join(work, "data"), extra, nil)
	if err != nil {
		return err
	}
	defer p.Stop()
	if _, err := p.cli(ctx, "tenants", "create", "bench", "--plan", "enterprise"); err != nil {
		return err
	}
	if _, err := p.cli(ctx, "sites", "create", gitBenchSite, "--tenant", "bench"); err != nil {
		return err
	}
	remote := strings.Replace(p.API, "://", "://bench:"+p.Token+"@", 1) + "/git/" + gitBenchSite + ".git"
	if _, err := g.run(ctx, repo, "remote", "add", "pier", remote); err != nil {
		return err
	}
	edge := &edgePoller{client: &http.Client{Timeout: 10 * time.Second}, addr: p.Edge, host: gitBenchSite + ".localhost"}

	// The first push, with the server's memory watched.
	pid := p.cmd.Process.Pid
	resetPeakRSS(pid)
	rssBefore, err := procStatus(pid, "VmRSS")
	if err != nil {
		return err
	}
	cpuBefore, err := processCPU(pid)
	if err != nil {
		return err
	}
	sampler := startTreeSampler(pid, 50*time.Millisecond)
	start := time.Now()
	out, err := g.run(ctx, repo, "push", "pier", "main")
	firstPush := time.Since(start)
	treePeak, atPeak := sampler.stop()
	if err != nil {
		return err
	}
	clientCPU := g.lastCPU
	cpuAfter, err := processCPU(pid)
	if err != nil {
		return err
	}
	peak, err := procStatus(pid, "VmHWM")
	if err != nil {
		return err
	}
	rssAfter, _ := procStatus(pid, "VmRSS")
	if *heapProfile != "" {
		if err := savePprof(ctx, p, "heap", *heapProfile); err != nil {
			return err
		}
	}
	// The push returns once the deployment is live: the last file must
	// be served as committed.
	lastPath, lastData := siteFile(gitBenchFiles - 1)
	if body, err := edge.get(ctx, "/"+lastPath); err != nil || !bytes.Equal(body, lastData) {
		return fmt.Errorf("after the first push, /%s is not served as committed (%v)", lastPath, err)
	}

	// One-file changes: pushed, then the same change by `pier deploy`.
	var pushed, deployed []oneChange
	for i := range *rounds {
		c, err := g.pushOneFile(ctx, p, repo, edge, fmt.Sprintf("git round %d", i))
		if err != nil {
			return fmt.Errorf("round %d, git push: %w", i, err)
		}
		pushed = append(pushed, c)
		if c, err = deployOneFile(ctx, p, repo, edge, fmt.Sprintf("deploy round %d", i)); err != nil {
			return fmt.Errorf("round %d, pier deploy: %w", i, err)
		}
		deployed = append(deployed, c)
	}

	grew := peak - rssBefore
	fmt.Printf("git push benchmark: %s files, %.0f MB, git push → pier serve (SQLite + local disk, enterprise tenant) on this machine\n",
		thousands(gitBenchFiles), float64(size)/1e6)
	fmt.Printf("  repository made (git fast-import + checkout)   %v\n", built.Round(time.Millisecond))
	fmt.Printf("  first push                          %v   %.1f MB/s end to end\n",
		firstPush.Round(time.Millisecond), float64(size)/1e6/firstPush.Seconds())
	for _, l := range pierLines(out) {
		fmt.Printf("    %s\n", l)
	}
	fmt.Printf("  pier serve RSS during it            before %d MB, peak %d MB, after %d MB: grew %d MB   (target < %d MB: %s)\n",
		rssBefore>>20, peak>>20, rssAfter>>20, grew>>20, gitBenchRSSTarget>>20, holds(grew < gitBenchRSSTarget))
	fmt.Printf("  pier serve + its git processes      peak %d MB together (sampled every 50 ms): %s\n", treePeak>>20, describeRSS(atPeak))
	fmt.Printf("  CPU during it                       pier serve %v, its git processes %v, the pushing git %v   (%v wall on %d cores)\n",
		(cpuAfter.self - cpuBefore.self).Round(10*time.Millisecond), (cpuAfter.children - cpuBefore.children).Round(10*time.Millisecond),
		clientCPU.Round(10*time.Millisecond), firstPush.Round(time.Second), cores())
	if *rounds > 0 {
		served := func(c oneChange) time.Duration { return c.served }
		returned := func(c oneChange) time.Duration { return c.returned }
		ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
		cpu := func(cs []oneChange) string {
			return fmt.Sprintf("pier serve %v, its processes %v, the client %v", ms(medianOf(cs, func(c oneChange) time.Duration { return c.server })),
				ms(medianOf(cs, func(c oneChange) time.Duration { return c.children })), ms(medianOf(cs, func(c oneChange) time.Duration { return c.client })))
		}
		fmt.Printf("  one-file change, git push → served  median %v, max %v over %d   (target < %v: %s)\n",
			ms(medianOf(pushed, served)), ms(maxOf(pushed, served)), len(pushed), gitBenchChangeTarget, holds(maxOf(pushed, served) < gitBenchChangeTarget))
		fmt.Printf("    of which git push itself          median %v, max %v\n", ms(medianOf(pushed, returned)), ms(maxOf(pushed, returned)))
		fmt.Printf("    CPU (medians)                     %s\n", cpu(pushed))
		fmt.Printf("  same change by pier deploy → served median %v, max %v over %d   (baseline, same run)\n",
			ms(medianOf(deployed, served)), ms(maxOf(deployed, served)), len(deployed))
		fmt.Printf("    of which pier deploy itself       median %v, max %v\n", ms(medianOf(deployed, returned)), ms(maxOf(deployed, returned)))
		fmt.Printf("    CPU (medians)                     %s\n", cpu(deployed))
	}
	if *cpuProfile != "" {
		return profileOneFilePushes(ctx, p, g, repo, edge, *cpuProfile)
	}
	return nil
}

// oneChange is what one one-file change cost: wall time from the start of
// `git push` or `pier deploy` until it returned and until the edge served
// the new content, and the CPU time of pier serve, of the processes it
// ran (git) and of the client (git push or the pier CLI).
type oneChange struct {
	returned, served         time.Duration
	server, children, client time.Duration
}

// pushOneFile commits a change of one file and pushes it.
func (g *gitRunner) pushOneFile(ctx context.Context, p *pierProc, repo string, edge *edgePoller, what string) (oneChange, error) {
	marker := fmt.Sprintf("<h1>%s, %d</h1>\n", what, time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(repo, gitBenchChangedPath), []byte(marker), 0o644); err != nil {
		return oneChange{}, err
	}
	if _, err := g.run(ctx, repo, "commit", "-q", "-a", "-m", what); err != nil {
		return oneChange{}, err
	}
	return measureChange(ctx, p, edge, marker, func() (time.Duration, error) {
		_, err := g.run(ctx, repo, "push", "pier", "main")
		return g.lastCPU, err
	})
}

// deployOneFile changes one file and publishes it with `pier deploy`.
func deployOneFile(ctx context.Context, p *pierProc, repo string, edge *edgePoller, what string) (oneChange, error) {
	marker := fmt.Sprintf("<h1>%s, %d</h1>\n", what, time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(repo, gitBenchChangedPath), []byte(marker), 0o644); err != nil {
		return oneChange{}, err
	}
	return measureChange(ctx, p, edge, marker, func() (time.Duration, error) {
		cmd := exec.CommandContext(ctx, pierBin(), "deploy", repo, "--site", gitBenchSite, "--json")
		cmd.Env = append(os.Environ(), "PIER_API="+p.API, "PIER_TOKEN="+p.Token)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("pier deploy: %v: %s", err, stderr.String())
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
	})
}

// measureChange times publish (which returns its client's CPU time) and
// the edge serving marker at gitBenchChangedURL after it.
func measureChange(ctx context.Context, p *pierProc, edge *edgePoller, marker string, publish func() (time.Duration, error)) (oneChange, error) {
	pid := p.cmd.Process.Pid
	before, err := processCPU(pid)
	if err != nil {
		return oneChange{}, err
	}
	start := time.Now()
	client, err := publish()
	if err != nil {
		return oneChange{}, err
	}
	c := oneChange{returned: time.Since(start), client: client}
	if err := edge.waitFor(ctx, gitBenchChangedURL, marker); err != nil {
		return oneChange{}, err
	}
	c.served = time.Since(start)
	after, err := processCPU(pid)
	if err != nil {
		return oneChange{}, err
	}
	c.server, c.children = after.self-before.self, after.children-before.children
	return c, nil
}

// medianOf is the median of one figure of changes.
func medianOf(changes []oneChange, figure func(oneChange) time.Duration) time.Duration {
	ds := make([]time.Duration, len(changes))
	for i, c := range changes {
		ds[i] = figure(c)
	}
	return median(ds)
}

// maxOf is the largest of one figure of changes.
func maxOf(changes []oneChange, figure func(oneChange) time.Duration) time.Duration {
	var m time.Duration
	for _, c := range changes {
		m = max(m, figure(c))
	}
	return m
}

// profileOneFilePushes writes a 10 s CPU profile of pier serve taken while
// one-file changes are pushed back to back.
func profileOneFilePushes(ctx context.Context, p *pierProc, g *gitRunner, repo string, edge *edgePoller, file string) error {
	const seconds = 10
	done := make(chan error, 1)
	go func() { done <- savePprof(ctx, p, "profile?seconds="+strconv.Itoa(seconds), file) }()
	n := 0
	for deadline := time.Now().Add(seconds * time.Second); time.Now().Before(deadline); n++ {
		if _, err := g.pushOneFile(ctx, p, repo, edge, fmt.Sprintf("profiled push %d", n)); err != nil {
			return err
		}
	}
	if err := <-done; err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  CPU profile of pier serve over %d one-file pushes written to %s\n", n, file)
	return nil
}

// gitRunner runs git with an environment of its own (no user or system
// configuration, never a prompt).
type gitRunner struct {
	env     []string
	lastCPU time.Duration // user + system time of the last run, with the processes it waited for
}

func gitBenchEnv(work string) []string {
	home := filepath.Join(work, "home")
	os.MkdirAll(home, 0o755)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Bench", "GIT_AUTHOR_EMAIL=bench@example.net",
		"GIT_COMMITTER_NAME=Bench", "GIT_COMMITTER_EMAIL=bench@example.net")
}

// run runs git in dir and returns its stderr (where push reports); a
// failure carries it.
func (g *gitRunner) run(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Env = g.env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	err := cmd.Run()
	if cmd.ProcessState != nil {
		g.lastCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return stderr.String(), fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String(), nil
}

// makeRepo writes the repository in one commit with git fast-import
// (one pack, as a repository that has been gc'd holds its objects), then
// checks it out. It returns the files' total size.
func (g *gitRunner) makeRepo(ctx context.Context, dir string) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"config", "gc.auto", "0"}} {
		if _, err := g.run(ctx, dir, args...); err != nil {
			return 0, err
		}
	}
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "fast-import", "--quiet", "--done")
	cmd.Env = g.env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(in, 1<<20)
	var total int64
	paths := make([]string, gitBenchFiles)
	for i := range gitBenchFiles {
		path, data := siteFile(i)
		paths[i] = path
		total += int64(len(data))
		fmt.Fprintf(w, "blob\nmark :%d\ndata %d\n", i+1, len(data))
		w.Write(data)
		w.WriteString("\n")
	}
	const msg = "10,000 files\n"
	fmt.Fprintf(w, "commit refs/heads/main\nauthor Bench <bench@example.net> 1767225600 +0000\ncommitter Bench <bench@example.net> 1767225600 +0000\ndata %d\n%s", len(msg), msg)
	for i, path := range paths {
		fmt.Fprintf(w, "M 100644 :%d %s\n", i+1, path)
	}
	w.WriteString("\ndone\n")
	werr := w.Flush()
	in.Close()
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("git fast-import: %v: %s", err, stderr.String())
	}
	if werr != nil {
		return 0, fmt.Errorf("git fast-import: writing: %w", werr)
	}
	if _, err := g.run(ctx, dir, "reset", "-q", "--hard"); err != nil {
		return 0, err
	}
	return total, nil
}

// edgePoller gets one site's files from the edge.
type edgePoller struct {
	client     *http.Client
	addr, host string
}

func (e *edgePoller) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+e.addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Host = e.host
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s%s: %s", e.host, path, resp.Status)
	}
	return body, err
}

// waitFor polls path until the edge serves want, for at most 30 s.
func (e *edgePoller) waitFor(ctx context.Context, path, want string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := e.get(ctx, path)
		if err == nil && string(body) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the edge did not serve the new %s within 30 s (last: %q, %v)", path, body, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pierLines are the "remote: pier: …" lines of a push's output.
func pierLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "remote: pier:") {
			lines = append(lines, l)
		}
	}
	return lines
}

// resetPeakRSS resets pid's VmHWM to its current RSS (Linux ≥ 4.0); where
// it cannot, the peak stays the process's lifetime peak, an upper bound.
func resetPeakRSS(pid int) {
	os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// procStatus reads one kB field (VmRSS, VmHWM, RssAnon) of /proc/pid/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s not found for pid %d", field, pid)
}

// cpuTimes is a process's CPU time (user + system): its own, and that of
// the children it has waited for (pier serve's git processes).
type cpuTimes struct{ self, children time.Duration }

// processCPU reads pid's CPU times from /proc/pid/stat (in clock ticks of
// 1/100 s, USER_HZ on Linux).
func processCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	// pid (comm) state ppid … utime stime cutime cstime: fields 14–17;
	// after the comm, state is the first.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 15 {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks [4]int64
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	const tick = 10 * time.Millisecond
	return cpuTimes{self: time.Duration(ticks[0]+ticks[1]) * tick, children: time.Duration(ticks[2]+ticks[3]) * tick}, nil
}

// treeSampler records the highest total RSS of a process and its
// descendants (pier serve's git, index-pack and hook processes), sampled.
type treeSampler struct {
	done   chan struct{}
	wg     sync.WaitGroup
	peak   int64
	atPeak []procRSS // the processes of the highest sample
}

func startTreeSampler(pid int, every time.Duration) *treeSampler {
	s := &treeSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if total, procs := treeRSS(pid); total > s.peak {
				s.peak, s.atPeak = total, procs
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *treeSampler) stop() (int64, []procRSS) {
	close(s.done)
	s.wg.Wait()
	return s.peak, s.atPeak
}

// procRSS is one process of a sample: what it runs, and its RSS.
type procRSS struct {
	name      string
	rss, anon int64 // anon: RssAnon, the part that is not mapped files (git maps its packs)
}

// describeRSS lists the processes that hold at least 1 MB, largest first.
func describeRSS(procs []procRSS) string {
	procs = slices.Clone(procs)
	slices.SortStableFunc(procs, func(a, b procRSS) int { return int(b.rss>>20 - a.rss>>20) })
	var parts []string
	for _, p := range procs {
		if p.rss >= 1<<20 {
			parts = append(parts, fmt.Sprintf("%s %d MB (%d anonymous)", p.name, p.rss>>20, p.anon>>20))
		}
	}
	return strings.Join(parts, ", ")
}

// procName names what pid runs: its program, and for git the subcommand
// ("git index-pack").
func procName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return strconv.Itoa(pid)
	}
	argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	name := filepath.Base(argv[0])
	if name == filepath.Base(pierBin()) {
		name = "pier"
	}
	if name != "git" && name != "pier" {
		return name
	}
	for i := 1; i < len(argv); i++ {
		switch a := argv[i]; {
		case a == "-c" || a == "-C":
			i++
		case !strings.HasPrefix(a, "-"):
			return name + " " + a
		}
	}
	return name
}

// treeRSS is the summed VmRSS of pid and its descendants, and each one's.
func treeRSS(pid int) (int64, []procRSS) {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], child)
		}
	}
	var total int64
	var procs []procRSS
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = append(queue[1:], children[p]...)
		if r, err := procStatus(p, "VmRSS"); err == nil {
			anon, _ := procStatus(p, "RssAnon")
			total += r
			procs = append(procs, procRSS{procName(p), r, anon})
		}
	}
	return total, procs
}

// savePprof saves pier serve's /debug/pprof/<name> to file.
func savePprof(ctx context.Context, p *pierProc, name, file string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", p.API+"/debug/pprof/"+name, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", name, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func holds(ok bool) string {
	if ok {
		return "holds"
	}
	return "MISSED"
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
