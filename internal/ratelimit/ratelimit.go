// Package ratelimit is Pier's one rate limiter: a keyed GCRA (generic cell
// rate algorithm, equivalent to a token bucket) that answers "allowed" or
// "retry after d" from memory. Any package may import it; it imports
// nothing of Pier's.
package ratelimit

import (
	"sync"
	"time"
)

// DefaultMaxKeys is Limiter.MaxKeys' default.
const DefaultMaxKeys = 4096

// Limiter allows Burst events in a row per key, then one every Interval.
// Keys that have been idle long enough to be back at a full burst are
// forgotten, and at most MaxKeys are tracked: past that, the key closest
// to a full burst is dropped to make room, so a flood of distinct keys
// costs bounded memory and never locks other keys out (the dropped key
// may get its burst again early). The zero value allows nothing; set
// Interval and Burst. Safe for concurrent use.
type Limiter struct {
	Interval time.Duration // time between events once the burst is spent
	Burst    int           // events allowed in a row (at least 1)
	MaxKeys  int           // keys tracked at once; default DefaultMaxKeys

	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time per key
}

// Take records an event for key at now and returns zero, or how long to
// wait before the event would be allowed (nothing is recorded then).
func (l *Limiter) Take(key string, now time.Time) time.Duration {
	if l.Interval <= 0 || l.Burst < 1 {
		return max(l.Interval, time.Second)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tat == nil {
		l.tat = make(map[string]time.Time)
	}
	tat, known := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	tolerance := time.Duration(l.Burst-1) * l.Interval
	if wait := tat.Sub(now) - tolerance; wait > 0 {
		return wait
	}
	if !known && len(l.tat) >= l.maxKeys() {
		l.prune(now)
		if len(l.tat) >= l.maxKeys() {
			l.evictOldest()
		}
	}
	l.tat[key] = tat.Add(l.Interval)
	return 0
}

// Allow is Take(key, now) == 0.
func (l *Limiter) Allow(key string, now time.Time) bool { return l.Take(key, now) == 0 }

// prune drops keys whose next event would be allowed with a full burst.
func (l *Limiter) prune(now time.Time) {
	for k, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, k)
		}
	}
}

// evictOldest drops the key whose next event is due first: the one
// closest to a full burst again. O(MaxKeys), only when the set is full of
// busy keys.
func (l *Limiter) evictOldest() {
	var oldest string
	var first time.Time
	for k, t := range l.tat {
		if first.IsZero() || t.Before(first) {
			oldest, first = k, t
		}
	}
	delete(l.tat, oldest)
}

func (l *Limiter) maxKeys() int {
	if l.MaxKeys > 0 {
		return l.MaxKeys
	}
	return DefaultMaxKeys
}
