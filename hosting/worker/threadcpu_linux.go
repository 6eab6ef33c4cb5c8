//go:build linux

package worker

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadClock reads one OS thread's CPU time (the kernel's per-thread
// CPU clock; it does not advance while the thread waits or is preempted).
type threadClock struct{ id int32 }

// currentThreadClock is the CPU clock of the calling goroutine's thread;
// the caller keeps the goroutine on it (runtime.LockOSThread) while it
// measures.
func currentThreadClock() threadClock {
	// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) of the kernel's
	// posix-timers.h: another thread of this process may read it too.
	const cpuclockSched, cpuclockPerThread = 2, 4
	return threadClock{id: int32(^uint32(unix.Gettid()))<<3 | cpuclockSched | cpuclockPerThread}
}

// ownThreadClock is the CPU clock of whichever thread reads it: no system
// call to learn the thread's id, but only the thread itself may read it.
// The caller keeps the goroutine on its thread while it measures.
func ownThreadClock() threadClock { return threadClock{id: unix.CLOCK_THREAD_CPUTIME_ID} }

// now is the thread's CPU time so far; 0 if the thread is gone.
func (c threadClock) now() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(c.id, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
