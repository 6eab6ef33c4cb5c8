//go:build linux

package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/pierhq/pier/internal/testenv"
)

func testTicker(t *testing.T) *ticker {
	t.Helper()
	if !tickThreadSupported {
		t.Skip("no ticker thread on this architecture")
	}
	tk, err := nodeTicker()
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestTickerSetsRunningFlags: a registered flag is set at the next tick,
// again after it is cleared (taken), and left alone once unregistered.
func TestTickerSetsRunningFlags(t *testing.T) {
	tk := testTicker(t)
	flag := new(uint64)
	i, ok := tk.acquire()
	if !ok {
		t.Fatal("no entry")
	}
	defer tk.release(i)
	tk.set(i, uintptr(unsafe.Pointer(flag)))
	for range 3 {
		testenv.WaitFor(t, testenv.Patience, func() error {
			if atomic.LoadUint64(flag) == 0 {
				return errors.New("the ticker did not set a registered flag")
			}
			return nil
		})
		atomic.StoreUint64(flag, 0) // the guest takes it
	}
	tk.clear(i)
	// A sweep in progress when clear returned may still write it: from
	// the sweep after the next one on, none does.
	ticks := tk.ticks()
	waitTicks(t, tk, ticks+2)
	atomic.StoreUint64(flag, 0)
	waitTicks(t, tk, tk.ticks()+3)
	if v := atomic.LoadUint64(flag); v != 0 {
		t.Fatalf("the flag of an unregistered guest was set (%d)", v)
	}
}

func waitTicks(t *testing.T, tk *ticker, n uint64) {
	t.Helper()
	testenv.WaitFor(t, testenv.Patience, func() error {
		if got := tk.ticks(); got < n {
			return fmt.Errorf("%d ticks, waiting for %d", got, n)
		}
		return nil
	})
}

// TestTickerParksWhileIdle: with no guest registered the thread stops
// ticking (it waits on its futex, asleep), and a registration wakes it.
func TestTickerParksWhileIdle(t *testing.T) {
	tk := testTicker(t)
	testenv.WaitFor(t, testenv.Patience, func() error {
		if !tk.parked() {
			return errors.New("the ticker did not park with no guest running")
		}
		return nil
	})
	state, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tk.tid))
	if err != nil {
		t.Fatalf("the ticker thread: %v", err)
	}
	// pid (comm) state ...: a parked thread sleeps.
	if f := strings.Fields(string(state[strings.LastIndexByte(string(state), ')')+1:])); len(f) == 0 || f[0] != "S" {
		t.Errorf("the parked ticker's thread state is %q, want S", f)
	}
	ticks := tk.ticks()
	flag := new(uint64)
	i, _ := tk.acquire()
	defer tk.release(i)
	tk.set(i, uintptr(unsafe.Pointer(flag)))
	testenv.WaitFor(t, testenv.Patience, func() error {
		if atomic.LoadUint64(flag) == 0 {
			return errors.New("a registration did not wake the parked ticker")
		}
		return nil
	})
	if tk.ticks() == ticks {
		t.Fatal("the flag was set without a tick")
	}
	tk.clear(i)
}

// TestTickerEntriesUnderChurn registers and releases entries from many
// goroutines at once, each flag a fresh allocation released right after
// (as instances are): every registered flag is set within a few ticks,
// and entries are reused.
func TestTickerEntriesUnderChurn(t *testing.T) {
	tk := testTicker(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				flag := new(uint64)
				i, ok := tk.acquire()
				if !ok {
					errs <- errors.New("table full")
					return
				}
				tk.set(i, uintptr(unsafe.Pointer(flag)))
				deadline := time.Now().Add(testenv.Patience)
				for atomic.LoadUint64(flag) == 0 {
					if time.Now().After(deadline) {
						errs <- errors.New("a flag was not set")
						tk.release(i)
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
				tk.release(i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tk.mu.Lock()
	high := tk.high
	tk.mu.Unlock()
	if high > 64 { // 8 at once, plus other tests' instances
		t.Errorf("%d entries handed out for 8 concurrent users: released entries are not reused", high)
	}
}

// TestTickerStopsRunaway: a guest spinning in a loop with the node's
// ticker is stopped at its budget, as with a timer of its own.
func TestTickerStopsRunaway(t *testing.T) {
	testTicker(t)
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "cpu", nil, Limits{})
	in, err := w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.release(in, false)
	if _, ok := in.meter.kt.(*tickSource); !ok {
		t.Fatalf("interrupt source %T, want the ticker", in.meter.kt)
	}
	work := in.mod.ExportedFunction("work")
	fired, used, _ := in.run(context.Background(), 20*time.Millisecond, true, func() {
		_, err = work.Call(in.ctx, 2_000_000_000)
	})
	if !fired || err == nil {
		t.Fatalf("a runaway with a 20ms budget was not stopped (fired %v, err %v)", fired, err)
	}
	if used < 20*time.Millisecond {
		t.Errorf("stopped after %v of CPU, before its 20ms budget", used)
	}
	t.Logf("stopped after %v of CPU (budget 20ms)", used)
}
