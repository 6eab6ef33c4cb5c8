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
// Compiled guest code holds its P (GOMAXPROCS slot) while it computes,
// leaving it only at its interrupt checks (every millisecond). With as
// many spinning guests as Ps, static requests of other tenants would wait
// for those checks. So at most
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

	// seen is the latest clock (mono) a guest started at: admitCPU's
	// reading when it admits (the clock only moves on).
	seen atomic.Int64

	mu      sync.Mutex
	running int
	seq     uint64            // counts grants
	tenants map[string]*share // tenants with a live Worker
	sites   map[string]*share // sites with a live Worker
	queue   []*runWaiter      // in arrival order
}

// share is what one tenant or site holds and waits for; guarded by
// scheduler.mu, except that admitCPU reads the CPU rate's fields without
// it (they are written with it).
type share struct {
	held, waiting int
	last          uint64 // scheduler.seq of its latest grant
	refs          int    // Workers charged to it

	// A tenant's CPU rate (Limits.CPURate; 0: none) and its bucket, as
	// the theoretical arrival time of GCRA in mono ns: the tenant is
	// in debt up to cpuTAT, and may start a request while that is at
	// most cpuBurst ahead of now.
	cpuRate atomic.Int64 // a time.Duration
	cpuTAT  atomic.Int64
}

// cpuBurst is how far ahead of now a tenant's CPU debt may run: a
// tenant may use a second's worth of its CPU rate at once.
const cpuBurst = time.Second

// runShare is a Worker's place in the scheduler: the shares of its
// tenant and its site, looked up once when the Worker is created.
type runShare struct{ tenant, site *share }

// runWaiter is a guest waiting for a run slot.
type runWaiter struct {
	rs      runShare
	resume  bool          // resuming after a wait on the host: goes first
	ready   chan struct{} // closed when granted
	granted bool          // guarded by scheduler.mu
}

func newScheduler(slots int, timeout time.Duration) *scheduler {
	return &scheduler{slots: slots, timeout: timeout, tenants: map[string]*share{}, sites: map[string]*share{}}
}

// register returns the shares of o for a new Worker, whose tenant's CPU
// rate becomes cpuRate; unregister them when it closes.
func (s *scheduler) register(o Owner, cpuRate time.Duration) runShare {
	s.mu.Lock()
	defer s.mu.Unlock()
	get := func(m map[string]*share, key string) *share {
		sh := m[key]
		if sh == nil {
			sh = &share{}
			m[key] = sh
		}
		sh.refs++
		return sh
	}
	rs := runShare{tenant: get(s.tenants, o.Tenant), site: get(s.sites, o.Site)}
	rs.tenant.cpuRate.Store(int64(cpuRate))
	return rs
}

// admitCPU checks the tenant's CPU rate for a request about to start: it
// returns the request's hold (the zero hold when the tenant has no rate),
// which holds nothing until the guest starts, or how long until the
// tenant may start one. It takes no lock: begin (or cpuHold.start)
// checks again, with it, as the guest starts.
func (s *scheduler) admitCPU(rs runShare, budget time.Duration) (h cpuHold, retry time.Duration) {
	sh := rs.tenant
	if sh.cpuRate.Load() <= 0 {
		return cpuHold{}, 0
	}
	// The tenant is in debt up to tat: less ahead of now than of any
	// earlier reading, so one that admits needs no reading of its own.
	tat := sh.cpuTAT.Load()
	if time.Duration(tat-s.seen.Load()) > cpuBurst {
		if ahead := time.Duration(tat - int64(mono())); ahead > cpuBurst {
			return cpuHold{}, ahead - cpuBurst
		}
	}
	return cpuHold{s: s, sh: sh, budget: budget}, 0
}

// cpuHold is a request's hold on its tenant's CPU rate: its whole budget
// while its guest may compute (from start), only the CPU it used while it
// waits for an instance or a turn, or on the host (fetch, KV, an asset),
// and once it ended. So requests queued or waiting on I/O hold none of the
// rate, however many there are; at most the guests computing at once
// (Config.MaxRunning) hold a budget they may not use. Its methods are
// nil-safe (no rate: nothing to hold; see ref) and called from the
// request's goroutine.
type cpuHold struct {
	s      *scheduler
	sh     *share // nil: the tenant has no rate
	budget time.Duration
	held   time.Duration
}

// ref is h as the pointer its methods take: nil for the zero hold.
func (h *cpuHold) ref() *cpuHold {
	if h.sh == nil {
		return nil
	}
	return h
}

// start takes the whole budget as the guest is about to compute for the
// first time, unless the tenant's bucket went past its burst since
// admitCPU (its other requests computed meanwhile): then it returns how
// long until the tenant may start one, and the guest must not run. at is
// the clock (mono) read just before.
func (h *cpuHold) start(at time.Duration) (retry time.Duration) {
	if h == nil {
		return 0
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.startLocked(at)
}

// startLocked is start with the scheduler's lock held.
func (h *cpuHold) startLocked(at time.Duration) (retry time.Duration) {
	if h == nil {
		return 0
	}
	now, tat, rate := int64(at), h.sh.cpuTAT.Load(), time.Duration(h.sh.cpuRate.Load())
	if ahead := time.Duration(tat - now); ahead > cpuBurst {
		return ahead - cpuBurst
	}
	h.sh.cpuTAT.Store(max(tat, now) + debt(h.budget, rate) - debt(h.held, rate))
	h.held = h.budget
	return 0
}

// set moves the hold to d, charging or giving back the difference (never
// refused: the request is under way). A charge counts from now at the
// earliest, as GCRA's admission does: an idle tenant's past is not a
// credit that absorbs it.
func (h *cpuHold) set(d time.Duration) {
	if h == nil || d == h.held {
		return
	}
	h.s.mu.Lock()
	h.setLocked(d)
	h.s.mu.Unlock()
}

// setLocked is set with the scheduler's lock held.
func (h *cpuHold) setLocked(d time.Duration) {
	if h == nil || d == h.held {
		return
	}
	tat, rate := h.sh.cpuTAT.Load(), time.Duration(h.sh.cpuRate.Load())
	if d > h.held {
		tat = max(tat, int64(mono()))
	}
	h.sh.cpuTAT.Store(tat + debt(d, rate) - debt(h.held, rate))
	h.held = d
}

// wait holds only used (the CPU so far) while the guest waits on the host.
func (h *cpuHold) wait(used time.Duration) { h.set(used) }

// resume holds the whole budget again when the guest computes again.
func (h *cpuHold) resume() {
	if h != nil {
		h.set(h.budget)
	}
}

// settle holds what the request used, once it ended.
func (h *cpuHold) settle(used time.Duration) { h.set(used) }

// debt is the wall-clock time that cpu of guest execution takes out of
// a rate of cpuRate per second, in ns.
func debt(cpu, cpuRate time.Duration) int64 {
	if cpuRate <= 0 {
		return 0 // the rate was lifted while the request ran
	}
	return int64(float64(cpu) * float64(time.Second) / float64(cpuRate))
}

// unregister drops a closed Worker's shares: a share no Worker uses any
// more is forgotten (requests still running keep their pointer).
func (s *scheduler) unregister(o Owner, rs runShare) {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := func(m map[string]*share, key string, sh *share) {
		if sh.refs--; sh.refs == 0 && m[key] == sh {
			delete(m, key)
		}
	}
	drop(s.tenants, o.Tenant, rs.tenant)
	drop(s.sites, o.Site, rs.site)
}

// begin takes a run slot for a request's guest about to compute for the
// first time and, with it, the request's whole CPU budget from its
// tenant's rate (cpuHold.start): in one turn of the lock when a slot is
// free, as it mostly is. It returns the clock (mono) read as the slot was
// taken, or how long until the tenant may start a guest (retry > 0: no
// slot is held then), or enter's error.
func (s *scheduler) begin(ctx context.Context, rs runShare, hold *cpuHold) (now, retry time.Duration, err error) {
	now = mono()
	s.seen.Store(int64(now))
	s.mu.Lock()
	if s.running < s.slots && len(s.queue) == 0 {
		if retry = hold.startLocked(now); retry == 0 {
			s.grantLocked(rs)
		}
		s.mu.Unlock()
		return now, retry, nil
	}
	s.mu.Unlock()
	if err := s.enter(ctx, rs); err != nil {
		return 0, 0, err
	}
	now = mono()
	s.seen.Store(int64(now))
	if retry = hold.start(now); retry > 0 {
		s.leave(rs, nil, 0)
	}
	return now, retry, nil
}

// enter takes a run slot, waiting for one at most the scheduler's timeout
// (errBusy) or until ctx is done.
func (s *scheduler) enter(ctx context.Context, rs runShare) error {
	wt := s.wait(rs, false)
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
func (s *scheduler) reenter(rs runShare) {
	if wt := s.wait(rs, true); wt != nil {
		<-wt.ready
	}
}

// wait grants a slot at once (nil) or queues a waiter.
func (s *scheduler) wait(rs runShare, resume bool) *runWaiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running < s.slots && len(s.queue) == 0 {
		s.grantLocked(rs)
		return nil
	}
	rs.tenant.waiting++
	rs.site.waiting++
	wt := &runWaiter{rs: rs, resume: resume, ready: make(chan struct{})}
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
	wt.rs.tenant.waiting--
	wt.rs.site.waiting--
	return true
}

// leave gives a slot back, moves hold (nil: none) to d in the same turn
// of the lock (cpuHold.set), and hands free slots to waiters.
func (s *scheduler) leave(rs runShare, hold *cpuHold, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hold.setLocked(d)
	s.running--
	rs.tenant.held--
	rs.site.held--
	for s.running < s.slots && len(s.queue) > 0 {
		i := s.pickLocked()
		wt := s.queue[i]
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
		wt.rs.tenant.waiting--
		wt.rs.site.waiting--
		s.grantLocked(wt.rs)
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
		for _, p := range [2][2]*share{{a.rs.tenant, b.rs.tenant}, {a.rs.site, b.rs.site}} {
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

func (s *scheduler) grantLocked(rs runShare) {
	s.running++
	s.seq++
	rs.tenant.held++
	rs.tenant.last = s.seq
	rs.site.held++
	rs.site.last = s.seq
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
