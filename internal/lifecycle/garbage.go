package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// sweepGarbage deletes the queued objects whose grace period is over, a
// page at a time: it claims the page's entries (an upload that cancelled
// one first wins, and one that comes later waits for the entry to go),
// deletes their objects, then removes the entries. An entry whose
// objects could not be deleted stays claimed and is taken again once its
// claim is stale.
func (s *Sweeper) sweepGarbage(ctx context.Context, rep *report) error {
	for after := ""; ; {
		page, err := s.Store.GarbagePage(ctx, s.grace(), after, s.pageSize())
		if err != nil || len(page) == 0 {
			return err
		}
		after = page[len(page)-1].Key
		if !rep.DryRun {
			if page, err = s.deletePage(ctx, page); err != nil {
				return err
			}
		}
		for _, g := range page {
			tr := rep.tenant(g.TenantID, "")
			tr.Objects++
			tr.Bytes += g.Size
			rep.Objects++
			rep.Bytes += g.Size
		}
	}
}

// parallelDeletes bounds the entries whose objects are deleted at once (a
// backend delete is a round trip on S3).
const parallelDeletes = 8

// deletePage claims a page of entries, deletes the objects of those it
// claimed, parallelDeletes at a time, removes the entries whose objects
// are gone, and returns those.
func (s *Sweeper) deletePage(ctx context.Context, page []tenants.Garbage) ([]tenants.Garbage, error) {
	keys := make([]string, len(page))
	for i, g := range page {
		keys[i] = g.Key
	}
	got, err := s.Store.ClaimGarbage(ctx, keys)
	if err != nil {
		return nil, err
	}
	claimed := make(map[string]bool, len(got))
	for _, k := range got {
		claimed[k] = true
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done []tenants.Garbage
		sem  = make(chan struct{}, parallelDeletes)
	)
	for _, g := range page {
		if !claimed[g.Key] {
			continue // cancelled by an upload, or another sweeper's
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if s.deleteObjects(ctx, g) {
				mu.Lock()
				done = append(done, g)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err // the lease is lost: what was claimed stays so
	}
	slices.SortFunc(done, func(a, b tenants.Garbage) int { return strings.Compare(a.Key, b.Key) })
	return done, s.Store.FinishGarbage(ctx, done)
}

// deleteObjects deletes an entry's object and its recorded variants;
// false when the backend failed (logged) or the sweep is ending.
func (s *Sweeper) deleteObjects(ctx context.Context, g tenants.Garbage) bool {
	keys := []string{g.Key}
	for _, v := range g.Variants {
		keys = append(keys, g.Key+"."+v)
	}
	for _, k := range keys {
		if ctx.Err() != nil {
			return false
		}
		if err := s.Blobs.Delete(ctx, k); err != nil && !errors.Is(err, assets.ErrNotFound) {
			if ctx.Err() == nil {
				s.log().Warn("gc: deleting an object", "key", k, "err", err)
			}
			return false
		}
	}
	return true
}
