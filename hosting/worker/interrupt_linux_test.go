//go:build linux

package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	if _, ok := in.meter.kt.(*tickSource); tickThreadSupported && !ok {
		t.Fatalf("the instance uses %T, not the node's ticker", in.meter.kt)
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

// TestKernelTimerFiresWhileIdle: the timer is disarmed when a request
// ends (a firing while no guest runs costs the process a thread wake-up
// and, while its reader goes back into read(2), a P), and a firing that
// comes while the instance is idle all the same (one armed just before
// the guest stopped) is taken by a reader itself: the next requests run
// on the same instance with the reader back in read(2).
func TestKernelTimerFiresWhileIdle(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1, ownTimers: true})
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
	kt, _ := in.meter.kt.(*kernelTimer)
	w.release(in, true)
	if kt == nil {
		t.Skip("no kernel timer")
	}
	kt.mu.Lock()
	armed, fired := kt.armedUntil, kt.fires
	// A firing while idle, as if armed just before the guest stopped.
	kt.armLocked(time.Millisecond, mono())
	kt.mu.Unlock()
	if armed != 0 {
		t.Errorf("the timer is still armed (due %v) after the request ended", armed)
	}
	testenv.WaitFor(t, testenv.Patience, func() error { // checkEvery
		kt.mu.Lock()
		defer kt.mu.Unlock()
		if kt.fires == fired {
			return errors.New("the timer did not fire while idle")
		}
		if kt.g.Get() != 0 {
			return errors.New("the reader did not take the firing")
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
	if in.meter.kt != interruptSource(kt) {
		t.Fatal("the instance was replaced")
	}
	if err := kt.waitInRead(); err != nil {
		t.Fatal(err)
	}
}

// TestGuestTakesFirings runs a guest for many times checkEvery under a
// large budget, with the node's ticker and with a kernel timer of its
// own: it is sent to the interrupt function about every checkEvery, goes
// on each time, and finishes with its answer.
func TestGuestTakesFirings(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("ownTimers=%v", own), func(t *testing.T) {
			rt := newRuntime(t, Config{PoolSize: 1, ownTimers: own})
			w := newWorker(t, rt, "cpu", nil, Limits{})
			in, err := w.acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer w.release(in, true)
			if in.meter.kt == nil {
				t.Skip("no kernel timer")
			}
			before := firingsTaken(in.meter.kt)
			work := in.mod.ExportedFunction("work")
			var res []uint64
			fired, used, err := in.run(context.Background(), time.Minute, true, func() {
				res, err = work.Call(in.ctx, 200_000_000)
			})
			if err != nil || fired || len(res) != 1 {
				t.Fatalf("work: %v, %v (fired %v)", res, err, fired)
			}
			taken := firingsTaken(in.meter.kt) - before
			t.Logf("%T: %v of CPU, %d firings taken", in.meter.kt, used, taken)
			if used > 20*checkEvery && taken < 5 {
				t.Errorf("%v of CPU with only %d firings taken", used, taken)
			}
		})
	}
}

// firingsTaken is how many firings a guest took from src.
func firingsTaken(src interruptSource) uint64 {
	switch s := src.(type) {
	case *kernelTimer:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.taken
	case *tickSource:
		return s.taken.Load()
	}
	panic(fmt.Sprintf("unknown interrupt source %T", src))
}

// TestProcSyscallRereads checks what waitInRead relies on: reading an open
// /proc/self/task/<tid>/syscall again from offset 0 shows the thread's
// state now, not the state when the file was opened or first read.
func TestProcSyscallRereads(t *testing.T) {
	var p1, p2 [2]int
	if err := unix.Pipe2(p1[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := unix.Pipe2(p2[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, fd := range []int{p1[0], p1[1], p2[0], p2[1]} {
			unix.Close(fd)
		}
	}()
	tid := make(chan int, 1)
	var spin atomic.Bool
	spin.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		var b [1]byte
		unix.Read(p1[0], b[:]) // blocked in read on p1
		for spin.Load() {      // running
		}
		unix.Read(p2[0], b[:]) // blocked in read on p2
	}()
	fd, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/syscall", <-tid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	kt := &kernelTimer{procFDs: [2]int{fd, -1}}
	state := func() string {
		var buf [64]byte
		n, err := unix.Pread(fd, buf[:], 0)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	kt.inRead = fmt.Appendf(nil, "%d 0x%x ", unix.SYS_READ, p1[0])
	if err := kt.waitInRead(); err != nil {
		t.Fatal(err)
	}
	unix.Write(p1[1], []byte{1})
	testenv.WaitFor(t, testenv.Patience, func() error {
		if s := state(); s != "running\n" {
			return fmt.Errorf("state %q while the thread spins", s)
		}
		return nil
	})
	spin.Store(false)
	kt.inRead = fmt.Appendf(nil, "%d 0x%x ", unix.SYS_READ, p2[0])
	if err := kt.waitInRead(); err != nil {
		t.Fatal(err)
	}
	unix.Write(p2[1], []byte{1})
	<-done
}
