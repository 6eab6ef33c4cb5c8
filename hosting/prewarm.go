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
// it. The first start of them it also starts, as their first request
// would (the site's route, its worker and one instance through the
// guest's start-up: a standard-Go guest's runtime takes about 10 ms
// there), so that request finds them ready; each keeps its instance's
// memory until the worker is retired or evicted. It returns how many it
// compiled; a worker that cannot be read, compiled or started is logged
// and skipped (its first request reports why). Bound ctx: a platform with
// many workers still starts, and the rest compile on first use.
func (e *Edge) PrewarmWorkers(ctx context.Context, list SiteLister, start int) (int, error) {
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
		if n <= start {
			if err := e.startWorker(ctx, site.Name); err != nil {
				e.log.Warn("starting worker", "site", site.Name, "err", err)
			}
		}
	}
	return n, nil
}

// startWorker creates the worker of site name's live deployment, with its
// first instance, through the route cache as a request to the site's
// host would: the site's next request finds both.
func (e *Edge) startWorker(ctx context.Context, name string) error {
	_, v, err := e.route(ctx, name+e.suffix, hostRoute{site: name}, e.now())
	if err != nil {
		return err
	}
	if v.slot == nil || v.usage == nil {
		return nil
	}
	d := v.slot.p.Load()
	if d == nil || d.worker == "" {
		return nil
	}
	sw, _, err := e.acquireWorker(ctx, name, d, v)
	if err != nil {
		return err
	}
	e.releaseWorker(sw)
	return nil
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
