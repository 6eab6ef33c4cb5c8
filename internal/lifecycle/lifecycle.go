// Package lifecycle owns deployment retention and blob garbage
// collection: the Sweeper deletes the deployments a site no longer keeps
// (Policy), collects the blobs of a tenant that no kept deployment and no
// upload session references, and deletes the objects queued for deletion
// (collected blobs, deleted sites' and tenants' objects) from the blob
// backend once their grace period is over. One sweeper runs at a time
// across nodes, through a lease in the store.
//
// The safety argument (why a blob a deployment or an upload references
// is never deleted) is in docs/architecture.md, "Retention and garbage
// collection"; the store's half of it is tenants.LifecycleStore.
//
// It imports tenants and assets; only cmd/ and tests import it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// Store is what the sweeper needs of the store.
type Store interface {
	tenants.Store
	tenants.LifecycleStore
}

// ErrLeaseHeld is returned by Run when another sweeper holds the lease.
var ErrLeaseHeld = errors.New("lifecycle: another node is sweeping")

// LeaseName is the store lease the sweeper holds while it sweeps.
const LeaseName = "gc"

// Defaults of the Sweeper's zero fields.
const (
	DefaultGrace    = time.Hour
	DefaultLeaseTTL = time.Minute
	DefaultPageSize = 1000
)

// Sweeper deletes what retention no longer keeps and what no one
// references. Set the fields before the first Run; it is safe for
// concurrent use (concurrent Runs of one process exclude each other
// through the lease like those of different nodes; dry runs need none).
type Sweeper struct {
	Store Store
	Blobs assets.Backend
	// Grace is how long a collected blob's objects (and a deleted site's
	// or tenant's) stay in the backend before they are deleted, for edges
	// and readers still serving a deployment they loaded, judged by the
	// store's clock. Default DefaultGrace; 0 needs ZeroGrace.
	Grace     time.Duration
	ZeroGrace bool // tests: delete queued objects at once
	// Holder names this sweeper in the lease (e.g. the node's host name
	// and process id). Default "pier".
	Holder   string
	LeaseTTL time.Duration    // default DefaultLeaseTTL; renewed every third of it while sweeping
	PageSize int              // rows per store page; default DefaultPageSize
	Logger   *slog.Logger     // default: discard
	Now      func() time.Time // retention's clock (KeepDays); default time.Now
	// OnSiteChanged is called after deployments of a site were deleted,
	// so caches drop its preview routes (cmd/pier: the followers'
	// SiteChanged; pgstore also notifies other nodes). Default: nothing.
	OnSiteChanged func(site tenants.Site)
}

// Report says what a Run deleted, or with DryRun what it would delete.
type Report struct {
	DryRun      bool           `json:"dry_run"`
	Deployments int            `json:"deployments"` // deployments deleted by retention
	Blobs       int            `json:"blobs"`       // blobs collected (index records deleted, objects queued)
	BlobBytes   int64          `json:"blob_bytes"`  // their bytes, variants included
	Objects     int            `json:"objects"`     // queued objects deleted from the backend (a blob counts once with its variants)
	Bytes       int64          `json:"bytes"`       // their bytes
	Tenants     []TenantReport `json:"tenants"`     // the tenants with anything deleted
	Started     time.Time      `json:"started_at"`
	Duration    time.Duration  `json:"duration_ns"`
}

// TenantReport is a Report's part for one tenant.
type TenantReport struct {
	TenantID    string `json:"tenant_id"`
	Tenant      string `json:"tenant,omitempty"` // its name; "" once deleted
	Deployments int    `json:"deployments"`
	Blobs       int    `json:"blobs"`
	BlobBytes   int64  `json:"blob_bytes"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sweeper) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Sweeper) grace() time.Duration {
	switch {
	case s.ZeroGrace:
		return 0
	case s.Grace > 0:
		return s.Grace
	}
	return DefaultGrace
}

func (s *Sweeper) pageSize() int {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return DefaultPageSize
}

func (s *Sweeper) leaseTTL() time.Duration {
	if s.LeaseTTL > 0 {
		return s.LeaseTTL
	}
	return DefaultLeaseTTL
}

func (s *Sweeper) holder() string {
	if s.Holder != "" {
		return s.Holder
	}
	return "pier"
}

// Run sweeps once: retention and collection tenant by tenant, then the
// queued objects whose grace period is over. A real run holds the lease
// (ErrLeaseHeld if another sweeper does) and stops when it loses it; a
// dry run changes nothing and needs no lease.
func (s *Sweeper) Run(ctx context.Context, dryRun bool) (Report, error) {
	rep := &report{Report: Report{DryRun: dryRun, Started: s.now(), Tenants: []TenantReport{}}, byID: map[string]int{}}
	if !dryRun {
		release, lctx, err := s.lease(ctx)
		if err != nil {
			return rep.Report, err
		}
		defer release()
		ctx = lctx
	}
	err := s.sweepTenants(ctx, rep)
	if err == nil {
		err = s.sweepGarbage(ctx, rep)
	}
	rep.Duration = s.now().Sub(rep.Started)
	if err != nil {
		return rep.Report, fmt.Errorf("lifecycle: sweeping: %w", err)
	}
	return rep.Report, nil
}

// lease takes the lease and keeps renewing it; the context it returns
// ends when the lease is lost. release stops renewing and frees it.
func (s *Sweeper) lease(ctx context.Context) (release func(), lctx context.Context, err error) {
	ttl := s.leaseTTL()
	ok, err := s.Store.AcquireLease(ctx, LeaseName, s.holder(), ttl)
	if err != nil {
		return nil, nil, fmt.Errorf("lifecycle: taking the lease: %w", err)
	}
	if !ok {
		return nil, nil, ErrLeaseHeld
	}
	lctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if ok, err := s.Store.RenewLease(lctx, LeaseName, s.holder(), ttl); err == nil && !ok {
					cancel(errors.New("lifecycle: lost the lease to another node"))
					return
				}
			}
		}
	}()
	release = func() {
		close(done)
		cancel(nil)
		// Freed with a context of its own: the sweep's may have ended.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if err := s.Store.ReleaseLease(rctx, LeaseName, s.holder()); err != nil {
			s.log().Warn("gc: releasing the lease", "err", err)
		}
	}
	return release, lctx, nil
}

// report accumulates a Report.
type report struct {
	Report
	byID map[string]int // tenant ID → index in Tenants
}

func (r *report) tenant(id, name string) *TenantReport {
	i, ok := r.byID[id]
	if !ok {
		i = len(r.Tenants)
		r.byID[id] = i
		r.Tenants = append(r.Tenants, TenantReport{TenantID: id, Tenant: name})
	}
	return &r.Tenants[i]
}

// sweepTenants runs retention and collection for every tenant, a page
// of tenants at a time.
func (s *Sweeper) sweepTenants(ctx context.Context, rep *report) error {
	req := tenants.PageRequest{Limit: min(s.pageSize(), tenants.MaxPageLimit)}
	for {
		page, next, err := s.Store.TenantsPage(ctx, tenants.TenantFilter{}, req)
		if err != nil {
			return err
		}
		for _, t := range page {
			if err := s.sweepTenant(ctx, t, rep); err != nil && !errors.Is(err, tenants.ErrNotFound) {
				return fmt.Errorf("tenant %s: %w", t.Name, err)
			}
		}
		if next == "" {
			return nil
		}
		req.Cursor = next
	}
}
