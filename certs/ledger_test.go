package certs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/certs/pgstorage"
	"github.com/pierhq/pier/internal/testenv"
)

// The order caps are shared by the managers (nodes) sharing a Storage and
// survive a restart: they are counted in the order ledger in storage.

// fakeClock is a settable clock shared by several managers.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ledgerManager is a Manager on st with the given caps, whose hosts
// "<x>.<tenant>.test" belong to <tenant>. No CA is reachable: tests place
// orders with order, as certmagic would.
func ledgerManager(t *testing.T, st certmagic.Storage, clock *fakeClock, global, perTenant int, log *slog.Logger) *Manager {
	t.Helper()
	if log == nil {
		log = quietLogger()
	}
	m, err := New(Config{
		Storage: st,
		CA:      "https://127.0.0.1:1/dir",
		Allow:   func(string) bool { return true },
		TenantOf: func(h string) string {
			parts := strings.Split(h, ".")
			return parts[len(parts)-2]
		},
		MaxOrdersPerHour:          global,
		MaxOrdersPerHourPerTenant: perTenant,
		Logger:                    log,
		now:                       clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// order is certmagic about to place an order for name through m: its
// cert_obtaining event, which charges the budget or refuses.
func order(m *Manager, name string) error {
	return m.onEvent(context.Background(), "cert_obtaining", map[string]any{"identifier": name})
}

func mustOrder(t *testing.T, m *Manager, name string) {
	t.Helper()
	if err := order(m, name); err != nil {
		t.Fatalf("order for %s refused: %v", name, err)
	}
}

// mustRefuse checks that an order for name is refused for reason until
// retry, in the error and in Status.
func mustRefuse(t *testing.T, m *Manager, name, reason string, retry time.Time) {
	t.Helper()
	err := order(m, name)
	want := reason + " (next retry " + retry.UTC().Format(time.RFC3339) + ")"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("order for %s = %v; want refused: %s", name, err, want)
	}
	if s := m.Status(name); s.State != StateFailed || s.Reason != reason || !s.NextRetry.Equal(retry) {
		t.Errorf("status of refused %s = %+v; want failed: %s until %v", name, s, reason, retry)
	}
}

// readLedger decodes the stored ledger.
func readLedger(t *testing.T, st certmagic.Storage) ledger {
	t.Helper()
	data, err := st.Load(context.Background(), ledgerKey)
	if err != nil {
		t.Fatalf("loading the ledger: %v", err)
	}
	var l ledger
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatalf("stored ledger %q: %v", data, err)
	}
	return l
}

// opener returns a new Storage value on one shared backend at each call,
// as each node (or a restarted node) has its own.
type opener func(t *testing.T) certmagic.Storage

func fileOpener(t *testing.T) opener {
	dir := t.TempDir()
	return func(*testing.T) certmagic.Storage { return &certmagic.FileStorage{Path: dir} }
}

func pgOpener(t *testing.T) opener {
	pg := testenv.StartPostgres(t)
	pool, err := pgxpool.New(context.Background(), pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return func(t *testing.T) certmagic.Storage {
		st, err := pgstorage.New(context.Background(), pgstorage.Config{Pool: pool, PollInterval: 20 * time.Millisecond, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
}

func TestOrderLedgerFileStorage(t *testing.T) { testOrderLedger(t, fileOpener) }
func TestOrderLedgerPostgres(t *testing.T)    { testOrderLedger(t, pgOpener) }

func testOrderLedger(t *testing.T, newBackend func(t *testing.T) opener) {
	t.Run("shared between nodes", func(t *testing.T) {
		open := newBackend(t)
		clock := newFakeClock()
		t0 := clock.now()
		a := ledgerManager(t, open(t), clock, 4, 2, nil)
		b := ledgerManager(t, open(t), clock, 4, 2, nil)

		mustOrder(t, a, "a.t1.test")
		clock.add(time.Minute)
		mustOrder(t, b, "b.t1.test")
		// The third order of t1 is refused on either node until the first
		// leaves the hour.
		mustRefuse(t, b, "c.t1.test", reasonTenant, t0.Add(time.Hour))
		mustRefuse(t, a, "d.t1.test", reasonTenant, t0.Add(time.Hour))
		// Other tenants fill the global cap, on either node.
		mustOrder(t, a, "x.t2.test")
		mustOrder(t, b, "y.t3.test")
		mustRefuse(t, a, "z.t4.test", reasonGlobal, t0.Add(time.Hour))
		mustRefuse(t, b, "w.t5.test", reasonGlobal, t0.Add(time.Hour))

		clock.add(time.Hour - time.Minute + time.Second)
		mustOrder(t, b, "w.t5.test") // the first order left the hour
	})

	t.Run("restart and pruning", func(t *testing.T) {
		open := newBackend(t)
		clock := newFakeClock()
		t0 := clock.now()
		a := ledgerManager(t, open(t), clock, 100, 2, nil)
		mustOrder(t, a, "a.t1.test")
		mustOrder(t, a, "b.t1.test")
		a.Close()

		// A restarted node still counts the orders of the last hour.
		clock.add(30 * time.Minute)
		st := open(t)
		a2 := ledgerManager(t, st, clock, 100, 2, nil)
		mustRefuse(t, a2, "c.t1.test", reasonTenant, t0.Add(time.Hour))

		// An hour later they are pruned from the stored ledger.
		clock.add(31 * time.Minute)
		a3 := ledgerManager(t, open(t), clock, 100, 2, nil)
		mustOrder(t, a3, "c.t1.test")
		l := readLedger(t, st)
		if len(l.Orders) != 1 || !l.Orders[0].Equal(clock.now()) || len(l.Tenants) != 1 || len(l.Tenants["t1"]) != 1 {
			t.Errorf("ledger after the hour = %+v; want only the new order", l)
		}
	})

	t.Run("concurrent orders on two nodes", func(t *testing.T) {
		open := newBackend(t)
		clock := newFakeClock()
		nodes := []*Manager{ledgerManager(t, open(t), clock, 5, -1, nil), ledgerManager(t, open(t), clock, 5, -1, nil)}
		var accepted atomic.Int64
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if order(nodes[i%2], "n"+string(rune('a'+i))+".t1.test") == nil {
					accepted.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := accepted.Load(); n != 5 {
			t.Errorf("%d of 12 concurrent orders on two nodes accepted; want the global cap, 5", n)
		}
		if l := readLedger(t, open(t)); len(l.Orders) != 5 || len(l.Tenants["t1"]) != 5 {
			t.Errorf("ledger = %+v; want 5 orders", l)
		}
	})
}

// countingHandler counts the records logged whose message contains sub.
type countingHandler struct {
	slog.Handler
	sub string
	n   *atomic.Int64
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.sub) {
		h.n.Add(1)
	}
	return nil
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(as), h.sub, h.n}
}

func TestOrderLedgerCorrupt(t *testing.T) {
	for _, junk := range []string{"{not json", `{"orders":"x"}`, `[1,2]`, "\x00\xff"} {
		st := &certmagic.FileStorage{Path: t.TempDir()}
		if err := st.Store(context.Background(), ledgerKey, []byte(junk)); err != nil {
			t.Fatal(err)
		}
		var warned atomic.Int64
		log := slog.New(countingHandler{quietLogger().Handler(), "ledger unreadable", &warned})
		clock := newFakeClock()
		m := ledgerManager(t, st, clock, 100, 2, log)
		mustOrder(t, m, "a.t1.test") // the corrupt ledger counts as empty
		mustOrder(t, m, "b.t1.test")
		mustRefuse(t, m, "c.t1.test", reasonTenant, clock.now().Add(time.Hour))
		if l := readLedger(t, st); len(l.Orders) != 2 || len(l.Tenants["t1"]) != 2 {
			t.Errorf("ledger %q rewritten as %+v; want the 2 new orders", junk, l)
		}
		if n := warned.Load(); n != 1 {
			t.Errorf("ledger %q: logged unreadable %d times, want once", junk, n)
		}
	}
}

// failingStorage fails the operation named by fail on the ledger.
type failingStorage struct {
	certmagic.Storage
	mu   sync.Mutex
	fail string // "lock", "load", "store" or ""
}

var errBroken = errors.New("storage broken")

func (s *failingStorage) failing(op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail == op
}

func (s *failingStorage) set(op string) { s.mu.Lock(); s.fail = op; s.mu.Unlock() }

func (s *failingStorage) Lock(ctx context.Context, name string) error {
	if name == ledgerLock && s.failing("lock") {
		return errBroken
	}
	return s.Storage.Lock(ctx, name)
}

func (s *failingStorage) Load(ctx context.Context, key string) ([]byte, error) {
	if key == ledgerKey && s.failing("load") {
		return nil, errBroken
	}
	return s.Storage.Load(ctx, key)
}

func (s *failingStorage) Store(ctx context.Context, key string, v []byte) error {
	if key == ledgerKey && s.failing("store") {
		return errBroken
	}
	return s.Storage.Store(ctx, key, v)
}

func TestOrderLedgerStorageError(t *testing.T) {
	st := &failingStorage{Storage: &certmagic.FileStorage{Path: t.TempDir()}}
	clock := newFakeClock()
	m := ledgerManager(t, st, clock, 100, 10, nil)
	for i, op := range []string{"lock", "load", "store"} {
		st.set(op)
		name := "n" + op + ".t1.test"
		err := order(m, name)
		if err == nil || !strings.Contains(err.Error(), "order budget unavailable: ") || !strings.Contains(err.Error(), errBroken.Error()) {
			t.Fatalf("order with the ledger's %s failing = %v; want refused: order budget unavailable", op, err)
		}
		// Backed off as after a failed order.
		s := m.Status(name)
		if s.State != StateFailed || !strings.HasPrefix(s.Reason, reasonUnavailable+": ") || !s.NextRetry.Equal(clock.now().Add(DefaultRetryBase)) {
			t.Errorf("status after a ledger %s error = %+v; want failed until %v", op, s, clock.now().Add(DefaultRetryBase))
		}
		st.set("")
		if err := order(m, name); err == nil {
			t.Errorf("order %d retried within its back-off", i)
		}
		clock.add(DefaultRetryBase)
		mustOrder(t, m, name)
	}
	if l := readLedger(t, st); len(l.Orders) != 3 {
		t.Errorf("ledger = %+v; want the 3 orders placed once it worked", l)
	}
}

// TestOrderLedgerWildcards: wildcard orders count toward the global cap
// but are never refused by it; a ledger that cannot be written stops one
// (certmagic retries it) without a back-off.
func TestOrderLedgerWildcards(t *testing.T) {
	st := &failingStorage{Storage: &certmagic.FileStorage{Path: t.TempDir()}}
	clock := newFakeClock()
	a := ledgerManager(t, st, clock, 2, 10, nil)
	b := ledgerManager(t, &certmagic.FileStorage{Path: st.Storage.(*certmagic.FileStorage).Path}, clock, 2, 10, nil)
	wild := func(m *Manager, name string) error {
		return m.onWildcardEvent(context.Background(), "cert_obtaining", map[string]any{"identifier": name})
	}
	for i := range 3 {
		if err := wild(a, "*.example.test"); err != nil {
			t.Fatalf("wildcard order %d refused: %v", i+1, err)
		}
	}
	// (a has no Config.Wildcards, so Status does not report them.)
	if s := a.budget.snapshot("*.example.test"); s.state != StatePending {
		t.Errorf("wildcard state = %+v, want pending", s)
	}
	mustRefuse(t, b, "a.t1.test", reasonGlobal, clock.now().Add(time.Hour))
	if l := readLedger(t, st); len(l.Orders) != 3 || len(l.Tenants) != 0 {
		t.Errorf("ledger = %+v; want 3 orders charged to no tenant", l)
	}

	st.set("store")
	err := wild(a, "*.example.test")
	if err == nil || errors.As(err, new(certmagic.ErrNoRetry)) || !strings.Contains(err.Error(), "order budget unavailable: ") {
		t.Errorf("wildcard order with the ledger unwritable = %v; want a retryable order budget unavailable error", err)
	}
	if s := a.budget.snapshot("*.example.test"); s.state != StateFailed || !s.nextRetry.IsZero() || !strings.HasPrefix(s.reason, reasonUnavailable) {
		t.Errorf("wildcard state = %+v; want failed without a retry time", s)
	}
	st.set("")
	if err := wild(a, "*.example.test"); err != nil {
		t.Errorf("wildcard order once the ledger works = %v", err)
	}
}

// TestLedgerPrune: the ledger keeps the times within an hour of now,
// sorted (nodes' clocks differ slightly; a time more than an hour ahead
// would never expire), and drops tenants with none.
func TestLedgerPrune(t *testing.T) {
	t.Parallel()
	now := newFakeClock().now()
	at := func(d time.Duration) time.Time { return now.Add(d) }
	l := ledger{
		Orders:  []time.Time{at(5 * time.Second), at(-2 * time.Hour), at(-time.Hour), at(-30 * time.Minute), at(2 * time.Hour), {}},
		Tenants: map[string][]time.Time{"old": {at(-61 * time.Minute)}, "t1": {at(time.Second), at(-time.Minute)}},
	}
	l.prune(now)
	if len(l.Orders) != 2 || !l.Orders[0].Equal(at(-30*time.Minute)) || !l.Orders[1].Equal(at(5*time.Second)) {
		t.Errorf("pruned orders = %v", l.Orders)
	}
	if len(l.Tenants) != 1 || len(l.Tenants["t1"]) != 2 || !l.Tenants["t1"][0].Equal(at(-time.Minute)) {
		t.Errorf("pruned tenants = %v", l.Tenants)
	}
}

// TestBudgetOverCap: with more orders counted than the cap (wildcard
// orders, or a cap lowered since), the retry time is when enough of them
// leave the hour.
func TestBudgetOverCap(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	t0 := clock.now()
	st := &certmagic.FileStorage{Path: t.TempDir()}
	b := newBudget(st, quietLogger(), 2, 0, time.Minute, time.Hour, clock.now)
	ctx := context.Background()
	for i := range 4 {
		if err := b.charge(ctx, "*.example.test"); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			clock.add(time.Minute)
		}
	}
	ok, reason, retry := b.take(ctx, "a.test", "")
	if ok || reason != reasonGlobal || !retry.Equal(t0.Add(2*time.Minute+time.Hour)) {
		t.Errorf("take over the cap = %v %q %v; want refused until %v", ok, reason, retry, t0.Add(2*time.Minute+time.Hour))
	}
	clock.add(time.Hour - time.Minute - 2*time.Second) // t0+3m → 2s before the retry time
	if ok, _, _ := b.take(ctx, "b.test", ""); ok {
		t.Error("take before the retry time accepted")
	}
	clock.add(2 * time.Second) // the retry time: one order left in the hour
	if ok, reason, _ := b.take(ctx, "c.test", ""); !ok {
		t.Errorf("take at the retry time refused: %s", reason)
	}
}

// TestOrderBudget: the orders of the last hour, as every node sharing the
// storage counts them, against the platform-wide cap.
func TestOrderBudget(t *testing.T) {
	t.Parallel()
	st := &certmagic.FileStorage{Path: t.TempDir()}
	clock := newFakeClock()
	a := ledgerManager(t, st, clock, 5, 0, nil)
	b := ledgerManager(t, st, clock, 5, 0, nil)
	ctx := context.Background()
	if used, limit, err := a.OrderBudget(ctx); err != nil || used != 0 || limit != 5 {
		t.Fatalf("empty ledger: %d of %d, %v", used, limit, err)
	}
	mustOrder(t, a, "x.acme.test")
	mustOrder(t, b, "y.beta.test")
	clock.add(30 * time.Minute)
	mustOrder(t, b, "z.beta.test")
	if used, _, err := a.OrderBudget(ctx); err != nil || used != 3 {
		t.Fatalf("after three orders on two nodes: %d, %v; want 3", used, err)
	}
	clock.add(31 * time.Minute)
	if used, _, err := b.OrderBudget(ctx); err != nil || used != 1 {
		t.Fatalf("an hour after the first two: %d, %v; want 1", used, err)
	}
}
