package testenv

import (
	"fmt"
	"testing"
	"time"
)

// Patience is the deadline for a condition that holds as soon as the
// machine gets round to it (a server started, a certificate issued, a
// stream subscribed, a goroutine gone). It is generous because `make
// test` runs on busy machines; WaitFor returns as soon as the condition
// holds, so a quiet machine never waits for it.
const Patience = 2 * time.Minute

// WaitFor polls cond until it returns nil and fails tb (Fatalf, so call
// it from the test's goroutine) with cond's last error if timeout passes
// first. cond's error says what is still missing. Polls start at once and
// back off from 1 ms to 100 ms.
func WaitFor(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	if err := Poll(timeout, cond); err != nil {
		tb.Fatalf("%v", err)
	}
}

// Poll is WaitFor for callers that add to the failure (say, a goroutine
// dump that is too costly to take on every poll) or that may not call
// Fatalf: it returns the failure instead of reporting it.
func Poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not done after %v: %w", timeout, err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}
