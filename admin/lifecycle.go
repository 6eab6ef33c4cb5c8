package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// The publish pipeline's half of retention and garbage collection (the
// sweeper is internal/lifecycle; the protocol is in docs/architecture.md,
// "Retention and garbage collection"). Both need a store implementing
// tenants.LifecycleStore; with another store they do nothing.

// defaultGarbageWait is how long PutBlob waits by default for a sweeper
// deleting a blob's objects before it answers 503.
const defaultGarbageWait = 30 * time.Second

// ErrGCBusy is what Config.GC returns when another node is sweeping.
var ErrGCBusy = errors.New("admin: another garbage collection is running")

// cancelGarbage runs before PutBlob writes a blob's objects: it cancels
// the blob's pending deletion, or waits (up to Config.GarbageWait) while
// a sweeper that claimed it deletes the objects, so that no object is
// deleted after an upload wrote it.
func (a *API) cancelGarbage(ctx context.Context, tenantID, hash string) error {
	ls, ok := a.store.(tenants.LifecycleStore)
	if !ok {
		return nil
	}
	deadline := time.Now().Add(a.cfg.GarbageWait)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		claimed, err := ls.CancelGarbage(ctx, tenantID, hash)
		if err != nil {
			return fmt.Errorf("admin: cancelling the deletion of blob %s: %w", hash, err)
		}
		if !claimed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("admin: blob %s is being deleted by the garbage collector: %w", hash, assets.ErrUnavailable)
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// makeRoom enforces the deployments quota before Deploy saves a
// deployment of site: when the site holds its tenant's Deployments
// already, the oldest that are neither live nor a git branch's are
// deleted; when none can be, the answer is 403 quota_exceeded.
// Concurrent deploys of one site may overshoot the quota by the deploys
// in flight; the next deploy and the sweeper's retention bring it back.
func (a *API) makeRoom(ctx context.Context, site tenants.Site) error {
	ls, ok := a.store.(tenants.LifecycleStore)
	if !ok {
		return nil
	}
	t, err := a.store.Tenant(ctx, site.TenantID)
	if err != nil {
		return lookupErr("tenant", site.TenantID, err)
	}
	limit := t.EffectiveLimits().Deployments
	if limit <= 0 {
		return nil
	}
	n, err := ls.CountDeployments(ctx, site.ID)
	if err != nil || n < limit {
		return err
	}
	deleted, err := ls.DeleteOldestDeployments(ctx, site.ID, n-limit+1)
	if err != nil {
		return fmt.Errorf("admin: making room for a deployment: %w", err)
	}
	if len(deleted) > 0 {
		a.log.InfoContext(ctx, "deployments quota: deleted the oldest deployments", "site", site.Name, "deleted", deleted)
		a.cfg.OnActivate(site) // the edge drops their preview routes
	}
	if used := n - len(deleted); used >= limit {
		return deploymentsQuotaError(site, used, limit)
	}
	return nil
}

// deploymentsQuotaError is the deployments quota's refusal, in the shape
// of every quota_exceeded answer.
func deploymentsQuotaError(site tenants.Site, used, limit int) error {
	return &httperr.Error{Status: http.StatusForbidden, Code: "quota_exceeded",
		Message: fmt.Sprintf("quota deployments exceeded: site %s holds %d deployments, the limit is %d, and none can be deleted (each is live or a git branch's); delete a branch or ask for a higher limit",
			site.Name, used, limit),
		Details: map[string]any{"quota": "deployments", "used": used, "limit": limit}}
}

// runGC serves POST /api/v1/gc {"dry_run": bool}: one garbage
// collection now (Config.GC), answered with its report.
func (a *API) runGC(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		DryRun bool `json:"dry_run"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	if a.cfg.GC == nil {
		return &httperr.Error{Status: http.StatusServiceUnavailable, Code: "gc_unavailable",
			Message: "this server runs no garbage collector"}
	}
	rep, err := a.cfg.GC(r.Context(), req.DryRun)
	if errors.Is(err, ErrGCBusy) {
		return &httperr.Error{Status: http.StatusConflict, Code: "gc_running",
			Message: "another node is collecting garbage now; retry later or ask for a dry run", Err: err}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
