package tlspolicy

import (
	"context"
	"fmt"
	"strings"

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
	*memSet[string] // site name → tenant ID
}

// NewSiteSet returns an empty set (it knows no site until the first
// successful Refresh) over list.
func NewSiteSet(list SiteLister, cfg SiteSetConfig) *SiteSet {
	load := func(ctx context.Context) (map[string]string, error) {
		ts, err := list.Tenants(ctx, tenants.TenantFilter{})
		if err != nil {
			return nil, fmt.Errorf("tlspolicy: loading tenants: %w", err)
		}
		sites, err := list.Sites(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("tlspolicy: loading sites: %w", err)
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
		return m, nil
	}
	return &SiteSet{memSet: newMemSet(load, cfg)}
}

// TenantOf returns the tenant of site name (lowercase) and whether the
// site exists and its tenant is not disabled, from memory only.
func (s *SiteSet) TenantOf(name string) (string, bool) {
	return s.get(name)
}

// Has reports whether site name (lowercase) exists and its tenant is not
// disabled, from memory only.
func (s *SiteSet) Has(name string) bool {
	_, ok := s.get(name)
	return ok
}

// Changed tells the set that site name may have been created, deleted,
// or its tenant disabled or enabled: the set is reloaded soon by Run. It
// stays in the set meanwhile (a deployment going live must not interrupt
// its site); use Removed when it is known to be gone.
func (s *SiteSet) Changed(name string) {
	s.changed()
}

// Removed takes site name out of the set at once (it was deleted, or its
// tenant disabled) and reloads the set soon.
func (s *SiteSet) Removed(name string) {
	s.put(name, "", false)
}
