package worker

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Fair sharing of the node between tenants.
//
// Compiled guest code holds its P (GOMAXPROCS slot) while it computes and
// has no Go safe point. With as many spinning guests as Ps, nothing else
// runs: not the Go check of their CPU budgets (only the kernel backstop
// stops them), not the static requests of other tenants. So at most
// Config.MaxRunning guests compute at once (default GOMAXPROCS−1, at least
// one): a request's guest runs only while it holds a run slot, and gives
// the slot back while it waits on the host (a fetch, an asset, next). A
// free slot goes to a guest resuming after such a wait first, then to the
// waiting request whose tenant, then whose site, holds the fewest slots,
// then to the longest waiting: a site or tenant with many requests queued
// cannot keep others out, and another tenant's request waits at most for
// one running guest's budget. A request that waits longer than
// Config.QueueTimeout for a slot is refused (OutcomeBusy, 503 worker_busy).

// errBusy: no run slot (or no room for the request body) in time.
var errBusy = errors.New("worker: the node is busy running other workers")

// Owner is whom a Worker's guest executions are charged to for fair
// sharing of the node: at most Config.MaxRunning guests run at once, and
// free run slots go first to the tenants, then the sites, holding the
// fewest. The edge passes the site's tenant and name. A zero Owner makes
// the Worker its own tenant and site.
type Owner struct {
	Tenant string
	Site   string
}

// anonymousOwners numbers the Workers created with a zero Owner.
var anonymousOwners atomic.Uint64

// withDefaults gives a zero Owner a name of its own.
func (o Owner) withDefaults() Owner {
	if o.Tenant == "" && o.Site == "" {
		id := "\x00worker-" + strconv.FormatUint(anonymousOwners.Add(1), 10)
		return Owner{Tenant: id, Site: id}
	}
	return o
}

// scheduler hands out the run slots. Its methods are safe for concurrent
// use.
type scheduler struct {
	slots   int
	timeout time.Duration

	mu      sync.Mutex
	running int
	seq     uint64            // counts grants
	tenants map[string]*share // tenants holding or waiting for a slot
	sites   map[string]*share // sites holding or waiting for a slot
	queue   []*runWaiter      // in arrival order
}

// share is what one tenant or site holds and waits for.
type share struct {
	held, waiting int
	last          uint64 // scheduler.seq of its latest grant
}

// runWaiter is a guest waiting for a run slot.
type runWaiter struct {
	owner   Owner
	tenant  *share
	site    *share
	resume  bool          // resuming after a wait on the host: goes first
	ready   chan struct{} // closed when granted
	granted bool          // guarded by scheduler.mu
}

func newScheduler(slots int, timeout time.Duration) *scheduler {
	return &scheduler{slots: slots, timeout: timeout, tenants: map[string]*share{}, sites: map[string]*share{}}
}

// enter takes a run slot for owner, waiting for one at most the
// scheduler's timeout (errBusy) or until ctx is done.
func (s *scheduler) enter(ctx context.Context, o Owner) error {
	wt := s.wait(o, false)
	if wt == nil {
		return nil
	}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	var err error
	select {
	case <-wt.ready:
		return nil
	case <-timer.C:
		err = errBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	if s.cancel(wt) {
		return err
	}
	return nil // granted meanwhile: keep it
}

// reenter takes a run slot back for a guest resuming after a wait on the
// host. It goes ahead of new requests and does not time out: every guest
// holding a slot gives it back within its CPU budget.
func (s *scheduler) reenter(o Owner) {
	if wt := s.wait(o, true); wt != nil {
		<-wt.ready
	}
}

// wait grants a slot at once (nil) or queues a waiter.
func (s *scheduler) wait(o Owner, resume bool) *runWaiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, st := s.shareLocked(s.tenants, o.Tenant), s.shareLocked(s.sites, o.Site)
	if s.running < s.slots && len(s.queue) == 0 {
		s.grantLocked(t, st)
		return nil
	}
	t.waiting++
	st.waiting++
	wt := &runWaiter{owner: o, tenant: t, site: st, resume: resume, ready: make(chan struct{})}
	s.queue = append(s.queue, wt)
	return wt
}

// cancel removes a waiter that gave up; it reports false if the waiter
// was granted a slot meanwhile (the caller then holds it).
func (s *scheduler) cancel(wt *runWaiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wt.granted {
		return false
	}
	for i, q := range s.queue {
		if q == wt {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			break
		}
	}
	wt.tenant.waiting--
	wt.site.waiting--
	s.forgetLocked(wt.owner)
	return true
}

// leave gives owner's slot back and hands free slots to waiters.
func (s *scheduler) leave(o Owner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.tenants[o.Tenant].held--
	s.sites[o.Site].held--
	s.forgetLocked(o)
	for s.running < s.slots && len(s.queue) > 0 {
		i := s.pickLocked()
		wt := s.queue[i]
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
		wt.tenant.waiting--
		wt.site.waiting--
		s.grantLocked(wt.tenant, wt.site)
		wt.granted = true
		close(wt.ready)
	}
	if len(s.queue) == 0 && cap(s.queue) > 1024 {
		s.queue = nil // a burst is over: let its backing array go
	}
}

// pickLocked chooses the next waiter: a resuming guest first, then the
// one whose tenant, then whose site, holds the fewest slots and was
// served longest ago, then the longest waiting. Tenants with requests
// waiting thus take turns, however many each has queued.
func (s *scheduler) pickLocked() int {
	better := func(a, b *runWaiter) bool {
		if a.resume != b.resume {
			return a.resume
		}
		for _, p := range [2][2]*share{{a.tenant, b.tenant}, {a.site, b.site}} {
			x, y := p[0], p[1]
			if x == y {
				continue
			}
			if x.held != y.held {
				return x.held < y.held
			}
			if x.last != y.last {
				return x.last < y.last
			}
		}
		return false
	}
	best := 0
	for i := 1; i < len(s.queue); i++ {
		if better(s.queue[i], s.queue[best]) {
			best = i
		}
	}
	return best
}

// shareLocked returns the share of key in m, creating it.
func (s *scheduler) shareLocked(m map[string]*share, key string) *share {
	sh := m[key]
	if sh == nil {
		sh = &share{}
		m[key] = sh
	}
	return sh
}

// forgetLocked drops the shares of o that hold and wait for nothing.
func (s *scheduler) forgetLocked(o Owner) {
	if t := s.tenants[o.Tenant]; t != nil && t.held == 0 && t.waiting == 0 {
		delete(s.tenants, o.Tenant)
	}
	if st := s.sites[o.Site]; st != nil && st.held == 0 && st.waiting == 0 {
		delete(s.sites, o.Site)
	}
}

func (s *scheduler) grantLocked(t, st *share) {
	s.running++
	s.seq++
	t.held++
	t.last = s.seq
	st.held++
	st.last = s.seq
}

// bodyBudget bounds the request bodies buffered ahead of running a guest:
// Config.MaxBufferedBodies bytes on the node, a quarter of that per site,
// so that clients sending bodies slowly hold no instance and cannot make
// the node hold MaxRequestBody per connection. Its methods are safe for
// concurrent use.
type bodyBudget struct {
	max, perSite int64

	mu     sync.Mutex
	used   int64
	bySite map[string]int64
}

func newBodyBudget(max int64) *bodyBudget {
	return &bodyBudget{max: max, perSite: max / 4, bySite: map[string]int64{}}
}

// take reserves n bytes for site; false if the node or the site is at its
// bound.
func (b *bodyBudget) take(site string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max || b.bySite[site]+n > b.perSite {
		return false
	}
	b.used += n
	b.bySite[site] += n
	return true
}

// give releases n bytes of site.
func (b *bodyBudget) give(site string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.bySite[site] -= n; b.bySite[site] <= 0 {
		delete(b.bySite, site)
	}
}
