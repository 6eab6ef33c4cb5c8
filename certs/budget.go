package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// The order ledger: the times of the new certificate orders of the last
// hour, globally and per tenant, kept in the certificate Storage so that
// every node sharing it (and a node after a restart) counts the same
// orders against the same caps — the nodes share one ACME account, whose
// limits the caps exist to respect.
const (
	// ledgerKey is the ledger's storage key.
	ledgerKey = "pier/order-ledger.json"
	// ledgerLock is the storage lock its read-modify-write holds.
	ledgerLock = "pier_order_ledger"
	// ledgerTimeout bounds charging one order: waiting for the lock, the
	// read and the write.
	ledgerTimeout = time.Minute
	// ledgerUnlockTimeout bounds releasing the lock.
	ledgerUnlockTimeout = 10 * time.Second
)

// Reasons of refused orders (Status.Reason, the domain API).
const (
	reasonGlobal      = "global certificate order budget exhausted"
	reasonTenant      = "tenant certificate order budget exhausted"
	reasonUnavailable = "order budget unavailable"
)

// ledger is the stored order ledger: order times, oldest first, within
// the last hour. Times are the ordering nodes' clocks.
type ledger struct {
	Orders  []time.Time            `json:"orders"`
	Tenants map[string][]time.Time `json:"tenants,omitempty"`
}

// prune keeps, sorted, the times within an hour of now: after an hour
// before it and at most an hour after it (a time further ahead is no
// node's clock, and would never expire).
func prune(ts []time.Time, now time.Time) []time.Time {
	from, to := now.Add(-time.Hour), now.Add(time.Hour)
	ts = slices.DeleteFunc(ts, func(t time.Time) bool { return !t.After(from) || t.After(to) })
	slices.SortFunc(ts, time.Time.Compare)
	return ts
}

// prune drops what is older than an hour before now, and tenants left
// with no order.
func (l *ledger) prune(now time.Time) {
	l.Orders = prune(l.Orders, now)
	for tenant, ts := range l.Tenants {
		if ts = prune(ts, now); len(ts) == 0 {
			delete(l.Tenants, tenant)
		} else {
			l.Tenants[tenant] = ts
		}
	}
}

// budget caps new certificate orders in a sliding hour, globally and per
// tenant, through the order ledger in storage (shared by the nodes using
// that storage, durable across restarts). It also backs off names whose
// orders failed and holds each name's certificate state for Status: those
// are in this node's memory (they follow this node's orders and what it
// has loaded), so the handshake path never touches storage. All methods
// are safe for concurrent use.
type budget struct {
	global, perTenant int // 0: no cap
	retryBase         time.Duration
	retryMax          time.Duration
	now               func() time.Time
	storage           certmagic.Storage
	log               *slog.Logger

	// ledgerSem serialises this node's ledger updates before they
	// contend for the storage lock (which a waiter polls).
	ledgerSem chan struct{}

	mu    sync.RWMutex // read-locked on the handshake path (backedOff); never held during storage I/O
	names map[string]*nameState
}

// nameState is what the manager knows of one name's certificate.
type nameState struct {
	state     string
	reason    string
	failures  int
	nextRetry time.Time
}

// newBudget returns a budget whose ledger is in st; global and perTenant
// are the caps (0: none).
func newBudget(st certmagic.Storage, log *slog.Logger, global, perTenant int, base, max time.Duration, now func() time.Time) *budget {
	return &budget{
		global: global, perTenant: perTenant,
		retryBase: base, retryMax: max, now: now,
		storage: st, log: log,
		ledgerSem: make(chan struct{}, 1),
		names:     make(map[string]*nameState),
	}
}

// take charges one order for name (of tenant, "" for none) to the ledger.
// It refuses, returning the reason and when to try again, when name is
// backed off after a failure, a cap is reached, or the ledger cannot be
// read or written (the order could not be counted; the name is then
// backed off as after a failed order). A refusal is recorded in name's
// state.
func (b *budget) take(ctx context.Context, name, tenant string) (ok bool, reason string, retry time.Time) {
	b.mu.Lock()
	st := b.state(name)
	if st.state == StateFailed && b.now().Before(st.nextRetry) {
		reason, retry = st.reason, st.nextRetry
		b.mu.Unlock()
		return false, reason, retry
	}
	b.mu.Unlock()

	ok, reason, retry, err := b.chargeLedger(ctx, tenant, true)

	b.mu.Lock()
	defer b.mu.Unlock()
	st = b.state(name)
	switch {
	case err != nil:
		reason = reasonUnavailable + ": " + err.Error()
		return false, reason, b.backOff(st, reason)
	case !ok:
		b.refuse(st, reason, retry)
		return false, reason, retry
	}
	st.state, st.reason, st.nextRetry = StatePending, "", time.Time{}
	return true, "", time.Time{}
}

// charge records an order for name to the ledger's global count without
// consulting the caps (a Config.Wildcards order, which they never
// refuse). An error means the ledger could not be read or written; the
// reason is recorded in name's state, with no back-off (certmagic retries
// wildcard orders on its own schedule).
func (b *budget) charge(ctx context.Context, name string) error {
	_, _, _, err := b.chargeLedger(ctx, "", false)
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state(name)
	if err != nil {
		err = fmt.Errorf("%s: %w", reasonUnavailable, err)
		st.failures++
		st.state, st.reason, st.nextRetry = StateFailed, err.Error(), time.Time{}
		return err
	}
	st.state, st.reason, st.nextRetry = StatePending, "", time.Time{}
	return nil
}

// chargeLedger adds an order (of tenant, "" for none) to the ledger under
// the storage lock. With enforce, it first checks the caps and, when one
// is reached, refuses with its reason and the time enough of the counted
// orders will have left the hour, writing nothing. err is a storage
// error: nothing was charged.
func (b *budget) chargeLedger(ctx context.Context, tenant string, enforce bool) (ok bool, reason string, retry time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	select {
	case b.ledgerSem <- struct{}{}:
		defer func() { <-b.ledgerSem }()
	case <-ctx.Done():
		return false, "", time.Time{}, fmt.Errorf("waiting for the order ledger: %w", ctx.Err())
	}
	if err := b.storage.Lock(ctx, ledgerLock); err != nil {
		return false, "", time.Time{}, fmt.Errorf("locking the order ledger: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerUnlockTimeout)
		defer cancel()
		if err := b.storage.Unlock(uctx, ledgerLock); err != nil {
			b.log.Error("unlocking the certificate order ledger", "lock", ledgerLock, "error", err)
		}
	}()
	l, err := b.loadLedger(ctx)
	if err != nil {
		return false, "", time.Time{}, err
	}
	now := b.now()
	l.prune(now)
	if enforce {
		if b.global > 0 && len(l.Orders) >= b.global {
			return false, reasonGlobal, l.Orders[len(l.Orders)-b.global].Add(time.Hour), nil
		}
		if ts := l.Tenants[tenant]; tenant != "" && b.perTenant > 0 && len(ts) >= b.perTenant {
			return false, reasonTenant, ts[len(ts)-b.perTenant].Add(time.Hour), nil
		}
	}
	l.Orders = prune(append(l.Orders, now), now)
	if tenant != "" {
		if l.Tenants == nil {
			l.Tenants = make(map[string][]time.Time)
		}
		l.Tenants[tenant] = prune(append(l.Tenants[tenant], now), now)
	}
	data, err := json.Marshal(l)
	if err != nil {
		return false, "", time.Time{}, fmt.Errorf("encoding the order ledger: %w", err)
	}
	if err := b.storage.Store(ctx, ledgerKey, data); err != nil {
		return false, "", time.Time{}, fmt.Errorf("writing the order ledger: %w", err)
	}
	return true, "", time.Time{}, nil
}

// loadLedger reads the ledger: empty when there is none, and when it
// cannot be decoded (logged; the caller's write replaces it). Any other
// storage error is returned.
func (b *budget) loadLedger(ctx context.Context) (*ledger, error) {
	l := new(ledger)
	data, err := b.storage.Load(ctx, ledgerKey)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the order ledger: %w", err)
	}
	if err := json.Unmarshal(data, l); err != nil {
		b.log.Warn("certificate order ledger unreadable; treated as empty and rewritten", "key", ledgerKey, "error", err)
		return new(ledger), nil
	}
	return l, nil
}

// failedRetrying records a failed order for name that its owner retries
// on its own schedule: failed, with no back-off and no retry time.
func (b *budget) failedRetrying(name, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state(name)
	st.failures++
	st.state, st.reason, st.nextRetry = StateFailed, reason, time.Time{}
}

func (b *budget) refuse(st *nameState, reason string, retry time.Time) {
	st.state, st.reason, st.nextRetry = StateFailed, reason, retry
}

func (b *budget) state(name string) *nameState {
	st := b.names[name]
	if st == nil {
		st = &nameState{state: StateNone}
		b.names[name] = st
	}
	return st
}

// pending records that name is about to be obtained (before the budget
// is consulted), unless it is backed off.
func (b *budget) pending(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state(name)
	if st.state == StateFailed && b.now().Before(st.nextRetry) {
		return
	}
	st.state, st.reason = StatePending, ""
}

// failed records a failed order for name and backs it off exponentially:
// retryBase after the first failure, doubling up to retryMax.
func (b *budget) failed(name, reason string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.backOff(b.state(name), reason)
}

// backOff records a failure of st's name (b.mu held) and returns when it
// may be ordered again.
func (b *budget) backOff(st *nameState, reason string) time.Time {
	st.failures++
	wait := b.retryBase
	for i := 1; i < st.failures && wait < b.retryMax; i++ {
		wait *= 2
	}
	wait = min(wait, b.retryMax)
	st.state, st.reason, st.nextRetry = StateFailed, reason, b.now().Add(wait)
	return st.nextRetry
}

// succeeded records that name has a certificate.
func (b *budget) succeeded(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state(name)
	st.state, st.reason, st.failures, st.nextRetry = StateActive, "", 0, time.Time{}
}

// backedOff reports whether name failed and must not be tried before its
// retry time.
func (b *budget) backedOff(name string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	st := b.names[name]
	return st != nil && st.state == StateFailed && b.now().Before(st.nextRetry)
}

// forget drops what is known of name.
func (b *budget) forget(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.names, name)
}

func (b *budget) snapshot(name string) nameState {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if st := b.names[name]; st != nil {
		return *st
	}
	return nameState{state: StateNone}
}

// OrderBudget reports the new certificate orders of the last hour, counted
// in the order ledger across every node sharing the storage, and the
// platform-wide cap (0: none). It reads the ledger without its lock: the
// count may be one order behind a node writing it at that moment.
func (m *Manager) OrderBudget(ctx context.Context) (lastHour, limit int, err error) {
	l, err := m.budget.loadLedger(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("certs: %w", err)
	}
	l.prune(m.budget.now())
	return len(l.Orders), m.budget.global, nil
}
