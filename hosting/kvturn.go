package hosting

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// kvTurnHold is how long a request whose compare-and-swap lost keeps the
// key's turn for its retry, at most. A retry reads the key again and asks
// again, microseconds apart; a worker that does something else in
// between gives the turn back at once (kvTurnKeeper.drop, keepFor), so this only
// bounds a guest that computes between the two.
const kvTurnHold = 50 * time.Millisecond

// kvTurns gives a node's compare-and-swaps of one key (namespace ID, key)
// turns, one at a time, and lets a request whose compare-and-swap lost
// keep the turn for its retry (docs/workers.md §2, "KV").
//
// Without turns, a read-modify-write loop (the SDKs' Update) is exact but
// may not finish: every round of compare-and-swaps that read the same
// value has one winner, and a request that keeps losing spends its plan's
// kvOps on retries (8 clients incrementing one counter on a loaded 2-core
// machine lost a request now and then). With them, a request loses at
// most once to another request of its node: the winner's write is the
// one it reads again, and no other compare-and-swap of the key on the
// node runs before its retry. Writes from other nodes still make it
// retry, as they must. Turns cost nothing in throughput: only one
// compare-and-swap of a key can succeed per committed value anyway.
//
// A turn is a key's: only requests writing the same key of the same
// namespace (the same tenant's) wait for one.
type kvTurns struct {
	hold time.Duration // kvTurnHold; tests change it

	mu    sync.Mutex
	lines map[kvCacheKey]*kvLine
}

// kvLine is a key's turn and who holds or waits for it.
type kvLine struct {
	free chan struct{} // holds the turn while nobody does
	refs int           // holders and waiters, guarded by kvTurns.mu
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
	return &kvTurns{hold: kvTurnHold, lines: map[kvCacheKey]*kvLine{}}
}

// take waits for the turn of (ns, key), or for ctx to end.
func (t *kvTurns) take(ctx context.Context, ns, key string) (*kvTurn, error) {
	k := kvCacheKey{ns, key}
	t.mu.Lock()
	line := t.lines[k]
	if line == nil {
		line = &kvLine{free: make(chan struct{}, 1)}
		line.free <- struct{}{}
		t.lines[k] = line
	}
	line.refs++
	t.mu.Unlock()
	select {
	case <-line.free:
		return &kvTurn{turns: t, k: k, line: line}, nil
	case <-ctx.Done():
		t.leave(k, line)
		return nil, ctx.Err()
	}
}

// leave forgets a holder or waiter of line, and the line with its last.
func (t *kvTurns) leave(k kvCacheKey, line *kvLine) {
	t.mu.Lock()
	if line.refs--; line.refs == 0 {
		delete(t.lines, k)
	}
	t.mu.Unlock()
}

// release gives the turn to the next waiter; the second call does nothing.
// It is the kept turn's timer; the request gives a turn back with giveBack.
func (h *kvTurn) release() {
	if !h.done.CompareAndSwap(false, true) {
		return
	}
	h.line.free <- struct{}{}
	h.turns.leave(h.k, h.line)
}

// giveBack releases the turn from the request that holds it.
func (h *kvTurn) giveBack() {
	if h.timer != nil {
		h.timer.Stop()
	}
	h.release()
}

// keep holds the turn for a retry, for kvTurns.hold at most.
func (h *kvTurn) keep() {
	h.timer = time.AfterFunc(h.turns.hold, h.release)
}

// reclaim takes a kept turn back for the retry, reporting false if it was
// given away meanwhile.
func (h *kvTurn) reclaim() bool {
	return h.timer.Stop() && !h.done.Load()
}

// kvTurnKeeper is a request's kept turn, if any. A guest's host calls come
// one at a time, so only the timer runs beside the request.
type kvTurnKeeper struct {
	kept *kvTurn
}

// forCAS returns the turn for a compare-and-swap of (ns, key): the one kept
// from a lost compare-and-swap of that key, else a new one, waited for.
func (p *kvTurnKeeper) forCAS(ctx context.Context, t *kvTurns, ns, key string) (*kvTurn, error) {
	if h := p.kept; h != nil {
		p.kept = nil
		if h.k == (kvCacheKey{ns, key}) && h.reclaim() {
			return h, nil
		}
		h.giveBack()
	}
	return t.take(ctx, ns, key)
}

// lost keeps h for the request's retry.
func (p *kvTurnKeeper) lost(h *kvTurn) {
	h.keep()
	p.kept = h
}

// keepFor gives a kept turn back unless it is (ns, key)'s: the request
// reads a key, and only a read of the key it lost is its retry.
func (p *kvTurnKeeper) keepFor(ns, key string) {
	if h := p.kept; h != nil && h.k != (kvCacheKey{ns, key}) {
		p.kept = nil
		h.giveBack()
	}
}

// drop gives a kept turn back: the request does something else, or is over.
func (p *kvTurnKeeper) drop() {
	if h := p.kept; h != nil {
		p.kept = nil
		h.giveBack()
	}
}
