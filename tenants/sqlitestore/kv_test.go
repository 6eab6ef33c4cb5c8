package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// openKVStore opens a store in a temporary directory with tenant t1 and
// its KV namespace ns1 ("data"), closed when tb ends.
func openKVStore(tb testing.TB) *Store {
	tb.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(tb.TempDir(), "pier.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.CreateTenant(ctx, tenants.Tenant{ID: "t1", Name: "acme", Plan: tenants.PlanFree, Salt: make([]byte, 16)}); err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateKVNamespace(ctx, tenants.KVNamespace{ID: "ns1", TenantID: "t1", Name: "data", Created: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestKVGroupCommit: writes that share a group commit are independent:
// one that fails (a namespace that does not exist) or whose caller gave up
// before its turn writes nothing, and the others in its transaction commit.
func TestKVGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := openKVStore(t)
	put := func(jctx context.Context, ns, key string) *kvJob {
		return &kvJob{ctx: jctx, op: "kv put " + key, fn: func(ctx context.Context, tx *sql.Tx) error {
			return mapErr("kv put "+key, s.kvPut(ctx, tx, ns, tenants.KVEntry{Key: key, Value: []byte("v")}, time.Now().UnixMilli()))
		}}
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	group := []*kvJob{put(ctx, "ns1", "a"), put(ctx, "missing", "b"), put(gone, "ns1", "c"), put(ctx, "ns1", "d")}
	errs := s.commitKV(group)
	if errs[0] != nil || errs[3] != nil {
		t.Fatalf("the good writes failed: %v", errs)
	}
	if !errors.Is(errs[1], tenants.ErrNotFound) {
		t.Errorf("a write to a missing namespace: %v, want ErrNotFound", errs[1])
	}
	if !errors.Is(errs[2], context.Canceled) {
		t.Errorf("a write whose caller gave up: %v, want context.Canceled", errs[2])
	}
	for key, want := range map[string]bool{"a": true, "c": false, "d": true} {
		_, err := s.KVGet(ctx, "ns1", key)
		if got := err == nil; got != want {
			t.Errorf("key %s present = %v (%v), want %v", key, got, err, want)
		}
	}
	// Through kvTx, concurrently: every write lands, in shared groups.
	errc := make(chan error, 100)
	for i := range 100 {
		go func() {
			errc <- s.KVPut(ctx, "ns1", tenants.KVEntry{Key: string(rune('A' + i%50)), Value: []byte{byte(i)}})
		}()
	}
	for range 100 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	keys, _, err := s.KVList(ctx, "ns1", "", tenants.PageRequest{Limit: 1000})
	if err != nil || len(keys) != 50 {
		t.Fatalf("%d keys (%v), want 50 (A to r)", len(keys), err)
	}
	s.Close()
	if err := s.KVPut(ctx, "ns1", tenants.KVEntry{Key: "late", Value: []byte("v")}); err == nil {
		t.Error("a write after Close succeeded")
	}
}

// BenchmarkKVPut measures KV puts through the group commit, each synced
// to disk: one at a time (a commit each), and from 64 goroutines at once
// (as a worker's requests under load: the puts queued during a commit
// share the next one). Its time per put is the writer's CPU time plus
// its share of a sync.
func BenchmarkKVPut(b *testing.B) {
	ctx := context.Background()
	s := openKVStore(b)
	e := tenants.KVEntry{Key: "last", Value: []byte("written by the benchmark")}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := s.KVPut(ctx, "ns1", e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel64", func(b *testing.B) {
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.KVPut(ctx, "ns1", e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkKVGet measures a read of one key from the store (what a
// worker's get costs when the edge's node cache misses).
func BenchmarkKVGet(b *testing.B) {
	ctx := context.Background()
	s := openKVStore(b)
	if err := s.KVPut(ctx, "ns1", tenants.KVEntry{Key: "hot", Value: []byte("a value of some thirty-two bytes")}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.KVGet(ctx, "ns1", "hot"); err != nil {
			b.Fatal(err)
		}
	}
}
