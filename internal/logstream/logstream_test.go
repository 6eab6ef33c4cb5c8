package logstream

import (
	"fmt"
	"sync"
	"testing"
)

func TestPublishSubscribe(t *testing.T) {
	t.Parallel()
	h := New(4)
	a, cancelA := h.Subscribe("a")
	b, cancelB := h.Subscribe("b")
	defer cancelB()
	h.Publish("a", Event{Message: "one"})
	h.Publish("b", Event{Message: "other"})
	if e := <-a; e.Message != "one" {
		t.Fatalf("a got %q", e.Message)
	}
	if e := <-b; e.Message != "other" {
		t.Fatalf("b got %q", e.Message)
	}
	if !h.HasSubscribers("a") || h.HasSubscribers("c") {
		t.Fatal("HasSubscribers wrong")
	}
	cancelA()
	cancelA() // idempotent
	if _, ok := <-a; ok {
		t.Fatal("channel not closed after cancel")
	}
	if h.HasSubscribers("a") {
		t.Fatal("still subscribed after cancel")
	}
	h.Publish("a", Event{}) // no subscriber: no panic, no block
}

func TestSlowSubscriberDropsOldest(t *testing.T) {
	t.Parallel()
	h := New(3)
	ch, cancel := h.Subscribe("s")
	defer cancel()
	for i := 0; i < 10; i++ {
		h.Publish("s", Event{Message: fmt.Sprint(i)})
	}
	var got []string
	for len(ch) > 0 {
		got = append(got, (<-ch).Message)
	}
	if fmt.Sprint(got) != "[7 8 9]" {
		t.Fatalf("kept %v, want the newest three", got)
	}
	if h.Dropped() != 7 {
		t.Fatalf("dropped = %d, want 7", h.Dropped())
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
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				ch, cancel := h.Subscribe("s")
				select {
				case <-ch:
				default:
				}
				cancel()
			}
		}()
	}
	wg.Wait()
}

func BenchmarkPublishNoSubscribers(b *testing.B) {
	h := New(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.Publish("s", Event{Message: "x"})
	}
}
