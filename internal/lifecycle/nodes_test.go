package lifecycle_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/lifecycle"
	"github.com/pierhq/pier/internal/testenv"
)

// blockingDeletes holds every Delete until release is closed, and says
// when one is waiting.
type blockingDeletes struct {
	assets.Backend
	waiting atomic.Bool
	release chan struct{}
}

func (b *blockingDeletes) Delete(ctx context.Context, key string) error {
	b.waiting.Store(true)
	<-b.release
	return b.Backend.Delete(ctx, key)
}

// TestTwoNodesSharingPostgres runs two nodes on one PostgreSQL database
// and one blob store: one sweeper at a time (the lease), a crashed
// holder's lease taken over once expired, and deploys through both
// nodes racing both sweepers.
func TestTwoNodesSharingPostgres(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	blobs := fsBackend(t)
	a := newNode(t, pgStore(t, dsn), blobs, "node-a")
	b := newNode(t, pgStore(t, dsn), blobs, "node-b")
	ctx := context.Background()

	t.Run("one sweeper at a time", func(t *testing.T) {
		tn := tenant(t, a.store, "gone", 2)
		st := site(t, a.store, tn, "gone")
		if _, err := a.deploy(ctx, tn, st, files{"/index.html": page("gone")}, true); err != nil {
			t.Fatal(err)
		}
		if err := b.store.DeleteTenant(ctx, tn.ID); err != nil {
			t.Fatal(err)
		}
		block := &blockingDeletes{Backend: blobs, release: make(chan struct{})}
		sweeper := *a.gc
		sweeper.Blobs, sweeper.ZeroGrace = block, true
		done := make(chan error, 1)
		go func() {
			_, err := sweeper.Run(ctx, false)
			done <- err
		}()
		testenv.WaitFor(t, testenv.Patience, func() error {
			if !block.waiting.Load() {
				return errors.New("node a's sweep has not reached the queued objects")
			}
			return nil
		})
		if _, err := b.gc.Run(ctx, false); !errors.Is(err, lifecycle.ErrLeaseHeld) {
			t.Errorf("node b swept while node a held the lease: %v", err)
		}
		if rep, err := b.gc.Run(ctx, true); err != nil || !rep.DryRun {
			t.Errorf("a dry run on node b = %+v, %v; want it to run without the lease", rep, err)
		}
		close(block.release)
		if err := <-done; err != nil {
			t.Fatalf("node a's sweep: %v", err)
		}
		if _, err := b.gc.Run(ctx, false); err != nil {
			t.Errorf("node b after node a released the lease: %v", err)
		}
		key := assets.Key(tn.ID, assets.Hash(tn.Salt, []byte(page("gone"))), "")
		if exists(t, blobs, key) {
			t.Errorf("the deleted tenant's blob survived node a's sweep")
		}
	})

	t.Run("an expired lease is taken over", func(t *testing.T) {
		if ok, err := a.store.AcquireLease(ctx, lifecycle.LeaseName, "crashed-node", 2*time.Second); err != nil || !ok {
			t.Fatalf("AcquireLease = %v, %v", ok, err)
		}
		if _, err := b.gc.Run(ctx, false); !errors.Is(err, lifecycle.ErrLeaseHeld) {
			t.Errorf("node b swept while a crashed node's lease was fresh: %v", err)
		}
		testenv.WaitFor(t, testenv.Patience, func() error {
			_, err := b.gc.Run(ctx, false)
			return err
		})
	})

	t.Run("deploys through both nodes racing both sweepers", func(t *testing.T) {
		race(t, []*node{a, b}, 4, 10)
	})
}
