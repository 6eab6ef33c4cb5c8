// Package logstream is the per-site live log stream: the edge publishes one
// event per request it answers (a worker invocation, or a request answered
// without the worker) and each line a worker logs; the admin API streams
// them to `pier logs` and the console as Server-Sent Events. Buffers are
// bounded and publishing never blocks, so a slow reader never slows the
// edge: its oldest undelivered events are dropped, and the subscriber is
// told how many it lost just before the next event it reads.
//
// It imports no other Pier package; hosting (publisher) and admin
// (subscriber) are handed the same *Hub by cmd/pier.
package logstream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Event kinds.
const (
	KindInvocation = "invocation" // one per worker invocation
	KindLog        = "log"        // a line the worker logged
	// KindRequest is one per request the edge answered without invoking
	// the worker: Outcome says how (OutcomeStatic, OutcomeRedirect, …).
	KindRequest = "request"
	// KindSubrequest is one per fetch a site's worker makes while the
	// platform runs an outbound worker (pier serve --outbound-worker):
	// Method, Path (the fetch's absolute URL), Status, DurationMs, CPUMs
	// (the outbound worker's), Outcome (OutcomeAnswered, OutcomeContinued
	// or OutcomeFailed) and Message.
	KindSubrequest = "subrequest"
	// KindDropped is never published: a stream says with it that its
	// reader was too slow and Dropped events were lost just before the
	// next one.
	KindDropped = "dropped"
)

// Outcomes of a request event (KindRequest). Invocation events carry the
// worker runtime's outcomes instead (ok, exception, exceededCpu, …).
const (
	OutcomeStatic           = "static"             // an asset (200, 206, 304, HEAD)
	OutcomeRewrite          = "rewrite"            // an asset through a _redirects 200 rule
	OutcomeFallback         = "fallback"           // not_found_handling: the single-page app's index
	OutcomeRedirect         = "redirect"           // a _redirects rule, html_handling or a canonical spelling
	OutcomeNotFound         = "not_found"          // 404, with or without the site's 404 page
	OutcomeMethodNotAllowed = "method_not_allowed" // 405: not GET or HEAD, and no worker
	OutcomeError            = "error"              // the edge failed (storage, workers off, a bad path); Message says which
	OutcomeCanceled         = "canceled"           // the client left before the answer
	OutcomeRateLimited      = "rate_limited"       // 429: over the site's request rate, or its tenant's workers over their CPU rate, on this node
	OutcomeClientError      = "client_error"       // the client did not send its request body in time (408) or completely (400); the worker did not run
)

// Outcomes of a subrequest event (KindSubrequest): what the operator's
// outbound worker decided.
const (
	// OutcomeAnswered: it answered the fetch itself (a refusal, a mock, a
	// cached copy); Status is its answer's.
	OutcomeAnswered = "answered"
	// OutcomeContinued: it let the fetch continue through the egress
	// policy to the network, maybe changed; Status is the upstream's, or 0
	// when the policy or the network refused it (Message says why).
	OutcomeContinued = "continued"
	// OutcomeFailed: it failed (a trap, its CPU limit, an invalid
	// answer); the site's worker saw a network error. Message says what
	// happened.
	OutcomeFailed = "failed"
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
	// KVReads, KVWrites and KVBytes are an invocation's KV operations
	// (gets and listings; puts, deletes and compare-and-swaps) and the
	// bytes they read and wrote.
	KVReads  int   `json:"kv_reads,omitempty"`
	KVWrites int   `json:"kv_writes,omitempty"`
	KVBytes  int64 `json:"kv_bytes,omitempty"`
	// BytesOut is the response body bytes written (request and
	// invocation events).
	BytesOut int64 `json:"bytes_out,omitempty"`
	// Outcome of an invocation: ok, exception, exceededCpu,
	// exceededSubrequests, exceededKvOps, exceededMemory,
	// responseTooLarge; of a
	// request: one of the Outcome constants.
	Outcome string `json:"outcome,omitempty"`
	// Message is the log line, or for a failed invocation or request
	// what went wrong, once and in words ("worker exceeded its CPU limit
	// of 50 ms").
	Message string `json:"message,omitempty"`
	// Dropped is, on a KindDropped event, how many events were lost.
	Dropped int64 `json:"dropped,omitempty"`
}

// DefaultBuffer is the events a subscriber may fall behind by before the
// oldest are dropped.
const DefaultBuffer = 1024

// Hub fans events out to the subscribers of each site. The zero value is
// not usable; call New. Safe for concurrent use.
type Hub struct {
	buffer int
	// count is the number of subscribers of every site: HasSubscribers
	// and Publish read it first, so that an edge nobody follows takes no
	// lock and looks nothing up.
	count   atomic.Int64
	mu      sync.RWMutex
	subs    map[string]map[*Subscription]struct{}
	dropped atomic.Int64
}

// New returns a hub whose subscribers each buffer up to buffer events
// (0 means DefaultBuffer).
func New(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, subs: make(map[string]map[*Subscription]struct{})}
}

// Buffer returns how many events each subscriber may fall behind by.
func (h *Hub) Buffer() int { return h.buffer }

// Publish delivers e to every current subscriber of site without blocking.
// A subscriber whose buffer is full loses its oldest event.
func (h *Hub) Publish(site string, e Event) {
	if h.count.Load() == 0 {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs[site] {
		if s.push(e) {
			h.dropped.Add(1)
		}
	}
}

// HasSubscribers reports whether anyone listens to site, so publishers can
// skip building events nobody reads. While nobody listens to any site it
// is one atomic load.
func (h *Hub) HasSubscribers(site string) bool {
	if h.count.Load() == 0 {
		return false
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs[site]) > 0
}

// Subscribe returns a subscription to the events of site from now on.
// Close it exactly when done (more calls are no-ops).
func (h *Hub) Subscribe(site string) *Subscription {
	s := &Subscription{
		hub:   h,
		site:  site,
		ready: make(chan struct{}, 1),
		ring:  make([]Event, h.buffer),
	}
	h.mu.Lock()
	if h.subs[site] == nil {
		h.subs[site] = make(map[*Subscription]struct{})
	}
	h.subs[site][s] = struct{}{}
	h.count.Add(1)
	h.mu.Unlock()
	return s
}

// Dropped returns how many events slow subscribers have lost, in total.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Subscription is one reader of a site's events: a bounded queue the hub
// fills and the reader drains with Next when Ready fires.
type Subscription struct {
	hub   *Hub
	site  string
	ready chan struct{} // capacity 1: "something was queued"
	once  sync.Once

	mu      sync.Mutex
	ring    []Event
	head, n int
	lost    int64 // dropped since the last Next that returned an event
	total   int64 // dropped over the subscription's life
	closed  bool
}

// push queues e, dropping the oldest queued event when full; it reports
// whether one was dropped.
func (s *Subscription) push(e Event) (dropped bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if s.n == len(s.ring) {
		s.ring[s.head] = Event{}
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		s.lost++
		s.total++
		dropped = true
	}
	s.ring[(s.head+s.n)%len(s.ring)] = e
	s.n++
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return dropped
}

// Ready receives a value when events were queued since it last did: the
// reader then calls Next until it reports nothing left. It is never
// closed.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Next returns the oldest queued event without waiting; ok is false when
// none is queued. dropped is how many events were lost, because the
// reader fell more than the buffer behind, between the event Next
// returned last and this one: a reader that tells its client must do so
// before e.
func (s *Subscription) Next() (e Event, dropped int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return Event{}, 0, false
	}
	e = s.ring[s.head]
	s.ring[s.head] = Event{}
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	dropped, s.lost = s.lost, 0
	return e, dropped, true
}

// Wait returns the next event like Next, waiting for one until ctx is
// done (then it returns ctx.Err()).
func (s *Subscription) Wait(ctx context.Context) (e Event, dropped int64, err error) {
	for {
		if e, dropped, ok := s.Next(); ok {
			return e, dropped, nil
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return Event{}, 0, ctx.Err()
		}
	}
}

// Dropped returns how many events this subscription has lost in all.
func (s *Subscription) Dropped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Close unsubscribes: nothing is queued any more. Safe to call more than
// once and concurrently with Publish.
func (s *Subscription) Close() {
	s.once.Do(func() {
		h := s.hub
		h.mu.Lock()
		delete(h.subs[s.site], s)
		if len(h.subs[s.site]) == 0 {
			delete(h.subs, s.site)
		}
		h.count.Add(-1)
		h.mu.Unlock()
		s.mu.Lock()
		s.closed = true
		s.ring, s.head, s.n = nil, 0, 0
		s.mu.Unlock()
	})
}
