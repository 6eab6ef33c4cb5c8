package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
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

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
