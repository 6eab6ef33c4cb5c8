//go:build linux

package worker

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// TestKernelInterrupt checks that on Linux instances get the kernel timer
// (wazero's internals are as globalSlot expects), not the Go fallback.
func TestKernelInterrupt(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "hello", nil, Limits{})
	in, err := w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.release(in, true)
	if in.meter.kt == nil {
		t.Fatal("the instance uses the Go timer fallback")
	}
	slot, err := globalSlot(in.meter.interrupt)
	if err != nil {
		t.Fatal(err)
	}
	slot[0] = 7 // what the kernel does
	if got := in.meter.interrupt.Get(); got != 7 {
		t.Fatalf("global = %d after writing its slot, want 7", got)
	}
	in.meter.interrupt.Set(0)
}

// TestKernelTimerFiresWhileIdle checks the lazily disarmed timer: it fires
// while the instance is idle in the pool, and the next request still runs
// on the same instance, with the flag cleared and the reader back in read.
func TestKernelTimerFiresWhileIdle(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	// 50 ms: the backstop (rem + 10 ms) must not fire during a request
	// on a busy machine, under the race detector.
	w := newWorker(t, rt, "hello", nil, Limits{CPU: 50 * time.Millisecond})
	serve := func() {
		t.Helper()
		rec := httptest.NewRecorder()
		if res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, nil); res.Outcome != OutcomeOK {
			t.Fatalf("outcome %q (%v)", res.Outcome, res.Err)
		}
	}
	serve()
	in, err := w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kt := in.meter.kt
	w.release(in, true)
	if kt == nil {
		t.Skip("no kernel timer")
	}
	testenv.WaitFor(t, testenv.Patience, func() error { // hardStop(50ms) + slack: about 65 ms
		if kt.fires.Load() == 0 {
			return errors.New("the timer did not fire while idle")
		}
		return nil
	})
	for range 3 {
		serve()
	}
	in, err = w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.release(in, true)
	if in.meter.kt != kt {
		t.Fatal("the instance was replaced")
	}
	if kt.consumed != kt.fires.Load() || in.meter.interrupt.Get() != 0 {
		t.Errorf("consumed %d of %d firings, flag %d", kt.consumed, kt.fires.Load(), in.meter.interrupt.Get())
	}
}
