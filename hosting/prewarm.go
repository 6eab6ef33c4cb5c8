package hosting

import (
	"context"
	"fmt"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// SiteLister lists every site; tenants.Store satisfies it.
type SiteLister interface {
	Sites(ctx context.Context, tenantID string) ([]tenants.Site, error)
}

// PrewarmWorkers compiles (from the on-disk caches after a restart) the
// worker of every live deployment until ctx ends, under its tenant's
// current limits, so the first request after a restart does not pay for
// it. It returns how many it compiled; a worker that cannot be read or
// compiled is logged and skipped (its first request reports why). Bound
// ctx: a platform with many workers still starts, and the rest compile on
// first use.
func (e *Edge) PrewarmWorkers(ctx context.Context, list SiteLister) (int, error) {
	if e.runtime == nil {
		return 0, nil
	}
	sites, err := list.Sites(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("hosting: prewarming workers: listing sites: %w", err)
	}
	n := 0
	for _, site := range sites {
		if ctx.Err() != nil {
			break
		}
		if site.ActiveDeployment == "" {
			continue
		}
		d, err := e.reg.Deployment(ctx, site.ID, site.ActiveDeployment)
		if err != nil || d.Worker == "" {
			continue
		}
		t, err := e.reg.Tenant(ctx, d.TenantID)
		if err != nil {
			continue
		}
		wasm, err := e.blobs.Bytes(ctx, assets.Key(d.TenantID, d.Worker, ""))
		if err != nil {
			e.log.Warn("prewarming worker: reading module", "site", site.Name, "err", err)
			continue
		}
		if err := e.runtime.Prewarm(ctx, wasm, workerLimits(t.EffectiveLimits())); err != nil {
			e.log.Warn("prewarming worker", "site", site.Name, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// SiteChanged makes a change of site name visible at once (Invalidate):
// the edge is a tenants.ChangeFollower.
func (e *Edge) SiteChanged(name string) { e.Invalidate(name) }

// DomainChanged makes a change of custom hostname host visible at once
// (InvalidateHost).
func (e *Edge) DomainChanged(host string) { e.InvalidateHost(host) }

// Resync drops the KV cache and what the edge knows of KV namespaces'
// owners: KV changes may have been missed. Cached routes need nothing:
// after missed changes they revalidate within Config.RouteTTL on their
// own.
func (e *Edge) Resync() {
	if e.kvCache != nil {
		e.kvCache.reset()
	}
	e.kvOwners.Clear()
}

var _ tenants.ChangeFollower = (*Edge)(nil)
