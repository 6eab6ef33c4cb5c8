package logstream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// next returns the next queued event of s, failing when none is.
func next(t *testing.T, s *Subscription) (Event, int64) {
	t.Helper()
	e, dropped, ok := s.Next()
	if !ok {
		t.Fatal("no event queued")
	}
	return e, dropped
}

func TestPublishSubscribe(t *testing.T) {
	t.Parallel()
	h := New(4)
	a := h.Subscribe("a")
	b := h.Subscribe("b")
	defer b.Close()
	h.Publish("a", Event{Message: "one"})
	h.Publish("b", Event{Message: "other"})
	select {
	case <-a.Ready():
	default:
		t.Fatal("Ready not signalled after a publish")
	}
	if e, _ := next(t, a); e.Message != "one" {
		t.Fatalf("a got %q", e.Message)
	}
	if e, _ := next(t, b); e.Message != "other" {
		t.Fatalf("b got %q", e.Message)
	}
	if _, _, ok := a.Next(); ok {
		t.Fatal("a has a second event")
	}
	if !h.HasSubscribers("a") || h.HasSubscribers("c") {
		t.Fatal("HasSubscribers wrong")
	}
	a.Close()
	a.Close() // idempotent
	if h.HasSubscribers("a") {
		t.Fatal("still subscribed after Close")
	}
	h.Publish("a", Event{}) // no subscriber: no panic, no block
	if _, _, ok := a.Next(); ok {
		t.Fatal("a closed subscription got an event")
	}
	b.Close()
	if h.HasSubscribers("b") || h.count.Load() != 0 {
		t.Fatalf("subscribers left: count %d", h.count.Load())
	}
}

func TestSlowSubscriberDropsOldest(t *testing.T) {
	t.Parallel()
	h := New(3)
	s := h.Subscribe("s")
	defer s.Close()
	for i := 0; i < 10; i++ {
		h.Publish("s", Event{Message: fmt.Sprint(i)})
	}
	var got []string
	for e, _, ok := s.Next(); ok; e, _, ok = s.Next() {
		got = append(got, e.Message)
	}
	if fmt.Sprint(got) != "[7 8 9]" {
		t.Fatalf("kept %v, want the newest three", got)
	}
	if h.Dropped() != 7 || s.Dropped() != 7 {
		t.Fatalf("dropped = %d (hub), %d (subscription), want 7", h.Dropped(), s.Dropped())
	}
}

// A subscriber that does not read, then reads, is told how many events it
// lost, once, just before the first event after the gap; another
// subscriber that kept up is told nothing.
func TestDroppedCountPerSubscriber(t *testing.T) {
	t.Parallel()
	h := New(2)
	slow := h.Subscribe("s")
	defer slow.Close()
	fast := h.Subscribe("s")
	defer fast.Close()
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			h.Publish("s", Event{Message: fmt.Sprint(i)})
			if e, dropped := next(t, fast); e.Message != fmt.Sprint(i) || dropped != 0 {
				t.Fatalf("fast subscriber got %q dropped %d, want %d and nothing dropped", e.Message, dropped, i)
			}
		}
	}
	publish(0, 5) // slow keeps 3 and 4, loses 0, 1, 2
	type read struct {
		msg     string
		dropped int64
	}
	var got []read
	e, d := next(t, slow)
	got = append(got, read{e.Message, d})
	publish(5, 9) // slow holds 4 then loses it and 5, 6: keeps 7, 8
	for e, d, ok := slow.Next(); ok; e, d, ok = slow.Next() {
		got = append(got, read{e.Message, d})
	}
	want := []read{{"3", 3}, {"7", 3}, {"8", 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("slow subscriber read %v, want %v", got, want)
	}
	if slow.Dropped() != 6 || fast.Dropped() != 0 || h.Dropped() != 6 {
		t.Fatalf("dropped: slow %d, fast %d, hub %d; want 6, 0, 6", slow.Dropped(), fast.Dropped(), h.Dropped())
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	h := New(0)
	s := h.Subscribe("s")
	defer s.Close()
	go h.Publish("s", Event{Message: "later"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if e, _, err := s.Wait(ctx); err != nil || e.Message != "later" {
		t.Fatalf("Wait: %+v, %v", e, err)
	}
	cancel()
	if _, _, err := s.Wait(ctx); err != context.Canceled {
		t.Fatalf("Wait after cancel: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	h := New(16)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				h.Publish("s", Event{})
				h.HasSubscribers("s")
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				s := h.Subscribe("s")
				s.Next()
				s.Close()
			}
		}()
	}
	wg.Wait()
	if h.count.Load() != 0 || h.HasSubscribers("s") {
		t.Fatalf("subscribers left: count %d", h.count.Load())
	}
}

func BenchmarkPublishNoSubscribers(b *testing.B) {
	h := New(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.Publish("s", Event{Message: "x"})
	}
}

// BenchmarkHasSubscribers is the edge's check per request: nobody listens
// anywhere, or somebody listens to another site.
func BenchmarkHasSubscribers(b *testing.B) {
	h := New(0)
	b.Run("nobody", func(b *testing.B) {
		for b.Loop() {
			if h.HasSubscribers("s") {
				b.Fatal("subscribed")
			}
		}
	})
	s := h.Subscribe("other")
	defer s.Close()
	b.Run("another site", func(b *testing.B) {
		for b.Loop() {
			if h.HasSubscribers("s") {
				b.Fatal("subscribed")
			}
		}
	})
}
