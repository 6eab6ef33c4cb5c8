package hosting

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pierhq/pier/tenants"
)

// UsageStore is where a UsageFlusher writes; tenants.Store implements it.
type UsageStore interface {
	AddUsage(ctx context.Context, rows []tenants.UsageRow) error
	CompactUsage(ctx context.Context, now time.Time) error
}

// Defaults of UsageFlusherConfig.
const (
	DefaultUsageFlushInterval   = 10 * time.Second
	DefaultUsageCompactInterval = 5 * time.Minute
	DefaultUsageMaxPending      = 100_000
)

// UsageFlusherConfig configures a UsageFlusher. Zero fields take the
// defaults.
type UsageFlusherConfig struct {
	// Interval is the flush period, at most (and by default)
	// DefaultUsageFlushInterval. Flushes also happen at every minute
	// boundary, so a flush's counts belong to one minute.
	Interval time.Duration
	// CompactInterval is how often Run calls the store's CompactUsage
	// (roll-ups and retention; idempotent, so every node runs it).
	// Negative: never.
	CompactInterval time.Duration
	// MaxPending bounds the rows kept for the next flush while the store
	// fails; beyond it the oldest window's rows are dropped (and logged).
	MaxPending int
	Logger     *slog.Logger
	// Now and After are the clock (time.Now and time.After by default).
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// UsageFlusher writes the per-site counters of an Edge to a UsageStore as
// per-minute deltas: each flush adds what was counted since the previous
// one to the row of the minute the window started in, one row per active
// site, all in one AddUsage call (one transaction). It reads the edge's
// atomic counters, keeping the values it last flushed, so the request
// path is untouched: a request counted while a flush reads is in this
// flush or the next, never lost. A node that dies loses at most the
// window since its last successful flush.
type UsageFlusher struct {
	edge  *Edge
	store UsageStore
	cfg   UsageFlusherConfig

	mu          sync.Mutex // serialises flushes
	start       time.Time  // start of the current window
	last        map[*siteUsage]*tenants.UsageCounters
	pending     map[usageKey]*tenants.UsageRow
	order       []usageKey // pending keys in insertion order
	sites       []*siteUsage
	rows        []tenants.UsageRow
	lastCompact time.Time
}

type usageKey struct {
	siteID string
	minute int64
}

// NewUsageFlusher returns a flusher of edge's counters into store. Start
// it with Run; call Flush once the edge stopped serving, at shutdown.
func NewUsageFlusher(edge *Edge, store UsageStore, cfg UsageFlusherConfig) *UsageFlusher {
	if cfg.Interval <= 0 || cfg.Interval > DefaultUsageFlushInterval {
		cfg.Interval = DefaultUsageFlushInterval
	}
	if cfg.CompactInterval == 0 {
		cfg.CompactInterval = DefaultUsageCompactInterval
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultUsageMaxPending
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	f := &UsageFlusher{
		edge: edge, store: store, cfg: cfg,
		last:    map[*siteUsage]*tenants.UsageCounters{},
		pending: map[usageKey]*tenants.UsageRow{},
	}
	f.start = cfg.Now()
	f.lastCompact = f.start
	return f
}

// next returns when the flush after now is due: the next multiple of the
// interval or the next minute boundary, whichever comes first.
func (f *UsageFlusher) next(now time.Time) time.Time {
	next := now.Truncate(f.cfg.Interval).Add(f.cfg.Interval)
	if m := now.Truncate(time.Minute).Add(time.Minute); m.Before(next) {
		return m
	}
	return next
}

// Run flushes on schedule until ctx is done, and compacts the store's
// usage every CompactInterval. Failures are logged and retried at the
// next flush. It does not flush when ctx ends: call Flush for that.
func (f *UsageFlusher) Run(ctx context.Context) {
	for {
		now := f.cfg.Now()
		select {
		case <-ctx.Done():
			return
		case <-f.cfg.After(f.next(now).Sub(now)):
		}
		if err := f.Flush(ctx); err != nil && ctx.Err() == nil {
			f.cfg.Logger.Warn("hosting: flushing usage", "err", err)
		}
		if now := f.cfg.Now(); f.cfg.CompactInterval > 0 && now.Sub(f.lastCompact) >= f.cfg.CompactInterval {
			f.lastCompact = now
			if err := f.store.CompactUsage(ctx, now); err != nil && ctx.Err() == nil {
				f.cfg.Logger.Warn("hosting: compacting usage", "err", err)
			}
		}
	}
}

// Flush writes what was counted since the previous flush (and rows a
// failed flush kept). On error the rows are kept for the next call.
func (f *UsageFlusher) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now()
	minute := f.start.Truncate(time.Minute).Unix()
	f.start = now
	f.sites = f.edge.usage.appendAll(f.sites[:0])
	for _, u := range f.sites {
		id := u.ident.Load()
		if id == nil {
			continue // never routed: nothing counted
		}
		cur := u.counters()
		prev := f.last[u]
		if prev == nil {
			prev = new(tenants.UsageCounters)
			f.last[u] = prev
		}
		delta := sub(cur, prev)
		*prev = cur
		if delta.IsZero() {
			continue
		}
		k := usageKey{id.siteID, minute}
		if r := f.pending[k]; r != nil {
			r.Add(&delta)
			continue
		}
		f.pending[k] = &tenants.UsageRow{SiteID: id.siteID, TenantID: id.tenantID, Minute: time.Unix(minute, 0).UTC(), UsageCounters: delta}
		f.order = append(f.order, k)
	}
	if len(f.pending) == 0 {
		return nil
	}
	f.rows = f.rows[:0]
	for _, k := range f.order {
		f.rows = append(f.rows, *f.pending[k])
	}
	if err := f.store.AddUsage(ctx, f.rows); err != nil {
		f.trim()
		return fmt.Errorf("hosting: writing %d usage rows: %w", len(f.rows), err)
	}
	clear(f.pending)
	f.order = f.order[:0]
	return nil
}

// trim drops the oldest pending rows beyond MaxPending.
func (f *UsageFlusher) trim() {
	n := len(f.order) - f.cfg.MaxPending
	if n <= 0 {
		return
	}
	for _, k := range f.order[:n] {
		delete(f.pending, k)
	}
	f.order = append(f.order[:0], f.order[n:]...)
	f.cfg.Logger.Error("hosting: usage store failing: dropped unwritten usage rows", "rows", n)
}

// sub returns c - o.
func sub(c tenants.UsageCounters, o *tenants.UsageCounters) tenants.UsageCounters {
	for i := range c.Requests {
		c.Requests[i] -= o.Requests[i]
	}
	c.BytesOut -= o.BytesOut
	for i := range c.Invocations {
		c.Invocations[i] -= o.Invocations[i]
	}
	c.CPU -= o.CPU
	c.SubRequests -= o.SubRequests
	c.KVReads -= o.KVReads
	c.KVWrites -= o.KVWrites
	c.KVBytes -= o.KVBytes
	return c
}

// counters loads u's counters (each atomically; a request being counted
// may be half in: its other half comes with the next load).
func (u *siteUsage) counters() tenants.UsageCounters {
	var c tenants.UsageCounters
	for i := range u.requests {
		c.Requests[i] = u.requests[i].Load()
	}
	c.BytesOut = u.bytesOut.Load()
	for i := range u.outcomes {
		c.Invocations[i] = u.outcomes[i].Load()
	}
	c.CPU = time.Duration(u.cpuNanos.Load())
	c.SubRequests = u.subrequests.Load()
	if k := u.kv.Load(); k != nil {
		c.KVReads, c.KVWrites, c.KVBytes = k.reads.Load(), k.writes.Load(), k.bytes.Load()
	}
	return c
}
