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

	m.begin(20 * time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	fired, used := m.stop()
	if fired || m.interrupt.Get() != 0 {
		t.Errorf("a thread off the CPU for 5x the budget was interrupted (used %v)", used)
	}
	if used > 10*time.Millisecond {
		t.Errorf("sleeping 100ms charged %v of CPU", used)
	}

	m.begin(20 * time.Millisecond)
	start := time.Now()
	for !m.tripped() && time.Since(start) < 5*time.Second {
		// spin, as a runaway guest does
	}
	fired, used = m.stop()
	if !fired || m.interrupt.Get() == 0 {
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

// TestBackstopSlack: the kernel backstop waits half the remaining budget
// past it, 10 to 50 ms, or twice how late the Go checks ran in the last
// period (up to 15 ms) when that is more (a machine so busy that checks run late must
// not have its guests stopped before they used their budget).
func TestBackstopSlack(t *testing.T) {
	now := time.Now()
	m := &meter{}
	tests := []struct {
		name string
		late time.Duration // noted lateness; 0: none
		at   time.Time     // when it was noted
		rem  time.Duration
		want time.Duration
	}{
		{"small budget", 0, time.Time{}, 10 * time.Millisecond, 20 * time.Millisecond},
		{"half of the budget", 0, time.Time{}, 60 * time.Millisecond, 90 * time.Millisecond},
		{"at most 50 ms", 0, time.Time{}, 500 * time.Millisecond, 550 * time.Millisecond},
		{"late checks", 6 * time.Millisecond, now, 10 * time.Millisecond, 22 * time.Millisecond},
		{"very late checks", time.Second, now, 10 * time.Millisecond, 25 * time.Millisecond},
		{"very late checks, large budget", time.Second, now, 90 * time.Millisecond, 135 * time.Millisecond},
		{"lateness of an old period", 6 * time.Millisecond, now.Add(-2 * latenessPeriod), 10 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lateAt.Store(0)
			lateNs.Store(0)
			if tt.late > 0 {
				noteLateness(tt.at, tt.late)
			}
			if got := m.hardStop(now, tt.rem); got != tt.want {
				t.Errorf("hardStop(%v) = %v, want %v", tt.rem, got, tt.want)
			}
		})
	}
	lateAt.Store(0)
	lateNs.Store(0)
}
