package worker

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/pierhq/pier/hosting/worker/internal/wasmrewrite"
)

// meter enforces a CPU budget on one instance. The budget counts the CPU
// time of the thread running the guest (the kernel's per-thread clock), so
// a guest whose thread is preempted on a busy machine is not charged for
// the wait; it is paused while the guest waits on I/O. The goroutine stays
// on its thread while the meter runs (runtime.LockOSThread), which compiled
// guest code does anyway.
//
// The instrumented guest calls the interrupt function (interrupted) at its
// next function entry or loop header once the instance's interrupt global
// is set. On Linux an interrupt source (the node's ticker, or a kernel
// timer of the instance's own) sets it at least every checkEvery while the
// guest runs, whatever the Go scheduler does: the
// interrupt function then reads the thread's CPU clock and stops the guest
// if the budget is spent, else lets it go on. So a guest is stopped within
// about checkEvery of its budget however many guests run at once, and a
// stop-the-world pause of the garbage collector waits at most about
// checkEvery for a running guest, where it would otherwise wait for the
// guest to return (up to its whole budget, holding up every goroutine of
// the process). Without an interrupt source (not Linux, or wazero's
// internals differ) a Go timer checks the CPU clock and sets the flag
// when the budget is spent; a stop-the-world pause can hold it up. One
// meter serves an instance for its whole life; calls other than expire
// come from the goroutine running the guest.
type meter struct {
	interrupt api.MutableGlobal
	kt        interruptSource                                  // nil: the Go timer checks the budget (or parked)
	newKT     func(api.MutableGlobal) (interruptSource, error) // makes kt again after park
	timer     *time.Timer                                      // the Go check, without kt
	parked    bool                                             // kt was released while idle (park)

	mu       sync.Mutex
	running  bool
	fired    bool // the flag was set to stop the guest
	clock    threadClock
	cpuKnown bool          // cpuStart was read (see charge)
	cpuStart time.Duration // clock at segStart, if cpuKnown
	segStart time.Duration // mono at resume, or at the first check since
	yielded  time.Duration // mono at resume or the last yield
	yield    bool          // the guest yields every yieldEvery (begin)
	used     time.Duration // CPU charged before the last resume
	budget   time.Duration
}

// yieldEvery is how long a guest computes before its interrupt function
// lets the goroutines queued on its P run (runtime.Gosched). Yielding
// lowers a neighbour's p99 latency while runaways run (about halves it:
// go run ./internal/bench neighbour) and costs the guest the time they
// run (little of its CPU time: the budget counts its thread's) and the
// hand-over of its P: a CPU-bound guest takes about 7% longer than with
// no checks at all (BenchmarkServeCPUBound, instrumented vs plain).
const yieldEvery = time.Millisecond

// checkEvery is how often, in wall-clock time, the interrupt source sends
// a running guest to the interrupt function. It bounds how long a
// stop-the-world pause waits for the guest and how far past its budget
// the guest runs; each check costs the guest a few µs (a read of its
// thread's CPU clock, and every yieldEvery a yield to the scheduler).
const checkEvery = time.Millisecond

// interruptSource sets a guest's interrupt global at least every
// checkEvery while it runs, whatever the Go scheduler does: the node's
// ticker (tickSource) or a timerfd of the instance's own (kernelTimer).
// start and take return an error when that can no longer be promised:
// the guest must then be stopped.
type interruptSource interface {
	start(d, now time.Duration) error // a guest starts or resumes at now (mono); fire within d
	stop()                            // the guest stopped (returned, or waits on the host)
	take(d time.Duration) error       // the guest took a firing; the next within d
	close()                           // release what it holds
}

// newMeter makes the meter of an instance whose interrupt global is
// interrupt. newKT makes its interrupt source (now, and again after
// park); nil, or an error from it, leaves the Go timer to check.
func newMeter(interrupt api.MutableGlobal, newKT func(api.MutableGlobal) (interruptSource, error)) (*meter, error) {
	m := &meter{interrupt: interrupt, newKT: newKT}
	var err error
	if newKT != nil {
		m.kt, err = newKT(interrupt)
	}
	if m.kt == nil {
		m.timer = time.AfterFunc(time.Hour, m.expire)
		m.timer.Stop()
	}
	return m, err
}

// begin starts a new budget (running). It must not be called after the
// meter fired: such an instance is discarded. A guest that yields lets
// the goroutines queued on its P run every yieldEvery; requests do, the
// instance's start-up (_initialize) does not: that is part of the first
// request's latency, and yielding there slowed a standard-Go guest's cold
// start by half (BenchmarkColdStart).
func (m *meter) begin(budget time.Duration, yield bool) { m.beginAt(budget, yield, mono()) }

// beginAt is begin with the clock read at now (mono), just before.
func (m *meter) beginAt(budget time.Duration, yield bool, now time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.yield = yield
	if m.kt == nil {
		m.interrupt.Set(0)
	} // with kt a set flag is a firing the guest takes at its first check
	m.fired = false
	m.used = 0
	m.budget = budget
	m.resumeLocked(now)
}

// resume restarts the clock after pause, on the calling goroutine's
// thread.
func (m *meter) resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resumeLocked(mono())
}

// resumeLocked is resume with m.mu held, the clock read at now (just
// before: a tenant's CPU hold may have taken the scheduler's lock since,
// a wait of nanoseconds charged to the guest).
func (m *meter) resumeLocked(now time.Duration) {
	if m.running {
		return
	}
	if m.parked {
		m.unpark()
		now = mono() // making the interrupt source is not the guest's time
	}
	runtime.LockOSThread()
	m.running = true
	m.segStart = now
	m.yielded = now
	if m.kt != nil {
		// Only the guest's own thread reads it (pause, interrupted), so
		// it needs no thread id; and it is first read at the guest's
		// first check, if one comes (see charge): a hello-world makes
		// no system call for its CPU time.
		m.clock = ownThreadClock()
		m.cpuKnown = false
	} else {
		m.clock = currentThreadClock() // expire reads it from another thread
		m.cpuStart = m.clock.now()
		m.cpuKnown = true
	}
	rem := m.budget - m.used
	var broken error
	if m.kt != nil {
		broken = m.kt.start(min(rem, checkEvery), now)
	}
	if rem <= 0 || m.fired || broken != nil {
		// Stopped at its first check. With no reader in read(2) (broken)
		// a guest could run past every pause and limit.
		m.trip()
		return
	}
	if m.kt == nil {
		m.timer.Reset(rem)
	}
}

// shortSegment is the wall-clock time under which pause charges the
// elapsed time rather than reading the thread's CPU clock (a system call):
// a thread's CPU time never exceeds the elapsed time, so a short segment
// is charged at most shortSegment more than it used.
const shortSegment = time.Millisecond

// charge is the CPU time to charge for the segment since segStart, at
// now (mono); m.mu is held, on the guest's thread.
//
// With the CPU clock read at segStart (cpuKnown): the elapsed time for a
// segment under shortSegment (a thread's CPU time never exceeds it),
// else the clock's advance. Without it (with an interrupt source, until
// the guest's first check): the elapsed time, at most checkEvery. The
// source sets the flag within checkEvery of resume, and the guest's first
// check after that reads the clock, so a segment with no check computed
// for at most checkEvery plus the time the source's thread took to be
// scheduled (the overrun BenchmarkConcurrentRunaways measures:
// 0.2 ms at p99 with 8 runaways on 2 cores); a segment preempted for long
// before its first check is charged checkEvery, not the wait.
func (m *meter) charge(now time.Duration) time.Duration {
	wall := now - m.segStart
	switch {
	case !m.cpuKnown:
		return min(wall, checkEvery)
	case wall < shortSegment:
		return wall
	default:
		return m.clock.now() - m.cpuStart
	}
}

// pause stops the clock, charging the CPU time since resume.
func (m *meter) pause() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pauseLocked()
}

// pauseLocked is pause with m.mu held. It returns the clock (mono) it
// read, or 0 if the meter was not running.
func (m *meter) pauseLocked() (now time.Duration) {
	if !m.running {
		return 0
	}
	if m.kt != nil {
		m.kt.stop()
	} else {
		m.timer.Stop()
	}
	now = mono()
	m.used += m.charge(now)
	m.running = false
	runtime.UnlockOSThread()
	return now
}

// charged is the CPU time charged so far (all of it while paused).
func (m *meter) charged() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// stop ends the budget: it pauses and reports whether the guest was (or
// may have been) stopped by the meter, the CPU time charged, and the
// clock (mono) at the end.
func (m *meter) stop() (fired bool, used, at time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if at = m.pauseLocked(); at == 0 {
		at = mono() // paused already (a wait on the host that failed)
	}
	return m.fired || m.kt == nil && m.interrupt.Get() != 0, m.used, at
}

// interrupted is the guest's call to the interrupt function, on its
// thread, when it found the flag set. It reports whether to stop the
// guest: the budget is spent (or the Go check found it spent). Otherwise
// the flag was the interrupt source's periodic firing: the firing is
// taken (and a kernel timer armed again).
func (m *meter) interrupted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fired || m.kt == nil || !m.running {
		m.fired = true
		return true
	}
	if !m.cpuKnown {
		// The first check of the segment: charge what ran before it and
		// read the clock from here on.
		now := mono()
		m.used += m.charge(now)
		m.cpuStart = m.clock.now()
		m.segStart = now
		m.cpuKnown = true
	}
	used := m.used + m.clock.now() - m.cpuStart
	if used >= m.budget {
		m.trip()
		return true
	}
	if err := m.kt.take(min(m.budget-used, checkEvery)); err != nil {
		m.trip() // no reader in read(2): the guest cannot go on safely
		return true
	}
	if !m.yield || mono()-m.yielded < yieldEvery {
		return false
	}
	m.mu.Unlock()
	// Let goroutines queued on this P run (a static request, the
	// collector's work): the scheduler would preempt the guest only after
	// 10 ms.
	runtime.Gosched()
	m.mu.Lock()
	m.yielded = mono()
	return false
}

// errCPULimit is the interrupt function's trap: the guest used its CPU
// budget. A Go panic, so no catch in the guest can handle it.
var errCPULimit = errors.New("worker: CPU time limit exceeded")

// interruptModule provides the function that instrumented guests call
// when they find their interrupt global set (see wasmrewrite).
func interruptModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	return rt.NewHostModuleBuilder(wasmrewrite.InterruptModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(onInterrupt), nil, nil).Export(wasmrewrite.InterruptFunc)
}

func onInterrupt(ctx context.Context, _ api.Module, _ []uint64) {
	if callFrom(ctx).inst.meter.interrupted() {
		panic(errCPULimit)
	}
}

// expire is the Go check without the kernel timer, on the timer's
// goroutine: it trips the interrupt if the guest's thread has used the
// budget, else it checks again after what remains (a late callback from
// an earlier segment finds the same answer).
func (m *meter) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running || m.fired {
		return
	}
	used := m.used + m.clock.now() - m.cpuStart
	if used >= m.budget {
		m.trip()
		return
	}
	m.timer.Reset(max(m.budget-used, 100*time.Microsecond))
}

// trip sets the interrupt to stop the guest; m.mu is held.
func (m *meter) trip() {
	m.interrupt.Set(1)
	m.fired = true
}

// park releases the interrupt source of an idle instance (a kernelTimer's
// two OS threads: kept by every idle instance, they would bound the number
// of live sites by the process's thread limit; or its ticker entry); the
// next resume makes it again.
func (m *meter) park() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kt == nil || m.running {
		return
	}
	m.kt.close()
	m.kt = nil
	m.parked = true
	m.interrupt.Set(0) // close's firing wrote it
}

// unpark makes the interrupt source of a parked meter again, or, if that
// fails, the Go timer (as an instance that never had one); m.mu is held.
func (m *meter) unpark() {
	m.parked = false
	if kt, err := m.newKT(m.interrupt); err == nil {
		m.kt = kt
		return
	}
	m.timer = time.AfterFunc(time.Hour, m.expire)
	m.timer.Stop()
}

// close releases the timer and the interrupt source.
func (m *meter) close() {
	m.mu.Lock()
	m.running = false // instances are closed between requests; never mid-call
	if m.timer != nil {
		m.timer.Stop()
	}
	if m.kt != nil {
		m.kt.close()
		m.kt = nil // a second close, or a park after it, releases nothing twice
	}
	m.mu.Unlock()
}
