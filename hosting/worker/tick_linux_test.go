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

// heapFlags keeps the tests' flags on the heap: only referred to through
// a uintptr, a flag could otherwise live on a goroutine's stack, which
// moves when it grows, and the ticker would write where it was.
var (
	heapFlagsMu sync.Mutex
	heapFlags   []*uint64
)

func heapFlag() *uint64 {
	f := new(uint64)
	heapFlagsMu.Lock()
	heapFlags = append(heapFlags, f)
	heapFlagsMu.Unlock()
	return f
}

// TestTickerSetsRunningFlags: a registered flag is set at the next tick,
// again after it is cleared (taken), and left alone once unregistered.
func TestTickerSetsRunningFlags(t *testing.T) {
	tk := testTicker(t)
	flag := heapFlag()
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
	// Another guest stays registered meanwhile, so the ticker keeps
	// ticking (with none it would park after idleTicks).
	other := heapFlag()
	j, _ := tk.acquire()
	defer tk.release(j)
	tk.set(j, uintptr(unsafe.Pointer(other)))
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
	if atomic.LoadUint64(other) == 0 {
		t.Fatal("the registered guest's flag was not set meanwhile")
	}
	tk.clear(j)
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
	// pid (comm) state ...: a parked thread sleeps (it marks itself
	// parked just before its last look at the table and the futex wait).
	testenv.WaitFor(t, testenv.Patience, func() error {
		state, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tk.tid))
		if err != nil {
			return fmt.Errorf("the ticker thread: %w", err)
		}
		if f := strings.Fields(string(state[strings.LastIndexByte(string(state), ')')+1:])); len(f) == 0 || f[0] != "S" {
			return fmt.Errorf("the parked ticker's thread state is %q, want S", f)
		}
		return nil
	})
	ticks := tk.ticks()
	flag := heapFlag()
	i, _ := tk.acquire()
	defer tk.release(i)
	tk.set(i, uintptr(unsafe.Pointer(flag)))
	testenv.WaitFor(t, testenv.Patience, func() error {
		if atomic.LoadUint64(flag) == 0 {
			return errors.New("a registration did not wake the parked ticker")
		}
		return nil
	})
	testenv.WaitFor(t, testenv.Patience, func() error { // counted after the sweep's stores
		if tk.ticks() == ticks {
			return errors.New("the flag was set without a tick")
		}
		return nil
	})
	tk.clear(i)
}

// TestTickerEntriesUnderChurn registers and releases entries from many
// goroutines at once, each flag a fresh allocation released right after
// (as instances are): every registered flag is set within a few ticks,
// and entries are reused.
func TestTickerEntriesUnderChurn(t *testing.T) {
	tk := testTicker(t)
	tk.mu.Lock()
	highBefore, freeBefore := tk.high, len(tk.free)
	tk.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				flag := heapFlag()
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
	grew := tk.high - highBefore
	tk.mu.Unlock()
	// 8 at once need at most 8 entries beyond the free ones (other
	// tests' instances may hold some of them meanwhile).
	if grew > 8 {
		t.Errorf("the table grew by %d entries (%d were free) for 8 concurrent users of 20 entries each: released entries are not reused", grew, freeBefore)
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
	// Past the budget by about a tick; a ticker that never ticked would
	// let the loop run its 2e9 rounds (seconds).
	if used < 20*time.Millisecond || used > 250*time.Millisecond {
		t.Errorf("stopped after %v of CPU, want its 20ms budget and about a millisecond more", used)
	}
	t.Logf("stopped after %v of CPU (budget 20ms)", used)
}
