package hosting

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// How long a request whose compare-and-swap lost keeps the key's turn.
// A retry reads the key again at once (kvTurnGrace, from the loss to that
// read's answer) and then asks again (kvTurnHold, from that answer); a
// request that does not read the key again (it claimed a key that was
// taken, and answers so) gives the turn back after kvTurnGrace at the
// latest, and at once when it fetches, calls next, answers or ends
// (kvTurnKeeper.drop). Both are wall-clock time, which includes waiting
// for a run slot; a retry whose kept turn went waits again at the head of
// the line.
const (
	kvTurnGrace = time.Millisecond
	kvTurnHold  = 10 * time.Millisecond
)

// kvTurns gives a node's compare-and-swaps of one key (namespace ID, key)
// turns, one at a time in order of arrival, and lets a request whose
// compare-and-swap lost keep the turn for its retry (docs/workers.md §2,
// "KV").
//
// Without turns, a read-modify-write loop (the SDKs' Update) is exact but
// may not finish: every round of compare-and-swaps that read the same
// value has one winner, and a request that keeps losing spends its plan's
// kvOps on retries (8 clients incrementing one counter on a loaded 2-core
// machine lost a request now and then). With them, a request that makes
// only KV calls between its lost compare-and-swap and its retry loses at
// most once to the compare-and-swaps of its node: the winner's write is
// what it reads again, and no other compare-and-swap of the key on the
// node runs before its retry. One that gave its turn back (it fetched or
// called next in between, or took longer than kvTurnHold) waits again at
// the head of the line, behind the holder only. Writes from other nodes, and plain puts
// and deletes, can still make it retry, as they must. Turns cost no
// throughput: only one compare-and-swap of a key can succeed per committed
// value anyway.
//
// A turn is a key's: only requests writing the same key of the same
// namespace (the same tenant's) wait for one.
type kvTurns struct {
	grace, hold time.Duration // kvTurnGrace, kvTurnHold; tests change them

	mu    sync.Mutex
	lines map[kvCacheKey]*kvLine // the keys whose turn is held
}

// kvLine is a key's turn: held, and who waits for it, first those whose
// compare-and-swap lost.
type kvLine struct {
	queue []kvWaiter
	first int // queue[:first] are retries
}

type kvWaiter struct {
	ready chan struct{} // receives the turn
	retry bool
}

// kvTurn is a turn held.
type kvTurn struct {
	turns *kvTurns
	k     kvCacheKey
	line  *kvLine
	done  atomic.Bool
	timer *time.Timer // kept after a lost compare-and-swap; nil otherwise
}

func newKVTurns() *kvTurns {
	return &kvTurns{grace: kvTurnGrace, hold: kvTurnHold, lines: map[kvCacheKey]*kvLine{}}
}

// take waits for the turn of (ns, key), or for ctx to end. A retry (the
// request lost a compare-and-swap of the key and gave its turn back) waits
// ahead of first attempts.
func (t *kvTurns) take(ctx context.Context, ns, key string, retry bool) (*kvTurn, error) {
	k := kvCacheKey{ns, key}
	t.mu.Lock()
	line := t.lines[k]
	if line == nil {
		line = &kvLine{}
		t.lines[k] = line
		t.mu.Unlock()
		return &kvTurn{turns: t, k: k, line: line}, nil
	}
	w := kvWaiter{ready: make(chan struct{}, 1), retry: retry}
	if retry {
		line.queue = slices.Insert(line.queue, line.first, w)
		line.first++
	} else {
		line.queue = append(line.queue, w)
	}
	t.mu.Unlock()
	select {
	case <-w.ready:
		return &kvTurn{turns: t, k: k, line: line}, nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	i := slices.IndexFunc(line.queue, func(q kvWaiter) bool { return q.ready == w.ready })
	if i >= 0 {
		line.queue = slices.Delete(line.queue, i, i+1)
		if i < line.first {
			line.first--
		}
	}
	t.mu.Unlock()
	if i < 0 { // the turn came as ctx ended: pass it on
		t.pass(k, line)
	}
	return nil, ctx.Err()
}

// pass gives the turn of line to its first waiter, or frees it.
func (t *kvTurns) pass(k kvCacheKey, line *kvLine) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(line.queue) == 0 {
		delete(t.lines, k)
		return
	}
	w := line.queue[0]
	line.queue = slices.Delete(line.queue, 0, 1)
	if w.retry {
		line.first--
	}
	w.ready <- struct{}{} // buffered: never blocks
}

// release passes the turn on; the second call does nothing. It is the
// kept turn's timer; the request gives a turn back with giveBack.
func (h *kvTurn) release() {
	if h.done.CompareAndSwap(false, true) {
		h.turns.pass(h.k, h.line)
	}
}

// giveBack releases the turn from the request that holds it.
func (h *kvTurn) giveBack() {
	if h.timer != nil {
		h.timer.Stop()
	}
	h.release()
}

// keep holds the turn for a retry, for kvTurns.grace at first.
func (h *kvTurn) keep() {
	if h.timer == nil {
		h.timer = time.AfterFunc(h.turns.grace, h.release)
	} else {
		h.timer.Reset(h.turns.grace)
	}
}

// reclaim takes a kept turn back for the retry, reporting false if it was
// given away meanwhile.
func (h *kvTurn) reclaim() bool {
	return h.timer.Stop() && !h.done.Load()
}

// kvTurnKeeper is a request's kept turn, if any, and the key of its last
// lost compare-and-swap. A guest's host calls come one at a time, so only
// the timer runs beside the request.
type kvTurnKeeper struct {
	kept   *kvTurn    // lost's turn, kept for the retry
	lost   kvCacheKey // ns "": none
	reread bool       // lost was read since it was lost: the next compare-and-swap of it is a retry
}

// forCAS returns the turn for a compare-and-swap of (ns, key). A retry (the
// request lost one of the key and read it since) gets the turn it kept,
// or waits ahead of first attempts if the turn went meanwhile. Anything
// else waits in line: a request that asks again without reading (a lock
// contender spinning on "create if absent") gets no head start over the
// lock's holder.
func (p *kvTurnKeeper) forCAS(ctx context.Context, t *kvTurns, ns, key string) (*kvTurn, error) {
	k := kvCacheKey{ns, key}
	retry := p.lost == k && p.reread
	if h := p.kept; h != nil {
		p.kept = nil
		if h.k == k && retry && h.reclaim() {
			return h, nil
		}
		h.giveBack()
	}
	return t.take(ctx, ns, key, retry)
}

// settle ends a compare-and-swap's turn: kept for the retry if it lost,
// given back otherwise.
func (p *kvTurnKeeper) settle(h *kvTurn, lost bool) {
	p.reread = false
	if !lost {
		p.lost = kvCacheKey{}
		h.giveBack()
		return
	}
	p.lost = h.k
	h.keep()
	p.kept = h
}

// read notes a read of (ns, key) that returned: if the request lost a
// compare-and-swap of that key, its next one is a retry, and the first such
// read holds a kept turn for kvTurns.hold from now.
func (p *kvTurnKeeper) read(ns, key string) {
	if p.reread || p.lost != (kvCacheKey{ns, key}) {
		return
	}
	p.reread = true
	if h := p.kept; h != nil && h.timer.Stop() {
		h.timer.Reset(h.turns.hold)
	}
}

// drop gives a kept turn back: the request fetches, calls next, answers,
// or is over.
func (p *kvTurnKeeper) drop() {
	if p == nil {
		return
	}
	if h := p.kept; h != nil {
		p.kept = nil
		h.giveBack()
	}
}
