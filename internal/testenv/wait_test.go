package testenv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	t.Run("returns once the condition holds", func(t *testing.T) {
		t.Parallel()
		calls := 0
		WaitFor(t, Patience, func() error {
			calls++
			if calls < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		if calls != 3 {
			t.Errorf("cond called %d times, want 3", calls)
		}
	})
	t.Run("reports the last error after the deadline", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		err := Poll(20*time.Millisecond, func() error { return errors.New("the server is down") })
		if err == nil || !strings.Contains(err.Error(), "the server is down") || !strings.Contains(err.Error(), "20ms") {
			t.Errorf("err = %v, want the condition's last error and the timeout", err)
		}
		if time.Since(start) < 20*time.Millisecond {
			t.Errorf("gave up after %v, before the deadline", time.Since(start))
		}
	})
}
