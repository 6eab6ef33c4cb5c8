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

// SiteLister lists sites and tenants; tenants.Store satisfies it.
type SiteLister interface {
	Sites(ctx context.Context, tenantID string) ([]tenants.Site, error)
	Tenants(ctx context.Context, f tenants.TenantFilter) ([]tenants.Tenant, error)
}

// SiteSetConfig configures a SiteSet; its fields mean what DomainSet's
// do (Refresh, MaxStale, Timeout, Now), with the same defaults.
type SiteSetConfig = DomainSetConfig

// SiteSet is an in-memory copy of the platform's site names and their
// tenants, leaving out disabled tenants' sites, for decisions that must not
// wait on the database: whether <site>.<domain> may get a certificate on
// demand during a TLS handshake, and which tenant's order budget pays.
// Lookups answer from memory and say no when unsure (never loaded, or the
// last successful load is older than MaxStale). Run reloads it every
// Refresh and soon after Changed. It is safe for concurrent use.
type SiteSet struct {
	list    SiteLister
	cfg     SiteSetConfig
	set     atomic.Pointer[siteSnapshot]
	kick    chan struct{}
	mu      sync.Mutex // serialises Refresh and Removed
	version uint64     // bumped by Changed and Removed; a load started before is not stored
}

type siteSnapshot struct {
	tenant map[string]string // site name → tenant ID
	loaded time.Time
}

// NewSiteSet returns an empty set (it knows no site until the first
// successful Refresh) over list.
func NewSiteSet(list SiteLister, cfg SiteSetConfig) *SiteSet {
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
	return &SiteSet{list: list, cfg: cfg, kick: make(chan struct{}, 1)}
}

// TenantOf returns the tenant of site name (lowercase) and whether the
// site exists and its tenant is not disabled, from memory only.
func (s *SiteSet) TenantOf(name string) (string, bool) {
	snap := s.set.Load()
	if snap == nil || s.cfg.Now().Sub(snap.loaded) > s.cfg.MaxStale {
		return "", false
	}
	t, ok := snap.tenant[name]
	return t, ok
}

// Has reports whether site name (lowercase) exists and its tenant is not
// disabled, from memory only.
func (s *SiteSet) Has(name string) bool {
	_, ok := s.TenantOf(name)
	return ok
}

// Refresh reloads the set from the lister.
func (s *SiteSet) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	s.mu.Lock()
	v := s.version
	s.mu.Unlock()
	ts, err := s.list.Tenants(ctx, tenants.TenantFilter{})
	if err != nil {
		return fmt.Errorf("hosting: loading tenants: %w", err)
	}
	sites, err := s.list.Sites(ctx, "")
	if err != nil {
		return fmt.Errorf("hosting: loading sites: %w", err)
	}
	disabled := make(map[string]bool)
	for _, t := range ts {
		if t.Disabled {
			disabled[t.ID] = true
		}
	}
	m := make(map[string]string, len(sites))
	for _, site := range sites {
		if !disabled[site.TenantID] {
			m[strings.ToLower(site.Name)] = site.TenantID
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != v {
		// A change raced with this load, which may predate it: keep what
		// is known and let the kicked reload decide.
		return nil
	}
	s.set.Store(&siteSnapshot{tenant: m, loaded: s.cfg.Now()})
	return nil
}

// Changed tells the set that site name may have been created, deleted,
// or its tenant disabled or enabled: the set is reloaded soon by Run. It
// stays in the set meanwhile (a deployment going live must not interrupt
// its site); use Removed when it is known to be gone.
func (s *SiteSet) Changed(name string) {
	s.mu.Lock()
	s.version++
	s.mu.Unlock()
	s.wake()
}

// Removed takes site name out of the set at once (it was deleted, or its
// tenant disabled) and reloads the set soon.
func (s *SiteSet) Removed(name string) {
	s.mu.Lock()
	s.version++
	if snap := s.set.Load(); snap != nil {
		if _, present := snap.tenant[name]; present {
			m := make(map[string]string, len(snap.tenant))
			for k, v := range snap.tenant {
				if k != name {
					m[k] = v
				}
			}
			s.set.Store(&siteSnapshot{tenant: m, loaded: snap.loaded})
		}
	}
	s.mu.Unlock()
	s.wake()
}

func (s *SiteSet) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run reloads the set now, then every Refresh and after each Changed or
// Removed, until ctx ends. Failures are reported to onError (may be nil).
func (s *SiteSet) Run(ctx context.Context, onError func(error)) {
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
