package hosting

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/hosting/worker"
)

// numShards spreads the route table over independently locked maps so the
// read-mostly hot path does not contend on one lock.
const numShards = 64

// routeValue is an immutable answer for one host. slot is nil for a host
// that is not configured (a negative entry) and for a broken one.
type routeValue struct {
	slot    *depSlot
	broken  bool // the deployment cannot be loaded: answer 503
	preview bool
	siteID  string
	depID   string
	expires time.Time // revalidate in the background after this
	// usage is the site's counters (nil for a negative value); its site
	// field is the site's name.
	usage *siteUsage
	// tenant is the tenant's name; plan and limits are its, for the
	// site's worker.
	tenant string
	plan   string
	limits worker.Limits
	// rate is the tenant's request rate for the site (ratelimit.go).
	rate rateLimit
	// worker remembers the site worker its requests used last (nil for
	// a negative value), so that the next ones skip the node's worker
	// table (acquireWorker). Shared by copies of the value.
	worker *workerSlot
}

func (v *routeValue) negative() bool { return v.slot == nil && !v.broken }

// siteName returns the name of the site an entry currently routes to
// ("" for none): its parsed site, or for a custom hostname the site its
// value was looked up for.
func (e *routeEntry) siteName() string {
	if e.route.site != "" {
		return e.route.site
	}
	if v := e.val.Load(); v != nil && v.usage != nil {
		return v.usage.site
	}
	return ""
}

// routeEntry is the cache cell of one host. Its value is replaced
// atomically; loads (the first one and background revalidations) are
// coalesced through call.
type routeEntry struct {
	host  string
	route hostRoute
	val   atomic.Pointer[routeValue]

	mu   sync.Mutex // guards call
	call *routeCall

	negative bool // accounted as a negative entry; guarded by the shard lock
}

type routeCall struct {
	done chan struct{}
	val  *routeValue
	err  error
}

type routeShard struct {
	mu       sync.RWMutex
	m        map[string]*routeEntry
	negative int      // entries whose value is negative
	_        [64]byte // keep shards' locks on separate cache lines
}

// routeTable maps canonical hosts to route entries. Negative entries are
// bounded per shard.
type routeTable struct {
	seed        maphash.Seed
	maxNegative int // per shard
	shards      [numShards]routeShard
}

func newRouteTable(maxNegative int) *routeTable {
	t := &routeTable{seed: maphash.MakeSeed()}
	t.maxNegative = max(1, (maxNegative+numShards-1)/numShards)
	for i := range t.shards {
		t.shards[i].m = make(map[string]*routeEntry)
	}
	return t
}

func (t *routeTable) shard(host string) *routeShard {
	return &t.shards[maphash.String(t.seed, host)%numShards]
}

// get returns the entry of host, or nil.
func (t *routeTable) get(host string) *routeEntry {
	s := t.shard(host)
	s.mu.RLock()
	e := s.m[host]
	s.mu.RUnlock()
	return e
}

// getOrCreate returns the entry of host, creating an empty one.
func (t *routeTable) getOrCreate(host string, r hostRoute) *routeEntry {
	s := t.shard(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[host]; e != nil {
		return e
	}
	e := &routeEntry{host: strings.Clone(host), route: r}
	e.route.site = strings.Clone(r.site)
	e.route.deployment = strings.Clone(r.deployment)
	if r.custom != "" {
		e.route.custom = e.host
	}
	s.m[e.host] = e
	return e
}

// store publishes v as e's value if e is still in the table, keeping the
// negative accounting and bound. It returns false if e was removed
// (Invalidate ran meanwhile); the value is then only given to the requests
// already waiting for it.
func (t *routeTable) store(e *routeEntry, v *routeValue, now time.Time) bool {
	s := t.shard(e.host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[e.host] != e {
		return false
	}
	e.val.Store(v)
	neg := v.negative()
	if neg != e.negative {
		e.negative = neg
		if neg {
			s.negative++
		} else {
			s.negative--
		}
	}
	if neg && s.negative > t.maxNegative {
		t.evictLocked(s, e, now)
	}
	return true
}

// evictLocked brings the shard's negative entries down to three quarters
// of the bound: expired ones first, then any (but keep).
func (t *routeTable) evictLocked(s *routeShard, keep *routeEntry, now time.Time) {
	target := t.maxNegative * 3 / 4
	for pass := 0; pass < 2 && s.negative > target; pass++ {
		for h, e := range s.m {
			if s.negative <= target {
				break
			}
			if !e.negative || e == keep {
				continue
			}
			if pass == 0 {
				if v := e.val.Load(); v != nil && !now.After(v.expires) {
					continue
				}
			}
			delete(s.m, h)
			s.negative--
		}
	}
}

// remove drops e if it is still the entry of its host.
func (t *routeTable) remove(e *routeEntry) {
	s := t.shard(e.host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[e.host] == e {
		delete(s.m, e.host)
		if e.negative {
			s.negative--
		}
	}
}

// removeHost drops the entry of host, if any.
func (t *routeTable) removeHost(host string) {
	s := t.shard(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[host]; e != nil {
		delete(s.m, host)
		if e.negative {
			s.negative--
		}
	}
}

// removeSite drops the entries of site: its production host, every
// preview host of it and the custom hostnames routed to it.
func (t *routeTable) removeSite(site string) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for h, e := range s.m {
			if e.route.site == site || e.route.custom != "" && e.siteName() == site {
				delete(s.m, h)
				if e.negative {
					s.negative--
				}
			}
		}
		s.mu.Unlock()
	}
}

// counts returns the number of entries and of negative entries.
func (t *routeTable) counts() (all, negative int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		all += len(s.m)
		negative += s.negative
		s.mu.RUnlock()
	}
	return all, negative
}

// begin starts a load of e unless one is in flight; it reports the call
// and whether the caller must run it.
func (e *routeEntry) begin() (*routeCall, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.call != nil {
		return e.call, false
	}
	e.call = &routeCall{done: make(chan struct{})}
	return e.call, true
}

// finish completes the call begun by begin.
func (e *routeEntry) finish(c *routeCall, v *routeValue, err error) {
	c.val, c.err = v, err
	e.mu.Lock()
	e.call = nil
	e.mu.Unlock()
	close(c.done)
}

// wait waits for c or ctx.
func (c *routeCall) wait(ctx context.Context) (*routeValue, error) {
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
