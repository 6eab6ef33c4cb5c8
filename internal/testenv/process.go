package testenv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// missing skips tb, or fails it when servers are required
// (PIER_TEST_REQUIRE_SERVERS=1, as make test sets).
func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("PIER_TEST_REQUIRE_SERVERS") == "1" {
		tb.Fatalf("testenv: %s; PIER_TEST_REQUIRE_SERVERS=1 requires it: run `make test`", why)
	}
	tb.Skipf("testenv: %s; skipping (run `make test` to run against real servers)", why)
}

// output collects a child's output for error messages, keeping the first
// 64 KiB (the start says why it failed).
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *output) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *output) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runChild starts cmd, collects its output for error messages (also
// copying it to out when non-nil), waits with ready until it serves, and
// returns a stop func that sends sig, then kills it after grace; stopping
// twice is harmless. Unless the caller set cmd.SysProcAttr, the child gets
// its own process group and dies with the test binary (Pdeathsig), so a
// test killed before its cleanups run does not leave a server bound to a
// port.
func runChild(cmd *exec.Cmd, out io.Writer, sig os.Signal, grace time.Duration, ready func(exited <-chan struct{}) error) (stop func(), err error) {
	buf := &output{}
	var w io.Writer = buf
	if out != nil {
		w = io.MultiWriter(buf, out)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop = func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Signal(sig)
		select {
		case <-exited:
		case <-time.After(grace):
			cmd.Process.Kill()
			<-exited
		}
	}
	if err := ready(exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w; output:\n%s", err, buf.String())
	}
	return stop, nil
}
