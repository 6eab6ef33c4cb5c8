package pgstorage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/internal/testenv"
)

// opener returns a new Storage value on the same backend at each call
// (as two nodes sharing it would have).
type opener func(t *testing.T) certmagic.Storage

// testConformance is the suite every certmagic.Storage Pier uses passes.
func testConformance(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("values", func(t *testing.T) {
		s := open(t)
		if _, err := s.Load(ctx, "certificates/a/missing.crt"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
		}
		if _, err := s.Stat(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(missing) = %v, want fs.ErrNotExist", err)
		}
		if s.Exists(ctx, "missing") {
			t.Error("Exists(missing) = true")
		}
		for k, v := range map[string]string{
			"certificates/ca/www.example.com/www.example.com.crt": "cert",
			"certificates/ca/www.example.com/www.example.com.key": "key",
			"certificates/ca/api.example.com/api.example.com.crt": "cert2",
			"acme/ca/users/x/x.json":                              "user",
		} {
			if err := s.Store(ctx, k, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Store(ctx, "certificates/ca/www.example.com/www.example.com.crt", []byte("cert-v2")); err != nil {
			t.Fatal(err)
		}
		other := open(t) // another node sees the same values
		v, err := other.Load(ctx, "certificates/ca/www.example.com/www.example.com.crt")
		if err != nil || string(v) != "cert-v2" {
			t.Errorf("Load after overwrite = %q, %v; want cert-v2", v, err)
		}
		info, err := s.Stat(ctx, "certificates/ca/www.example.com/www.example.com.key")
		if err != nil || !info.IsTerminal || info.Size != 3 || info.Modified.IsZero() {
			t.Errorf("Stat(file) = %+v, %v", info, err)
		}
		info, err = s.Stat(ctx, "certificates/ca")
		if err != nil || info.IsTerminal {
			t.Errorf("Stat(dir) = %+v, %v; want a non-terminal key", info, err)
		}
		if !s.Exists(ctx, "certificates/ca/www.example.com") || !s.Exists(ctx, "acme/ca/users/x/x.json") {
			t.Error("Exists(dir or file) = false")
		}
		keys, err := s.List(ctx, "certificates/ca", false)
		want := []string{"certificates/ca/api.example.com", "certificates/ca/www.example.com"}
		slices.Sort(keys)
		if err != nil || !slices.Equal(keys, want) {
			t.Errorf("List(non-recursive) = %v, %v; want %v", keys, err, want)
		}
		keys, err = s.List(ctx, "certificates", true)
		slices.Sort(keys)
		want = []string{
			"certificates/ca",
			"certificates/ca/api.example.com",
			"certificates/ca/api.example.com/api.example.com.crt",
			"certificates/ca/www.example.com",
			"certificates/ca/www.example.com/www.example.com.crt",
			"certificates/ca/www.example.com/www.example.com.key",
		}
		if err != nil || !slices.Equal(keys, want) {
			t.Errorf("List(recursive) = %v, %v; want %v", keys, err, want)
		}
		if err := s.Delete(ctx, "certificates/ca/www.example.com"); err != nil {
			t.Fatal(err)
		}
		if s.Exists(ctx, "certificates/ca/www.example.com/www.example.com.key") {
			t.Error("Delete(dir) left a key under it")
		}
		if !s.Exists(ctx, "certificates/ca/api.example.com/api.example.com.crt") {
			t.Error("Delete(dir) removed a sibling")
		}
		if err := s.Delete(ctx, "certificates/ca/www.example.com"); err != nil {
			t.Errorf("Delete(missing) = %v, want nil", err)
		}
	})

	t.Run("two lockers race for one name: one wins", func(t *testing.T) {
		a, b := open(t).(certmagic.TryLocker), open(t).(certmagic.TryLocker)
		var wins atomic.Int64
		var wg sync.WaitGroup
		for _, l := range []certmagic.TryLocker{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := l.TryLock(ctx, "issue_cert_race.example")
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d lockers won, want 1", wins.Load())
		}
		// Whoever won unlocks; the other can then take it.
		if err := a.Unlock(ctx, "issue_cert_race.example"); err != nil {
			if err := b.Unlock(ctx, "issue_cert_race.example"); err != nil {
				t.Fatalf("neither locker could unlock: %v", err)
			}
		}
		ok, err := b.TryLock(ctx, "issue_cert_race.example")
		if err != nil || !ok {
			t.Fatalf("TryLock after Unlock = %v, %v", ok, err)
		}
		if err := b.Unlock(ctx, "issue_cert_race.example"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Lock excludes across nodes", func(t *testing.T) {
		var inside, overlaps, entered atomic.Int64
		var wg sync.WaitGroup
		for range 2 {
			s := open(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 2 {
					lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					err := s.Lock(lctx, "issue_cert_mutex.example")
					cancel()
					if err != nil {
						t.Error(err)
						return
					}
					if inside.Add(1) != 1 {
						overlaps.Add(1)
					}
					entered.Add(1)
					time.Sleep(20 * time.Millisecond)
					inside.Add(-1)
					if err := s.Unlock(ctx, "issue_cert_mutex.example"); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if overlaps.Load() != 0 || entered.Load() != 4 {
			t.Errorf("%d overlaps in %d critical sections; want 0 in 4", overlaps.Load(), entered.Load())
		}
	})

	t.Run("Lock honours cancellation", func(t *testing.T) {
		a, b := open(t), open(t)
		if err := a.Lock(ctx, "busy"); err != nil {
			t.Fatal(err)
		}
		defer a.Unlock(ctx, "busy")
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := b.Lock(cctx, "busy"); err == nil {
			t.Fatal("Lock of a held name succeeded")
		}
	})
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestFileStorageConformance(t *testing.T) {
	dir := t.TempDir()
	testConformance(t, func(*testing.T) certmagic.Storage { return &certmagic.FileStorage{Path: dir} })
}

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pg := testenv.StartPostgres(t)
	pool, err := pgxpool.New(context.Background(), pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func openPG(t *testing.T, pool *pgxpool.Pool, ttl time.Duration) *Storage {
	t.Helper()
	s, err := New(context.Background(), Config{Pool: pool, LockTTL: ttl, PollInterval: 10 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestPostgresConformance(t *testing.T) {
	pool := newPool(t)
	testConformance(t, func(t *testing.T) certmagic.Storage { return openPG(t, pool, 0) })
}

func TestPostgresLease(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	const ttl = 600 * time.Millisecond
	a, b := openPG(t, pool, ttl), openPG(t, pool, ttl)

	// The holder's renewals keep the lock well past its lease.
	if err := a.Lock(ctx, "renewed"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * ttl)
	if ok, err := b.TryLock(ctx, "renewed"); err != nil || ok {
		t.Fatalf("TryLock of a renewed lock = %v, %v; want false", ok, err)
	}
	if err := a.RenewLockLease(ctx, "renewed", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx, "renewed"); err != nil {
		t.Fatal(err)
	}

	// A holder that dies (stops renewing) loses the lock after its lease;
	// its late Unlock does not release the new holder's lock.
	if err := a.Lock(ctx, "crashed"); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	l := a.held["crashed"]
	a.mu.Unlock()
	l.stop()
	<-l.done
	// Within half the default lease: only the dead holder's short lease
	// can have let b in (a busy machine may take a while to get there).
	lctx, cancel := context.WithTimeout(ctx, DefaultLockTTL/2)
	defer cancel()
	if err := b.Lock(lctx, "crashed"); err != nil {
		t.Fatalf("taking over an expired lock: %v", err)
	}
	if err := a.Unlock(ctx, "crashed"); err == nil {
		t.Error("the dead holder's Unlock succeeded after takeover")
	}
	if err := a.RenewLockLease(ctx, "crashed", ttl); err == nil {
		t.Error("the dead holder renewed a lock it lost")
	}
	c := openPG(t, pool, ttl)
	if ok, _ := c.TryLock(ctx, "crashed"); ok {
		t.Error("lock free after the dead holder's Unlock; want still held by the new holder")
	}
	if err := b.Unlock(ctx, "crashed"); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx, "crashed"); err == nil {
		t.Error("second Unlock succeeded")
	}
}

func TestPostgresUnreadableRecordIsMissing(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	s := openPG(t, pool, 0)
	if err := s.Store(ctx, "certificates/x/x.crt", []byte("pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE pier_cert_data SET value = 'garbled' WHERE key = 'certificates/x/x.crt'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "certificates/x/x.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(corrupt) = %v, want fs.ErrNotExist", err)
	}
	// Storing again repairs it; a second migration is harmless.
	if err := s.Store(ctx, "certificates/x/x.crt", []byte("pem2")); err != nil {
		t.Fatal(err)
	}
	s2 := openPG(t, pool, 0)
	if v, err := s2.Load(ctx, "certificates/x/x.crt"); err != nil || string(v) != "pem2" {
		t.Errorf("Load after repair = %q, %v", v, err)
	}
}
