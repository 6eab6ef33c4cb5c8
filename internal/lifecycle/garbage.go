package lifecycle

import (
	"context"
	"errors"
	"sync"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// sweepGarbage deletes the queued objects whose grace period is over: it
// claims each entry (an upload that cancelled it first wins, and one
// that comes later waits for the entry to go), deletes the objects, then
// removes the entry. An entry whose objects could not be deleted stays
// claimed and is taken again by the next sweep.
func (s *Sweeper) sweepGarbage(ctx context.Context, rep *report) error {
	for after := ""; ; {
		page, err := s.Store.GarbagePage(ctx, s.grace(), after, s.pageSize())
		if err != nil || len(page) == 0 {
			return err
		}
		after = page[len(page)-1].Key
		if err := s.deletePage(ctx, page, rep); err != nil {
			return err
		}
	}
}

// parallelDeletes bounds the entries whose objects are deleted at once.
const parallelDeletes = 8

// deletePage deletes a page of entries, parallelDeletes at a time (a
// backend delete is a round trip on S3).
func (s *Sweeper) deletePage(ctx context.Context, page []tenants.Garbage, rep *report) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, parallelDeletes)
	)
	for _, g := range page {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			done, err := s.deleteGarbage(ctx, g, rep.DryRun)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if !done {
				return
			}
			tr := rep.tenant(g.TenantID, "")
			tr.Objects++
			tr.Bytes += g.Size
			rep.Objects++
			rep.Bytes += g.Size
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deleteGarbage deletes one entry's objects; false when an upload
// cancelled it or the backend failed (logged; retried next sweep).
func (s *Sweeper) deleteGarbage(ctx context.Context, g tenants.Garbage, dryRun bool) (bool, error) {
	if dryRun {
		return true, nil
	}
	ok, err := s.Store.ClaimGarbage(ctx, g.Key)
	if err != nil || !ok {
		return false, err
	}
	keys := []string{g.Key}
	for _, v := range g.Variants {
		keys = append(keys, g.Key+"."+v)
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return false, err // the lease is lost: the entry stays claimed
		}
		if err := s.Blobs.Delete(ctx, k); err != nil && !errors.Is(err, assets.ErrNotFound) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			s.log().Warn("gc: deleting an object", "key", k, "err", err)
			return false, nil
		}
	}
	if err := s.Store.FinishGarbage(ctx, g); err != nil {
		return false, err
	}
	return true, nil
}
