package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// Policy is a site's retention policy: Keep says which deployments stay.
type Policy struct {
	Active     string          // the site's live deployment
	Branches   map[string]bool // deployments a git branch (alias) points at
	KeepNewest int             // the newest KeepNewest deployments stay
	KeepDays   int             // deployments younger than KeepDays days stay
	Now        time.Time
}

// Keep reports whether deployment d, the i-th newest of its site (from
// 0), is kept.
func (p Policy) Keep(i int, d tenants.DeploymentSummary) bool {
	return d.ID == p.Active || p.Branches[d.ID] || i < p.KeepNewest ||
		p.KeepDays > 0 && d.Created.After(p.Now.AddDate(0, 0, -p.KeepDays))
}

// refSet is the set of content hashes a tenant's kept deployments and
// upload sessions reference: 8 bytes per hash (a sorted []uint64; hashes
// are 16 hex digits), so a tenant referencing a million blobs costs 8 MB
// while it is swept. Hashes of another shape (none are stored today) go
// to a map.
type refSet struct {
	sorted bool
	ids    []uint64
	odd    map[string]bool
}

func (r *refSet) add(h string) {
	if v, err := strconv.ParseUint(h, 16, 64); err == nil && len(h) == 16 {
		r.ids = append(r.ids, v)
		r.sorted = false
		return
	}
	if r.odd == nil {
		r.odd = map[string]bool{}
	}
	r.odd[h] = true
}

func (r *refSet) seal() {
	if !r.sorted {
		slices.Sort(r.ids)
		r.ids = slices.Compact(r.ids)
		r.sorted = true
	}
}

func (r *refSet) has(h string) bool {
	if v, err := strconv.ParseUint(h, 16, 64); err == nil && len(h) == 16 {
		_, ok := slices.BinarySearch(r.ids, v)
		return ok
	}
	return r.odd[h]
}

// sweepTenant marks what the tenant references — its upload sessions
// first, then its sites' kept deployments (deleting the others) — and
// collects the blobs of its index nothing references (the store keeps
// those that upload sessions and deployments created since the mark
// read the publish generation reference).
func (s *Sweeper) sweepTenant(ctx context.Context, t tenants.Tenant, rep *report) error {
	gen, err := s.Store.PublishGeneration(ctx, t.ID)
	if err != nil {
		return err
	}
	refs := &refSet{}
	ids, err := s.Store.UploadSessionIDs(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		hs, err := s.Store.UploadSessionHashes(ctx, id)
		if errors.Is(err, tenants.ErrNotFound) {
			continue // deployed (its deployment is read below) or expired
		}
		if err != nil {
			return err
		}
		for _, h := range hs {
			refs.add(h)
		}
	}
	lim := t.EffectiveLimits()
	req := tenants.PageRequest{Limit: min(s.pageSize(), tenants.MaxPageLimit)}
	for {
		sites, next, err := s.Store.SitesPage(ctx, tenants.SiteFilter{TenantID: t.ID}, req)
		if err != nil {
			return err
		}
		for _, site := range sites {
			if err := s.sweepSite(ctx, t, site, lim, refs, rep); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		req.Cursor = next
	}
	refs.seal()
	return s.collect(ctx, t, gen, refs, rep)
}

// sweepSite deletes the deployments of site its policy does not keep and
// adds the hashes of those it keeps to refs.
func (s *Sweeper) sweepSite(ctx context.Context, t tenants.Tenant, site tenants.Site, lim tenants.Limits, refs *refSet, rep *report) error {
	refsOfGit, err := s.Store.GitRefs(ctx, site.ID)
	if err != nil {
		return err
	}
	p := Policy{Active: site.ActiveDeployment, Branches: map[string]bool{}, KeepNewest: lim.KeepDeployments, KeepDays: lim.KeepDays, Now: s.now()}
	for _, r := range refsOfGit {
		if r.Deployment != "" {
			p.Branches[r.Deployment] = true
		}
	}
	var kept, drop []string
	req := tenants.PageRequest{Limit: min(s.pageSize(), tenants.MaxPageLimit)}
	for i := 0; ; {
		page, next, err := s.Store.DeploymentsPage(ctx, site.ID, req)
		if err != nil {
			return err
		}
		for _, d := range page {
			if p.Keep(i, d) {
				kept = append(kept, d.ID)
			} else {
				drop = append(drop, d.ID)
			}
			i++
		}
		if next == "" {
			break
		}
		req.Cursor = next
	}
	deleted := drop
	if !rep.DryRun && len(drop) > 0 {
		if deleted, err = s.Store.DeleteDeployments(ctx, site.ID, drop); err != nil {
			return err
		}
		// Those that became live or a branch's meanwhile stay.
		for _, id := range drop {
			if !slices.Contains(deleted, id) {
				kept = append(kept, id)
			}
		}
		if len(deleted) > 0 {
			s.log().Info("gc: deleted deployments", "tenant", t.Name, "site", site.Name, "deployments", len(deleted))
			if s.OnSiteChanged != nil {
				s.OnSiteChanged(site)
			}
		}
	}
	if len(deleted) > 0 {
		rep.tenant(t.ID, t.Name).Deployments += len(deleted)
		rep.Deployments += len(deleted)
	}
	for _, id := range kept {
		d, err := s.Store.Deployment(ctx, site.ID, id)
		if errors.Is(err, tenants.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range d.Manifest {
			refs.add(e.Hash)
		}
		if d.Worker != "" {
			refs.add(d.Worker)
		}
		// The rules files live on as text in the deployment's config, not
		// in its manifest: their blobs (the same bytes) are kept too, so
		// that the next deploy does not upload them again.
		for _, text := range []string{d.Config.Headers, d.Config.Redirects} {
			if text != "" {
				refs.add(assets.Hash(t.Salt, []byte(text)))
			}
		}
	}
	return nil
}

// collect walks the tenant's blob index a page at a time and collects
// the blobs refs lacks.
func (s *Sweeper) collect(ctx context.Context, t tenants.Tenant, gen int64, refs *refSet, rep *report) error {
	for after := ""; ; {
		page, err := s.Store.BlobsPage(ctx, t.ID, after, s.pageSize())
		if err != nil || len(page) == 0 {
			return err
		}
		after = page[len(page)-1].Hash
		var cand []tenants.Blob
		for _, b := range page {
			if !refs.has(b.Hash) {
				cand = append(cand, b)
			}
		}
		if len(cand) == 0 {
			continue
		}
		if !rep.DryRun {
			hashes := make([]string, len(cand))
			for i, b := range cand {
				hashes[i] = b.Hash
			}
			got, err := s.Store.CollectBlobs(ctx, t.ID, gen, hashes)
			if err != nil {
				return err
			}
			cand = got
		}
		tr := rep.tenant(t.ID, t.Name)
		for _, b := range cand {
			n := b.Size + b.BrSize + b.GzSize
			tr.Blobs++
			tr.BlobBytes += n
			rep.Blobs++
			rep.BlobBytes += n
		}
	}
}
