package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		burst int
		at    []time.Duration // offsets from t0 of successive Takes
		want  []time.Duration // what each Take returns
	}{
		{"burst then wait", 3, []time.Duration{0, 0, 0, 0}, []time.Duration{0, 0, 0, 10 * time.Second}},
		{"one per interval after the burst", 2, []time.Duration{0, 0, 10 * time.Second, 10 * time.Second}, []time.Duration{0, 0, 0, 10 * time.Second}},
		{"refused takes are not recorded", 1, []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second}, []time.Duration{0, 9 * time.Second, 8 * time.Second, 0}},
		{"idle refills the burst", 2, []time.Duration{0, 0, time.Minute, time.Minute, time.Minute}, []time.Duration{0, 0, 0, 0, 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &Limiter{Interval: 10 * time.Second, Burst: tt.burst}
			for i, off := range tt.at {
				if got := l.Take("k", t0.Add(off)); got != tt.want[i] {
					t.Fatalf("take %d at +%v = %v, want %v", i, off, got, tt.want[i])
				}
			}
		})
	}
}

func TestLimiterKeysAreIndependent(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := &Limiter{Interval: time.Second, Burst: 1}
	if !l.Allow("a", now) || !l.Allow("b", now) {
		t.Fatal("first event of each key refused")
	}
	if l.Allow("a", now) {
		t.Fatal("second event of a allowed within the interval")
	}
}

func TestLimiterBoundsKeys(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := &Limiter{Interval: time.Minute, Burst: 1, MaxKeys: 10}
	for i := range 10 {
		if !l.Allow(strconv.Itoa(i), now.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("key %d refused below MaxKeys", i)
		}
	}
	// A new key is never locked out by a full set: the key due first
	// (0) makes room.
	if !l.Allow("new", now.Add(10*time.Second)) {
		t.Fatal("a new key was refused because the set is full")
	}
	if len(l.tat) != 10 {
		t.Fatalf("tracking %d keys, want 10", len(l.tat))
	}
	if _, ok := l.tat["0"]; ok {
		t.Error("the key due first was kept, another evicted")
	}
	if l.Allow("5", now.Add(10*time.Second)) {
		t.Error("a busy key lost its limit when another was added")
	}
	// Once the old keys are idle they are dropped to make room.
	if !l.Allow("later", now.Add(2*time.Minute)) {
		t.Fatal("a new key was refused after the others went idle")
	}
	if len(l.tat) != 1 {
		t.Fatalf("tracking %d keys after pruning, want 1", len(l.tat))
	}
}

func TestLimiterZeroValueRefuses(t *testing.T) {
	t.Parallel()
	var l Limiter
	if l.Allow("k", time.Now()) {
		t.Fatal("zero Limiter allowed an event")
	}
}

func BenchmarkTake(b *testing.B) {
	l := &Limiter{Interval: time.Millisecond, Burst: 1 << 30}
	now := time.Now()
	for b.Loop() {
		l.Take("key", now)
	}
}
