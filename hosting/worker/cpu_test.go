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
	fired, used, _ := m.stop()
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
	fired, used, _ = m.stop()
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

// TestMeterFirstCheckReadsClock: with the kernel timer the CPU clock is
// first read at the guest's first check, so a segment off the CPU before
// it is charged at most checkEvery, and after it only CPU time counts.
func TestMeterFirstCheckReadsClock(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "hello", nil, Limits{})
	in, err := w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.release(in, false)
	m := in.meter
	if m.kt == nil {
		t.Skip("no kernel timer here")
	}
	m.begin(20*time.Millisecond, false)
	time.Sleep(30 * time.Millisecond) // preempted before its first check
	if m.interrupt.Get() == 0 {
		t.Fatal("the kernel timer did not set the flag within 30ms")
	}
	if m.interrupted() {
		t.Fatal("a guest off the CPU for 30ms before its first check was stopped")
	}
	m.mu.Lock()
	first := m.used
	m.mu.Unlock()
	if first > checkEvery {
		t.Errorf("the segment before the first check was charged %v, more than %v", first, checkEvery)
	}
	time.Sleep(30 * time.Millisecond) // off the CPU after it
	if m.interrupt.Get() != 0 && m.interrupted() {
		t.Fatal("a guest off the CPU after its first check was stopped")
	}
	fired, used, _ := m.stop()
	if fired {
		t.Error("fired")
	}
	if used > 5*time.Millisecond {
		t.Errorf("60ms off the CPU charged %v", used)
	}
}
