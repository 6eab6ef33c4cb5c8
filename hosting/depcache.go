package hosting

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"

	"github.com/pierhq/pier/tenants"
)

// depSlot is how a route holds a loaded deployment: the pointer is cleared
// when the deployment cache evicts it, so routes never pin more than
// MaxDeployments loaded deployments in memory.
type depSlot struct {
	p atomic.Pointer[deployment]
}

// depCache holds loaded deployments keyed by digest, bounded by a CLOCK
// (second chance) policy: a hit sets a reference bit without locking; an
// insertion into a full cache sweeps the ring clearing bits and evicts the
// first entry not referenced since the last sweep.
type depCache struct {
	max int
	// onEvict, if set, is called (with mu held) with the digest of each
	// evicted deployment; it must not call back into the cache.
	onEvict func([sha256.Size]byte)

	mu      sync.Mutex
	slots   map[[sha256.Size]byte]*depSlot
	ring    []*depSlot
	hand    int
	loading map[[sha256.Size]byte]*depCall
}

type depCall struct {
	done chan struct{}
	slot *depSlot
	err  error
}

func newDepCache(max int) *depCache {
	return &depCache{
		max:     max,
		slots:   make(map[[sha256.Size]byte]*depSlot),
		loading: make(map[[sha256.Size]byte]*depCall),
	}
}

// get returns the slot holding the loaded form of d for tenantID,
// compiling it unless an identical deployment is already loaded.
// Concurrent loads of one digest are coalesced.
func (c *depCache) get(tenantID string, d *tenants.Deployment) (*depSlot, error) {
	digest := digestDeployment(tenantID, d)
	c.mu.Lock()
	if s, ok := c.slots[digest]; ok {
		if dep := s.p.Load(); dep != nil {
			dep.ref.Store(true)
			c.mu.Unlock()
			return s, nil
		}
	}
	if call, ok := c.loading[digest]; ok {
		c.mu.Unlock()
		<-call.done
		return call.slot, call.err
	}
	call := &depCall{done: make(chan struct{})}
	c.loading[digest] = call
	c.mu.Unlock()

	dep, err := compile(tenantID, d, digest)

	c.mu.Lock()
	delete(c.loading, digest)
	if err == nil {
		call.slot = c.insertLocked(dep)
	}
	call.err = err
	c.mu.Unlock()
	close(call.done)
	return call.slot, call.err
}

func (c *depCache) insertLocked(dep *deployment) *depSlot {
	s := &depSlot{}
	s.p.Store(dep)
	dep.ref.Store(true)
	if len(c.ring) < c.max {
		c.ring = append(c.ring, s)
		c.slots[dep.digest] = s
		return s
	}
	for {
		old := c.ring[c.hand]
		od := old.p.Load()
		if od != nil && od.ref.Load() {
			od.ref.Store(false)
			c.hand = (c.hand + 1) % len(c.ring)
			continue
		}
		if od != nil {
			delete(c.slots, od.digest)
			old.p.Store(nil)
			if c.onEvict != nil {
				c.onEvict(od.digest)
			}
		}
		c.ring[c.hand] = s
		c.hand = (c.hand + 1) % len(c.ring)
		c.slots[dep.digest] = s
		return s
	}
}

// len returns the number of loaded deployments.
func (c *depCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.slots)
}
