// Package e2e drives the real `pier` binary like a user: through the CLI and
// over HTTP, against real SQLite, PostgreSQL and MinIO.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// pierBin returns the pier binary under test: $PIER_BIN (set by make test),
// or one built from this checkout.
func pierBin(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("PIER_BIN"); b != "" {
		if _, err := os.Stat(b); err == nil {
			return b
		}
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pier-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "pier")
		out, err := exec.Command("go", "build", "-o", builtBin, "github.com/pierhq/pier/cmd/pier").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// keptPort returns a free loopback port for an address a server must keep
// although it binds it seconds later (Pebble validates at the ports it was
// started with); testenv.KeptPort says why it is drawn below the kernel's
// ephemeral range.
func keptPort(t testing.TB) int {
	t.Helper()
	port, err := testenv.KeptPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// server is a running `pier serve`.
type server struct {
	t        testing.TB
	Data     string
	EdgeAddr string // 127.0.0.1:port
	API      string // http://127.0.0.1:port
	Token    string
	args     []string
	env      []string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has exited
	out      *syncBuffer
	stdin    *os.File // the write end of the server's standard input, kept open
	// fixed are addresses the server must keep (ports other processes
	// point at, such as Pebble's validation ports); other ports it lost
	// to another process between freePort and its bind are replaced.
	fixed map[string]bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// anyPort asks pier serve to listen on a port the kernel picks; the harness
// learns it from the start-up banner (learnAddrs). A port chosen here and
// bound by pier later could be taken in between by any other process.
const anyPort = "127.0.0.1:0"

// startPier starts `pier serve` on loopback ports the kernel picks, with a
// fresh data directory (unless data is given) and extra flags, and waits
// until the admin API answers.
func startPier(t testing.TB, data string, extra []string, env ...string) *server {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	s := &server{t: t, Data: data, EdgeAddr: anyPort, API: "http://" + anyPort, env: env}
	s.args = append([]string{"serve", "--data", data, "--http", anyPort, "--admin", anyPort}, extra...)
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start launches the server and waits until it is ready. A restart asks
// for the ports the server had, so its addresses stay the same; one that
// another process took meanwhile is replaced by a port the kernel picks.
func (s *server) start() {
	s.t.Helper()
	for attempt := 0; ; attempt++ {
		s.launch()
		addr, lost := s.waitReady()
		if !lost {
			return
		}
		if attempt == 4 || s.fixed[addr] {
			s.t.Fatalf("pier serve could not bind %s:\n%s", addr, s.out.String())
		}
		s.t.Logf("pier serve could not bind %s (taken by another process); it gets a port the kernel picks", addr)
		s.rebind(addr)
	}
}

// readyClient asks for readiness; a port held by something that never
// answers must not hang the test.
var readyClient = &http.Client{Timeout: 2 * time.Second}

// bindFailure matches the error pier serve exits with when a port it was
// given is taken.
var bindFailure = regexp.MustCompile(`listen tcp (\S+): bind: address already in use`)

// rebind asks for a port the kernel picks instead of addr, which another
// process took before the server bound it.
func (s *server) rebind(addr string) {
	for i, a := range s.args {
		if a == addr && i > 0 {
			s.args[i] = anyPort
		}
	}
	if s.EdgeAddr == addr {
		s.EdgeAddr = anyPort
	}
	if s.API == "http://"+addr {
		s.API = "http://" + anyPort
	}
}

// The banner lines in which pier serve names the addresses it listens on.
var (
	edgeBanner  = regexp.MustCompile(`\(edge on (\S+)\)`)
	adminBanner = regexp.MustCompile(`admin API for the CLI's --api: http://(\S+) `)
)

// learnAddrs reads, from the server's banner, the addresses of the
// listeners it was asked to put on any port, and keeps them in s.args for a
// restart. It reports whether every address is known.
func (s *server) learnAddrs() bool {
	out := ""
	for _, l := range []struct {
		flag string
		addr *string
		line *regexp.Regexp
		pre  string
	}{{"--http", &s.EdgeAddr, edgeBanner, ""}, {"--admin", &s.API, adminBanner, "http://"}} {
		if *l.addr != l.pre+anyPort {
			continue
		}
		if out == "" {
			out = s.out.String()
		}
		m := l.line.FindStringSubmatch(out)
		if m == nil {
			return false
		}
		*l.addr = l.pre + m[1]
		if i := slices.Index(s.args, l.flag); i >= 0 && i+1 < len(s.args) {
			s.args[i+1] = m[1]
		}
	}
	return true
}

// launch starts the process without waiting for it.
func (s *server) launch() {
	t := s.t
	t.Helper()
	s.out = &syncBuffer{}
	s.cmd = exec.Command(pierBin(t), s.args...)
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	// Standard input stays open, as in a terminal or under a supervisor
	// that keeps a pipe: nothing may wait on it (certmagic prompts for an
	// ACME e-mail address when it has none).
	stdin, keep, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdin = stdin
	err = s.cmd.Start()
	stdin.Close()
	if err != nil {
		keep.Close()
		t.Fatal(err)
	}
	s.stdin = keep
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) { cmd.Wait(); close(exited) }(s.cmd)
}

// waitReady waits until the admin API answers, then reads the admin
// token. If the server exits because a port was taken, it returns that
// address and lost (the caller may retry with another port).
func (s *server) waitReady() (addr string, lost bool) {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(testenv.Patience)
	for {
		err := fmt.Errorf("no admin address in the banner yet")
		if s.learnAddrs() {
			var resp *http.Response
			if resp, err = readyClient.Get(s.API + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
		}
		select {
		case <-s.exited:
			out := s.out.String()
			s.release()
			if m := bindFailure.FindStringSubmatch(out); m != nil {
				return m[1], true
			}
			t.Fatalf("pier serve exited:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pier serve did not become ready: %v\n%s", err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(s.Data, "admin.token"))
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	s.Token = strings.TrimSpace(string(tok))
	return "", false
}

// stop terminates the server gracefully.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.release()
}

// release forgets an exited process.
func (s *server) release() {
	s.cmd = nil
	if s.stdin != nil {
		s.stdin.Close()
		s.stdin = nil
	}
}

func (s *server) restart() {
	s.stop()
	s.start()
}

// pier runs a client command against the server with the admin token and
// returns its stdout; a non-zero exit fails the test unless wantErr.
func (s *server) pier(args ...string) string {
	s.t.Helper()
	out, errOut, err := s.pierToken(s.Token, args...)
	if err != nil {
		s.t.Fatalf("pier %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// pierFail runs a client command that must fail; it returns stderr.
func (s *server) pierFail(args ...string) string {
	s.t.Helper()
	out, errOut, err := s.pierToken(s.Token, args...)
	if err == nil {
		s.t.Fatalf("pier %s: succeeded, want failure\nstdout: %s", strings.Join(args, " "), out)
	}
	return errOut
}

func (s *server) pierToken(token string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pierBin(s.t), args...)
	cmd.Env = append(os.Environ(), "PIER_API="+s.API, "PIER_TOKEN="+token)
	cmd.Dir = s.t.TempDir()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// deployResult is `pier deploy --json`.
type deployResult struct {
	Deployment    string `json:"deployment"`
	URL           string `json:"url"`
	PreviewURL    string `json:"preview_url"`
	Files         int    `json:"files"`
	Uploaded      int    `json:"uploaded"`
	Reused        int    `json:"reused"`
	BytesUploaded int64  `json:"bytes_uploaded"`
}

func (s *server) deploy(dir, site string, extra ...string) deployResult {
	s.t.Helper()
	out := s.pier(append([]string{"deploy", dir, "--site", site, "--json"}, extra...)...)
	var r deployResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		s.t.Fatalf("deploy --json output %q: %v", out, err)
	}
	if r.Deployment == "" {
		s.t.Fatalf("deploy --json without a deployment id: %s", out)
	}
	return r
}

// response is what the edge answered.
type response struct {
	Status int
	Header http.Header
	Body   string
}

var edgeClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableCompression: true},
}

// get requests path from the edge with the given Host header.
func (s *server) get(host, path string, hdr ...string) response {
	s.t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.EdgeAddr+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := edgeClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// api calls the admin API with token and decodes the JSON answer into out.
func (s *server) api(method, path, token string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.API+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// writeSite writes files (path → content) into a new directory.
func writeSite(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found")
		}
		dir = parent
	}
}

// getURL fetches an absolute URL and returns its body.
func (s *server) getURL(u string) string {
	s.t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		s.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestHarnessRebinds: a port lost to another process between freePort and
// pier's bind is replaced, instead of failing the test that drew it.
func TestHarnessRebinds(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	data := t.TempDir()
	s := &server{t: t, Data: data, EdgeAddr: anyPort}
	s.API = "http://" + taken.Addr().String()
	s.args = []string{"serve", "--data", data, "--http", s.EdgeAddr, "--admin", taken.Addr().String()}
	s.start()
	defer s.stop()
	if s.API == "http://"+taken.Addr().String() {
		t.Fatal("the admin API is on the taken port")
	}
	s.pier("tenants", "create", "acme")
}

// waitOutput waits until the server's output holds want. Output reaches
// s.out through a pipe that another goroutine copies, so a line the server
// wrote before it answered may not be there yet when the answer arrives.
func (s *server) waitOutput(want string) {
	s.t.Helper()
	testenv.WaitFor(s.t, testenv.Patience, func() error {
		if !strings.Contains(s.out.String(), want) {
			return fmt.Errorf("the output of pier serve does not say %q:\n%s", want, tail(s.out.String(), 8000))
		}
		return nil
	})
}

// logFollower is `pier logs --site S --json` running beside a test: the
// lines it printed so far.
type logFollower struct {
	mu    sync.Mutex
	lines []string
}

// Lines returns a copy of the lines printed so far.
func (f *logFollower) Lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lines)
}

// followLogs starts `pier logs --site site --json` until the test ends.
func (s *server) followLogs(site string) *logFollower {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, pierBin(t), "logs", "--site", site, "--json")
	cmd.Env = append(os.Environ(), "PIER_API="+s.API, "PIER_TOKEN="+s.Token)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &logFollower{}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.mu.Lock()
			f.lines = append(f.lines, sc.Text())
			f.mu.Unlock()
		}
	}()
	return f
}
