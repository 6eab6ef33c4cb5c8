package worker

import (
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// meter enforces a CPU budget on one instance. The budget runs while the
// guest runs and is paused while it waits on I/O; when it is used up, the
// instance's interrupt global is set and the instrumented guest traps at
// its next function entry or loop header.
//
// On Linux the flag is set by the kernel (kernelTimer), which works while
// the Go scheduler cannot run anything. Elsewhere, or if wazero's internals
// are not as expected, a Go timer sets it; see the package documentation
// for what that risks. One meter serves an instance for its whole life.
type meter struct {
	interrupt api.MutableGlobal
	kt        *kernelTimer // nil: use timer
	timer     *time.Timer

	mu       sync.Mutex
	running  bool
	fired    bool // the flag was (or may have been) set
	start    time.Time
	deadline time.Time
	used     time.Duration
	budget   time.Duration
}

func newMeter(interrupt api.MutableGlobal, kt *kernelTimer) *meter {
	m := &meter{interrupt: interrupt, kt: kt}
	if kt == nil {
		m.timer = time.AfterFunc(time.Hour, m.expire)
		m.timer.Stop()
	}
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

// resume restarts the clock after pause.
func (m *meter) resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return
	}
	m.running = true
	m.start = time.Now()
	rem := m.budget - m.used
	if rem <= 0 || m.fired {
		m.trip()
		return
	}
	m.deadline = m.start.Add(rem)
	if m.kt != nil {
		m.kt.arm(rem)
	} else {
		m.timer.Reset(rem)
	}
}

// pause stops the clock, charging the time since resume.
func (m *meter) pause() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running {
		return
	}
	if m.kt != nil {
		m.kt.disarm()
	} else {
		m.timer.Stop()
	}
	now := time.Now()
	m.used += now.Sub(m.start)
	m.running = false
	if m.kt != nil && !now.Before(m.deadline) {
		// The timer may have expired just before it was disarmed, with
		// the kernel's write still to come: the flag is as good as set.
		m.fired = true
	}
}

// stop ends the budget: it pauses and reports whether the guest was (or
// may have been) interrupted, and the time charged.
func (m *meter) stop() (fired bool, used time.Duration) {
	m.pause()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fired || m.interrupt.Get() != 0, m.used
}

// expire is the Go timer's callback.
func (m *meter) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running || m.fired {
		return
	}
	if now := time.Now(); now.Before(m.deadline) { // a late callback of an earlier segment
		m.timer.Reset(m.deadline.Sub(now))
		return
	}
	m.trip()
}

// trip sets the interrupt; m.mu is held.
func (m *meter) trip() {
	m.interrupt.Set(1)
	m.fired = true
}

// close releases the timer (and the kernel timer's thread).
func (m *meter) close() {
	m.mu.Lock()
	m.running = false
	if m.kt != nil {
		m.kt.close()
	} else {
		m.timer.Stop()
	}
	m.mu.Unlock()
}
