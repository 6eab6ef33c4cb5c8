package worker

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// meter enforces a CPU budget on one instance. The budget counts the CPU
// time of the thread running the guest (the kernel's per-thread clock), so
// a guest whose thread is preempted on a busy machine is not charged for
// the wait; it is paused while the guest waits on I/O. The goroutine stays
// on its thread while the meter runs (runtime.LockOSThread), which compiled
// guest code does anyway. When the budget is used up the instance's
// interrupt global is set and the instrumented guest traps at its next
// function entry or loop header.
//
// A Go timer checks the CPU clock when the budget would be spent if the
// guest had run all along, and again after what remains. On Linux a kernel
// timer (kernelTimer) is the backstop: it sets the flag itself when no
// check has run for hardStop of wall-clock time, so a guest is stopped even
// when the Go scheduler cannot run the check (a stop-the-world pause
// waiting on a spinning guest, or every P running one). One meter serves an instance
// for its whole life; calls other than expire come from the goroutine
// running the guest.
type meter struct {
	interrupt api.MutableGlobal
	kt        *kernelTimer // nil: no backstop (not Linux, or wazero's internals differ)
	timer     *time.Timer  // the CPU check

	mu       sync.Mutex
	running  bool
	fired    bool // the flag was (or may have been) set
	clock    threadClock
	cpuStart time.Duration // clock at resume
	resumed  time.Time     // wall clock at resume
	hardAt   time.Time     // when the backstop fires (with kt)
	used     time.Duration // CPU charged before the last resume
	budget   time.Duration
	checkAt  time.Time // when the Go check is due
}

// hardStop is the wall-clock backstop for rem of CPU budget: rem plus
// half of it, at least 10 ms (or twice how late the Go checks ran lately,
// up to 15 ms) and at most 50 ms more. It stands in for a Go check that
// cannot run: with a single P (GOMAXPROCS=1) compiled guest code holds
// the P, and with any number of Ps a stop-the-world pause of the garbage
// collector that begins while a guest spins waits for the guest and holds
// up every goroutine, the checks and the edge's static requests included,
// until the backstop fires. So it is tight. A check that runs pushes it
// out (expire), so a thread preempted on a busy machine is still judged
// by the CPU time it used, unless no check could run for that slack past
// its time (then the guest is stopped having used less than its budget):
// on a machine so busy that the checks run late, the slack grows with
// their lateness.
func (m *meter) hardStop(now time.Time, rem time.Duration) time.Duration {
	late := min(2*recentLateness(now), maxLateSlack)
	return rem + min(max(rem/2, minBackstopSlack, late), maxBackstopSlack)
}

// Bounds of how much wall-clock time past the remaining budget the kernel
// backstop waits for a Go check (the kernel timer may fire up to
// kernelTimerSlack later still).
const (
	minBackstopSlack = 10 * time.Millisecond
	maxBackstopSlack = 50 * time.Millisecond
	// maxLateSlack bounds what late checks add: a check held up by a
	// collection's pause is late too, and a wider backstop makes the
	// next such pause longer.
	maxLateSlack = 15 * time.Millisecond
)

// lateness is the largest delay of a Go check past its due time noted in
// the current latenessPeriod (lateNs, in ns), shared by the meters of the
// process; lateAt is when that period began (Unix ns). Races between
// meters are benign: a lateness may be lost or kept a period longer.
var lateNs, lateAt atomic.Int64

// latenessPeriod is how long a noted lateness widens the backstop.
const latenessPeriod = 10 * time.Second

// noteLateness records that a check ran late past its due time.
func noteLateness(now time.Time, late time.Duration) {
	if late <= 0 {
		return
	}
	n := now.UnixNano()
	if n-lateAt.Load() > int64(latenessPeriod) {
		lateAt.Store(n)
		lateNs.Store(int64(late))
		return
	}
	if int64(late) > lateNs.Load() {
		lateNs.Store(int64(late))
	}
}

// recentLateness is the lateness noted in the last latenessPeriod.
func recentLateness(now time.Time) time.Duration {
	if now.UnixNano()-lateAt.Load() > int64(latenessPeriod) {
		return 0
	}
	return time.Duration(lateNs.Load())
}

func newMeter(interrupt api.MutableGlobal, kt *kernelTimer) *meter {
	m := &meter{interrupt: interrupt, kt: kt}
	m.timer = time.AfterFunc(time.Hour, m.expire)
	m.timer.Stop()
	return m
}

// begin starts a new budget (running) and clears the interrupt. It must
// not be called after the meter fired: such an instance is discarded.
func (m *meter) begin(budget time.Duration) {
	m.mu.Lock()
	m.interrupt.Set(0)
	m.fired = false
	m.used = 0
	m.budget = budget
	m.mu.Unlock()
	m.resume()
}

// resume restarts the clock after pause, on the calling goroutine's
// thread.
func (m *meter) resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return
	}
	runtime.LockOSThread()
	m.running = true
	m.clock = currentThreadClock()
	m.cpuStart = m.clock.now()
	m.resumed = time.Now()
	rem := m.budget - m.used
	if rem <= 0 || m.fired {
		m.trip()
		return
	}
	m.timer.Reset(rem)
	m.checkAt = m.resumed.Add(rem)
	if m.kt != nil {
		hard := m.hardStop(m.resumed, rem)
		m.hardAt = m.resumed.Add(hard)
		m.kt.arm(hard)
	}
}

// shortSegment is the wall-clock time under which pause charges the
// elapsed time rather than reading the thread's CPU clock (a system call):
// a thread's CPU time never exceeds the elapsed time, so a short segment
// is charged at most shortSegment more than it used.
const shortSegment = time.Millisecond

// pause stops the clock, charging the CPU time since resume.
func (m *meter) pause() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running {
		return
	}
	now := time.Now()
	if m.kt != nil {
		m.kt.disarm()
		if !now.Before(m.hardAt) {
			// The backstop may have expired just before it was disarmed,
			// with the kernel's write still to come: the flag is as good
			// as set.
			m.fired = true
		}
	}
	m.timer.Stop()
	if wall := now.Sub(m.resumed); wall < shortSegment {
		m.used += wall
	} else {
		m.used += m.clock.now() - m.cpuStart
	}
	m.running = false
	runtime.UnlockOSThread()
}

// stop ends the budget: it pauses and reports whether the guest was (or
// may have been) interrupted, and the CPU time charged.
func (m *meter) stop() (fired bool, used time.Duration) {
	m.pause()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fired || m.interrupt.Get() != 0, m.used
}

// expire is the CPU check, on the timer's goroutine: it trips the
// interrupt if the guest's thread has used the budget, else it checks
// again after what remains (a late callback from an earlier segment finds
// the same answer).
func (m *meter) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running || m.fired {
		return
	}
	now := time.Now()
	noteLateness(now, now.Sub(m.checkAt))
	used := m.used + m.clock.now() - m.cpuStart
	if used >= m.budget {
		m.trip()
		return
	}
	rem := max(m.budget-used, 100*time.Microsecond)
	m.timer.Reset(rem)
	m.checkAt = now.Add(rem)
	if m.kt != nil {
		// The check ran: push the backstop out, so that it fires only if
		// the next check cannot run.
		hard := m.hardStop(now, rem)
		m.hardAt = now.Add(hard)
		m.kt.extend(hard)
	}
}

// trip sets the interrupt; m.mu is held.
func (m *meter) trip() {
	m.interrupt.Set(1)
	m.fired = true
}

// close releases the timer (and the kernel timer's thread).
func (m *meter) close() {
	m.mu.Lock()
	m.running = false // instances are closed between requests; never mid-call
	m.timer.Stop()
	if m.kt != nil {
		m.kt.close()
	}
	m.mu.Unlock()
}
