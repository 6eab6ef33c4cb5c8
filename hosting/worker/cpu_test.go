package worker

import (
	"context"
	"testing"
	"time"
)

// TestMeterChargesCPUNotWaiting: the budget counts the guest thread's CPU
// time, so a thread that is off the CPU (here: sleeping, as a preempted
// thread on a busy machine would be) is not charged, while a thread that
// spins past the budget trips the interrupt.
func TestMeterChargesCPUNotWaiting(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "hello", nil, Limits{})
	in, err := w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.release(in, false)
	m := in.meter

	m.begin(20*time.Millisecond, true)
	time.Sleep(100 * time.Millisecond)
	fired, used := m.stop()
	if fired {
		t.Errorf("a thread off the CPU for 5x the budget was interrupted (used %v)", used)
	}
	if used > 10*time.Millisecond {
		t.Errorf("sleeping 100ms charged %v of CPU", used)
	}

	m.begin(20*time.Millisecond, true)
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		// spin, as a runaway guest does, checking the flag as it would
		if m.interrupt.Get() != 0 && m.interrupted() {
			break
		}
	}
	fired, used = m.stop()
	if !fired || !m.tripped() {
		t.Fatalf("spinning for %v did not trip a 20ms budget", time.Since(start))
	}
	if used < 20*time.Millisecond {
		t.Errorf("tripped after charging only %v", used)
	}
}

func (m *meter) tripped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fired
}
