package hosting

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/tenants"
)

// ActiveDomainLister lists the hostnames of every active custom domain;
// tenants.Store satisfies it.
type ActiveDomainLister interface {
	ActiveDomains(ctx context.Context) ([]string, error)
}

// DomainSetConfig configures a DomainSet. A zero field means its default.
type DomainSetConfig struct {
	// Refresh is how often Run reloads the set. Default 30s.
	Refresh time.Duration
	// MaxStale is how long the last loaded set is trusted when reloading
	// fails (the database is unreachable); after it IsActive says no to
	// every host until a reload succeeds. Default 10m.
	MaxStale time.Duration
	// Timeout bounds one reload. Default 10s.
	Timeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of DomainSetConfig.
const (
	DefaultDomainRefresh  = 30 * time.Second
	DefaultDomainMaxStale = 10 * time.Minute
)

// DomainSet is an in-memory copy of the set of active custom hostnames,
// for decisions that must not wait on the database — certmagic's
// on-demand DecisionFunc: IsActive answers from memory and says no when
// unsure (never loaded, or the last successful load is older than
// MaxStale). It is reloaded by Run every Refresh and soon after Changed.
// It is safe for concurrent use.
type DomainSet struct {
	list    ActiveDomainLister
	cfg     DomainSetConfig
	set     atomic.Pointer[domainSnapshot]
	kick    chan struct{}
	mu      sync.Mutex // serialises Refresh and removals
	version uint64     // bumped by Changed; a load started before is not trusted for removed hosts
}

type domainSnapshot struct {
	hosts  map[string]struct{}
	loaded time.Time
}

// NewDomainSet returns an empty set (IsActive says no until the first
// successful Refresh) over list.
func NewDomainSet(list ActiveDomainLister, cfg DomainSetConfig) *DomainSet {
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
	return &DomainSet{list: list, cfg: cfg, kick: make(chan struct{}, 1)}
}

// IsActive reports whether host (any case, with or without a trailing
// dot) is an active custom domain, from memory only.
func (s *DomainSet) IsActive(host string) bool {
	snap := s.set.Load()
	if snap == nil || s.cfg.Now().Sub(snap.loaded) > s.cfg.MaxStale {
		return false
	}
	h, ok := normalizeHost(host)
	if !ok {
		return false
	}
	_, ok = snap.hosts[h]
	return ok
}

// Refresh reloads the set from the lister.
func (s *DomainSet) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	s.mu.Lock()
	v := s.version
	s.mu.Unlock()
	hosts, err := s.list.ActiveDomains(ctx)
	if err != nil {
		return fmt.Errorf("hosting: loading active domains: %w", err)
	}
	m := make(map[string]struct{}, len(hosts))
	for _, h := range hosts {
		m[strings.ToLower(h)] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != v {
		// A change raced with this load: it may predate the change, so
		// keep what is known and let the kicked reload decide.
		return nil
	}
	s.set.Store(&domainSnapshot{hosts: m, loaded: s.cfg.Now()})
	return nil
}

// Changed tells the set that host started or stopped being active, and
// the set is reloaded soon by Run. When the lister can look up one host
// (ActiveDomain, as tenants.Store does), host is added or removed at once
// from that answer — so a deleted domain is refused immediately and a
// hostname moving between sites is never dropped; otherwise, or if the
// lookup fails, it is removed at once and the reload brings it back.
func (s *DomainSet) Changed(host string) {
	h, ok := normalizeHost(host)
	active := false
	if look, can := s.list.(activeDomainLookup); can && ok {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		_, err := look.ActiveDomain(ctx, h)
		cancel()
		active = err == nil
	}
	s.mu.Lock()
	s.version++
	if snap := s.set.Load(); snap != nil && ok {
		if _, present := snap.hosts[h]; present != active {
			m := make(map[string]struct{}, len(snap.hosts)+1)
			for k := range snap.hosts {
				if k != h {
					m[k] = struct{}{}
				}
			}
			if active {
				m[h] = struct{}{}
			}
			s.set.Store(&domainSnapshot{hosts: m, loaded: snap.loaded})
		}
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// activeDomainLookup is the single-host lookup Changed uses when the
// lister has it: nil error when host is an active custom domain.
type activeDomainLookup interface {
	ActiveDomain(ctx context.Context, host string) (tenants.Domain, error)
}

// Run reloads the set now, then every Refresh and after each Changed,
// until ctx ends. Failures are reported to onError (may be nil).
func (s *DomainSet) Run(ctx context.Context, onError func(error)) {
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
