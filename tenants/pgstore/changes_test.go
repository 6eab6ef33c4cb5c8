package pgstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/storetest"
)

// nodes opens two stores on one fresh database.
func nodes(pg *testenv.Postgres) storetest.OpenNodes {
	return func(tb testing.TB) (tenants.Store, tenants.Store) {
		a, b := openPair(tb, pg)
		return a, b
	}
}

func openPair(tb testing.TB, pg *testenv.Postgres) (*Store, *Store) {
	dsn := pg.NewDatabase(tb)
	open := func() *Store {
		s, err := Open(context.Background(), dsn)
		if err != nil {
			tb.Fatalf("Open: %v", err)
		}
		return s
	}
	return open(), open()
}

func TestChanges(t *testing.T) {
	storetest.RunChanges(t, nodes(testenv.StartPostgres(t)))
}

func TestUsageAcrossNodes(t *testing.T) {
	storetest.RunUsageNodes(t, nodes(testenv.StartPostgres(t)))
}

func TestPayload(t *testing.T) {
	resync := tenants.Change{Kind: tenants.ChangeResync}
	for _, tc := range []struct {
		payload string
		want    tenants.Change
	}{
		{"site:blog", tenants.Change{Kind: tenants.ChangeSite, Key: "blog"}},
		{"domain:www.example.com", tenants.Change{Kind: tenants.ChangeDomain, Key: "www.example.com"}},
		{"tenant:t_1:x", tenants.Change{Kind: tenants.ChangeTenant, Key: "t_1:x"}},
		{"kv:ns1/user:1", tenants.Change{Kind: tenants.ChangeKV, Key: "ns1/user:1"}},
		{"kv:ns1/", tenants.Change{Kind: tenants.ChangeKV, Key: "ns1/"}},
		{"resync", resync},
		{"resync:", resync},
		{"site:", resync},
		{"site", resync},
		{"", resync},
		{"future:thing", resync},
	} {
		if got := parsePayload(tc.payload); got != tc.want {
			t.Errorf("parsePayload(%q) = %+v, want %+v", tc.payload, got, tc.want)
		}
	}
	for _, c := range []tenants.Change{
		{Kind: tenants.ChangeSite, Key: "blog"},
		{Kind: tenants.ChangeKV, Key: tenants.KVChangeKey("ns1", strings.Repeat("ü", 256))},
		{Kind: tenants.ChangeDomain, Key: strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".example"},
	} {
		if got := parsePayload(payload(c.Kind, c.Key)); got != c {
			t.Errorf("payload round trip of %+v gave %+v", c, got)
		}
	}
	if p := payload(tenants.ChangeDomain, strings.Repeat("x", 8000)); p != tenants.ChangeResync {
		t.Errorf("an oversized payload is sent as %.40q…, want a resync", p)
	}
}

// listenerPIDs returns the backend PIDs of change listeners on s's
// database.
func listenerPIDs(t *testing.T, s *Store) []int32 {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity
WHERE application_name = $1 AND datname = current_database()`, watchApplicationName)
	if err != nil {
		t.Fatalf("listing listeners: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatalf("listing listeners: %v", err)
	}
	return pids
}

// killListener terminates the one change listener on s's database.
func killListener(t *testing.T, s *Store) {
	t.Helper()
	pids := listenerPIDs(t, s)
	if len(pids) != 1 {
		t.Fatalf("%d change listeners (%v), want 1", len(pids), pids)
	}
	var ok bool
	if err := s.pool.QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, pids[0]).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d): %v, %v", pids[0], ok, err)
	}
}

// allowConnections sets whether s's database accepts new connections
// (from the cluster's postgres database: not the current one's to set).
func allowConnections(t *testing.T, pg *testenv.Postgres, s *Store, allow bool) {
	t.Helper()
	ctx := context.Background()
	var db string
	if err := s.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	q := "ALTER DATABASE " + pgx.Identifier{db}.Sanitize() + " WITH ALLOW_CONNECTIONS false"
	if allow {
		q = strings.Replace(q, "false", "true", 1)
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// failures collects the errors WatchChanges reports through the failed
// hook, in order.
type failures struct {
	mu   sync.Mutex
	errs []error
	seen int // how many waitFor looked at
	more chan struct{}
}

func hookFailures(s *Store) *failures {
	f := &failures{more: make(chan struct{}, 1)}
	s.watch.failed = func(err error) {
		f.mu.Lock()
		f.errs = append(f.errs, err)
		f.mu.Unlock()
		select {
		case f.more <- struct{}{}:
		default:
		}
	}
	return f
}

// waitFor waits, up to storetest.ChangeTimeout, for an error matching
// match reported after those earlier calls returned or skipped, and
// returns it.
func (f *failures) waitFor(t *testing.T, what string, match func(error) bool) error {
	t.Helper()
	deadline := time.NewTimer(storetest.ChangeTimeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		for f.seen < len(f.errs) {
			err := f.errs[f.seen]
			f.seen++
			if match(err) {
				f.mu.Unlock()
				return err
			}
		}
		f.mu.Unlock()
		select {
		case <-f.more:
		case <-deadline.C:
			t.Fatalf("no %s within %v", what, storetest.ChangeTimeout)
		}
	}
}

// notAccepting reports the error of connecting to a database that does
// not accept connections.
func notAccepting(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not currently accepting connections")
}

func isResync(c tenants.Change) bool { return c.Kind == tenants.ChangeResync }

// expectSite creates a site through a and waits for b's feed to report
// it.
func expectSite(t *testing.T, a *Store, f *storetest.Feed, tenantID, name string) {
	t.Helper()
	if err := a.CreateSite(context.Background(), tenants.Site{ID: "id-" + name, TenantID: tenantID, Name: name}); err != nil {
		t.Fatalf("CreateSite(%s): %v", name, err)
	}
	want := tenants.Change{Kind: tenants.ChangeSite, Key: name}
	f.NextMatching(t, "change of site "+name, func(c tenants.Change) bool {
		if isResync(c) {
			t.Fatalf("unexpected resync (%v) while waiting for site %s", c.Err, name)
		}
		return c == want
	})
}

func TestWatchReconnects(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	setup := func(t *testing.T) (a, b *Store, fails *failures, f *storetest.Feed) {
		a, b = openPair(t, pg)
		t.Cleanup(func() { a.Close() })
		t.Cleanup(func() { b.Close() })
		if err := a.CreateTenant(ctx, tenants.Tenant{ID: "t1", Name: "acme", Plan: tenants.PlanFree}); err != nil {
			t.Fatal(err)
		}
		fails = hookFailures(b)
		f = storetest.Watch(t, b)
		if c := f.Next(t); !isResync(c) || c.Err != nil {
			t.Fatalf("first change %+v, want a resync without error", c)
		}
		return a, b, fails, f
	}

	t.Run("terminated listener", func(t *testing.T) {
		a, b, fails, f := setup(t)
		expectSite(t, a, f, "t1", "before")
		killListener(t, b)
		lost := fails.waitFor(t, "lost connection", func(error) bool { return true })
		c := f.NextMatching(t, "resync", isResync)
		if c.Err == nil || c.Err.Error() != lost.Error() {
			t.Errorf("resync after the kill carries %v, want %v", c.Err, lost)
		}
		expectSite(t, a, f, "t1", "after")
		// And again: the backoff does not stop it.
		killListener(t, b)
		f.NextMatching(t, "second resync", isResync)
		expectSite(t, a, f, "t1", "again")
	})

	t.Run("database refusing connections", func(t *testing.T) {
		a, b, fails, f := setup(t)
		allowConnections(t, pg, a, false)
		t.Cleanup(func() { allowConnections(t, pg, a, true) })
		killListener(t, b)
		fails.waitFor(t, "failed reconnection", notAccepting)
		// Still down: another attempt fails too, after a backoff.
		fails.waitFor(t, "second failed reconnection", notAccepting)
		allowConnections(t, pg, a, true)
		c := f.NextMatching(t, "resync", isResync)
		if !notAccepting(c.Err) {
			t.Errorf("resync after the outage carries %v, want the last failed attempt's error", c.Err)
		}
		expectSite(t, a, f, "t1", "back")
	})

	t.Run("cancel while retrying", func(t *testing.T) {
		a, b, fails, f := setup(t)
		allowConnections(t, pg, a, false)
		t.Cleanup(func() { allowConnections(t, pg, a, true) })
		killListener(t, b)
		fails.waitFor(t, "failed reconnection", notAccepting)
		if err := f.Stop(t); !errors.Is(err, context.Canceled) {
			t.Errorf("WatchChanges returned %v, want context.Canceled", err)
		}
	})

	t.Run("cancel closes the listener", func(t *testing.T) {
		_, b, _, f := setup(t)
		if pids := listenerPIDs(t, b); len(pids) != 1 {
			t.Fatalf("%d change listeners, want 1", len(pids))
		}
		if err := f.Stop(t); !errors.Is(err, context.Canceled) {
			t.Errorf("WatchChanges returned %v, want context.Canceled", err)
		}
		// The backend goes away once the server has processed the
		// Terminate message: poll.
		deadline := time.Now().Add(storetest.ChangeTimeout)
		for len(listenerPIDs(t, b)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the listener's backend is still there %v after WatchChanges returned", storetest.ChangeTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("quiet connection is pinged", func(t *testing.T) {
		a, b := openPair(t, pg)
		t.Cleanup(func() { a.Close() })
		t.Cleanup(func() { b.Close() })
		if err := a.CreateTenant(ctx, tenants.Tenant{ID: "t1", Name: "acme", Plan: tenants.PlanFree}); err != nil {
			t.Fatal(err)
		}
		// Idle timeouts and pings every few milliseconds: notifications
		// still come through between them, and a lost connection is still
		// noticed.
		b.watch.idle = 5 * time.Millisecond
		fails := hookFailures(b)
		f := storetest.Watch(t, b)
		f.NextMatching(t, "resync", isResync)
		expectSite(t, a, f, "t1", "quiet")
		killListener(t, b)
		fails.waitFor(t, "lost connection", func(error) bool { return true })
		f.NextMatching(t, "resync", isResync)
		expectSite(t, a, f, "t1", "pinged")
	})
}
