package worker

import (
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// meter enforces a CPU budget on one instance. The budget runs while the
// guest runs and is paused while it waits on I/O; when it is used up, a
// timer sets the instance's interrupt global and the instrumented guest
// traps at its next function entry or loop header.
//
// One meter and one timer serve an instance for its whole life. The timer
// callback checks the deadline under the lock, so a callback from an earlier
// segment that fires late does nothing.
type meter struct {
	interrupt api.MutableGlobal
	timer     *time.Timer

	mu       sync.Mutex
	running  bool
	fired    bool
	start    time.Time
	deadline time.Time
	used     time.Duration
	budget   time.Duration
}

func newMeter(interrupt api.MutableGlobal) *meter {
	m := &meter{interrupt: interrupt}
	m.timer = time.AfterFunc(time.Hour, m.expire)
	m.timer.Stop()
	return m
}

// begin starts a new budget (running) and clears the interrupt.
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
	if rem <= 0 {
		m.trip()
		return
	}
	m.deadline = m.start.Add(rem)
	m.timer.Reset(rem)
}

// pause stops the clock, charging the time since resume.
func (m *meter) pause() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running {
		return
	}
	m.timer.Stop()
	m.used += time.Since(m.start)
	m.running = false
}

// stop ends the budget: it pauses and reports whether the guest was
// interrupted and the time charged.
func (m *meter) stop() (fired bool, used time.Duration) {
	m.pause()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fired, m.used
}

func (m *meter) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running || m.fired {
		return
	}
	if now := time.Now(); now.Before(m.deadline) {
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

// close releases the timer.
func (m *meter) close() {
	m.mu.Lock()
	m.running = false
	m.timer.Stop()
	m.mu.Unlock()
}
