package certs

import (
	"sync"
	"time"
)

// budget counts new certificate orders in a sliding hour, globally and per
// tenant, and backs off names whose orders failed. It also holds each
// name's certificate state for Status. All methods are safe for
// concurrent use.
type budget struct {
	global, perTenant int
	retryBase         time.Duration
	retryMax          time.Duration
	now               func() time.Time

	mu      sync.RWMutex           // read-locked on the handshake path (backedOff)
	orders  []time.Time            // global, oldest first, within the last hour
	tenants map[string][]time.Time // per tenant, oldest first
	names   map[string]*nameState
}

// nameState is what the manager knows of one name's certificate.
type nameState struct {
	state     string
	reason    string
	failures  int
	nextRetry time.Time
}

func newBudget(global, perTenant int, base, max time.Duration, now func() time.Time) *budget {
	return &budget{
		global: global, perTenant: perTenant,
		retryBase: base, retryMax: max, now: now,
		tenants: make(map[string][]time.Time),
		names:   make(map[string]*nameState),
	}
}

// prune drops times older than an hour before now.
func prune(ts []time.Time, now time.Time) []time.Time {
	cut := now.Add(-time.Hour)
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}

// take charges one order for name (of tenant, "" for none). It refuses,
// returning the reason and when to try again, when name is backed off
// after a failure or a cap is reached; a refusal is recorded in name's
// state.
func (b *budget) take(name, tenant string) (ok bool, reason string, retry time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	st := b.state(name)
	if st.state == StateFailed && now.Before(st.nextRetry) {
		return false, st.reason, st.nextRetry
	}
	b.orders = prune(b.orders, now)
	if b.global > 0 && len(b.orders) >= b.global {
		retry = b.orders[0].Add(time.Hour)
		b.refuse(st, "global certificate order budget exhausted", retry)
		return false, st.reason, retry
	}
	if tenant != "" && b.perTenant > 0 {
		ts := prune(b.tenants[tenant], now)
		if len(ts) == 0 {
			delete(b.tenants, tenant)
		} else {
			b.tenants[tenant] = ts
		}
		if len(ts) >= b.perTenant {
			retry = ts[0].Add(time.Hour)
			b.refuse(st, "tenant certificate order budget exhausted", retry)
			return false, st.reason, retry
		}
		b.tenants[tenant] = append(ts, now)
	}
	b.orders = append(b.orders, now)
	st.state, st.reason, st.nextRetry = StatePending, "", time.Time{}
	return true, "", time.Time{}
}

// charge records an order for name against the global budget without
// consulting it (a Config.Wildcards order, which is never refused).
func (b *budget) charge(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.orders = append(prune(b.orders, now), now)
	st := b.state(name)
	st.state, st.reason, st.nextRetry = StatePending, "", time.Time{}
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
	st := b.state(name)
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
