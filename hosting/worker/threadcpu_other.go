//go:build !linux

package worker

import "time"

// threadClock falls back to elapsed time where no per-thread CPU clock is
// read: the budget then counts preemption too.
type threadClock struct{}

var clockEpoch = time.Now()

func currentThreadClock() threadClock { return threadClock{} }

func ownThreadClock() threadClock { return threadClock{} }

func (threadClock) now() time.Duration { return time.Since(clockEpoch) }
