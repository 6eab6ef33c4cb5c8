package tlspolicy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// memSet is the core of DomainSet and SiteSet: an in-memory copy of a map
// loaded from the database, for decisions that must not wait on it. get
// answers from memory and says no when unsure (never loaded, or the last
// successful load is older than MaxStale); Refresh reloads it, Run reloads
// it every Refresh and soon after a change. Safe for concurrent use.
type memSet[V any] struct {
	load    func(ctx context.Context) (map[string]V, error)
	cfg     DomainSetConfig
	snap    atomic.Pointer[memSnapshot[V]]
	kick    chan struct{}
	mu      sync.Mutex // serialises stores
	version uint64     // bumped by every change; a load started before one is not stored
	// removed, when set, is called with every key a reload or put takes
	// out of the set, after the change is visible (outside mu).
	removed func(key string)
}

type memSnapshot[V any] struct {
	m      map[string]V
	loaded time.Time
}

func newMemSet[V any](load func(context.Context) (map[string]V, error), cfg DomainSetConfig) *memSet[V] {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultDomainRefresh
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = DefaultDomainMaxStale
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultLookupTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &memSet[V]{load: load, cfg: cfg, kick: make(chan struct{}, 1)}
}

// get returns key's value from memory.
func (s *memSet[V]) get(key string) (V, bool) {
	snap := s.snap.Load()
	if snap == nil || s.cfg.Now().Sub(snap.loaded) > s.cfg.MaxStale {
		var zero V
		return zero, false
	}
	v, ok := snap.m[key]
	return v, ok
}

// Refresh reloads the set.
func (s *memSet[V]) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	s.mu.Lock()
	v := s.version
	s.mu.Unlock()
	m, err := s.load(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.version != v {
		// A change raced with this load, which may predate it: keep what
		// is known and let the kicked reload decide.
		s.mu.Unlock()
		return nil
	}
	old := s.snap.Swap(&memSnapshot[V]{m: m, loaded: s.cfg.Now()})
	s.mu.Unlock()
	if s.removed != nil && old != nil {
		for k := range old.m {
			if _, ok := m[k]; !ok {
				s.removed(k)
			}
		}
	}
	return nil
}

// changed records a change the next reload must see, and kicks it.
func (s *memSet[V]) changed() {
	s.mu.Lock()
	s.version++
	s.mu.Unlock()
	s.wake()
}

// put records a change of key at once (present with v, or absent) and
// kicks a reload. The loaded time is kept: a change does not make a stale
// set fresh.
func (s *memSet[V]) put(key string, v V, present bool) {
	s.mu.Lock()
	s.version++
	dropped := false
	if snap := s.snap.Load(); snap != nil {
		_, had := snap.m[key]
		dropped = had && !present
		if had || present {
			m := make(map[string]V, len(snap.m)+1)
			for k, x := range snap.m {
				if k != key {
					m[k] = x
				}
			}
			if present {
				m[key] = v
			}
			s.snap.Store(&memSnapshot[V]{m: m, loaded: snap.loaded})
		}
	}
	s.mu.Unlock()
	if dropped && s.removed != nil {
		s.removed(key)
	}
	s.wake()
}

func (s *memSet[V]) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run reloads the set now, then every Refresh and after each change,
// until ctx ends. Failures are reported to onError (may be nil).
func (s *memSet[V]) Run(ctx context.Context, onError func(error)) {
	t := time.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}
