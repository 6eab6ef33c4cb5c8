// Package logstream is the per-site live log stream: the edge publishes one
// event per worker invocation and each line a worker logs; the admin API
// streams them to `pier logs` as Server-Sent Events. Buffers are bounded
// and publishing never blocks, so a slow reader never slows the edge: its
// oldest undelivered events are dropped and counted.
//
// It imports no other Pier package; hosting (publisher) and admin
// (subscriber) are handed the same *Hub by cmd/pier.
package logstream

import (
	"sync"
	"sync/atomic"
	"time"
)

// Event kinds.
const (
	KindInvocation = "invocation" // one per worker invocation
	KindLog        = "log"        // a line the worker logged
)

// Event is one entry of a site's stream.
type Event struct {
	Time        time.Time `json:"time"`
	Site        string    `json:"site"`
	Kind        string    `json:"kind"`
	Method      string    `json:"method,omitempty"`
	Path        string    `json:"path,omitempty"`
	Status      int       `json:"status,omitempty"`
	DurationMs  float64   `json:"duration_ms,omitempty"`
	CPUMs       float64   `json:"cpu_ms,omitempty"`
	SubRequests int       `json:"subrequests,omitempty"`
	// Outcome of an invocation: ok, exception, exceededCpu,
	// exceededSubrequests, exceededMemory, responseTooLarge.
	Outcome string `json:"outcome,omitempty"`
	// Message is the log line, or for a failed invocation what went
	// wrong, once and in words ("worker exceeded its CPU limit of 50 ms").
	Message string `json:"message,omitempty"`
}

// DefaultBuffer is the events a subscriber may fall behind by before the
// oldest are dropped.
const DefaultBuffer = 1024

// Hub fans events out to the subscribers of each site. The zero value is
// not usable; call New. Safe for concurrent use.
type Hub struct {
	buffer  int
	mu      sync.RWMutex
	subs    map[string]map[*subscriber]struct{}
	dropped atomic.Int64
}

type subscriber struct {
	ch chan Event
}

// New returns a hub whose subscribers each buffer up to buffer events
// (0 means DefaultBuffer).
func New(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, subs: make(map[string]map[*subscriber]struct{})}
}

// Publish delivers e to every current subscriber of site without blocking.
// A subscriber whose buffer is full loses its oldest event.
func (h *Hub) Publish(site string, e Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs[site] {
		for {
			select {
			case s.ch <- e:
			default:
				// Full: drop the oldest and try again.
				select {
				case <-s.ch:
					h.dropped.Add(1)
				default:
				}
				continue
			}
			break
		}
	}
}

// HasSubscribers reports whether anyone listens to site, so publishers can
// skip building events nobody reads.
func (h *Hub) HasSubscribers(site string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs[site]) > 0
}

// Subscribe returns the events of site from now on. cancel unsubscribes
// and closes the channel; call it exactly once.
func (h *Hub) Subscribe(site string) (events <-chan Event, cancel func()) {
	s := &subscriber{ch: make(chan Event, h.buffer)}
	h.mu.Lock()
	if h.subs[site] == nil {
		h.subs[site] = make(map[*subscriber]struct{})
	}
	h.subs[site][s] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[site], s)
			if len(h.subs[site]) == 0 {
				delete(h.subs, site)
			}
			h.mu.Unlock()
			close(s.ch)
		})
	}
}

// Dropped returns how many events slow subscribers have lost.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }
