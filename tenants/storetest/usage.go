package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// usageMinute is a minute of the usage tests, in a non-UTC zone.
var usageMinute = time.Date(2026, 3, 4, 5, 6, 0, 0, time.FixedZone("UTC+1", 3600))

func counters(seed int64) tenants.UsageCounters {
	var c tenants.UsageCounters
	for i := range c.Requests {
		c.Requests[i] = seed * int64(i+1)
	}
	c.BytesOut = seed * 1000
	for i := range c.Invocations {
		c.Invocations[i] = seed * int64(i+1)
	}
	c.CPU = time.Duration(seed) * 1500 * time.Microsecond
	c.SubRequests = seed * 3
	c.KVReads, c.KVWrites, c.KVBytes = seed*5, seed*7, seed*11
	return c
}

func sum(cs ...tenants.UsageCounters) tenants.UsageCounters {
	var s tenants.UsageCounters
	for i := range cs {
		s.Add(&cs[i])
	}
	return s
}

func (h *harness) series(t *testing.T, s tenants.Store, q tenants.UsageQuery) []tenants.UsagePoint {
	t.Helper()
	ps, err := s.UsageSeries(h.ctx, q)
	if err != nil {
		t.Fatalf("UsageSeries(%+v): %v", q, err)
	}
	return ps
}

func equalSeries(t *testing.T, what string, got, want []tenants.UsagePoint) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d points %+v, want %d %+v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if !got[i].Start.Equal(want[i].Start) || got[i].Start.Location() != time.UTC || got[i].UsageCounters != want[i].UsageCounters {
			t.Errorf("%s: point %d = %v %+v, want %v %+v", what, i, got[i].Start, got[i].UsageCounters, want[i].Start.UTC(), want[i].UsageCounters)
		}
	}
}

// testUsageAdd: rows of two nodes for the same (site, minute) add up,
// across many batches written concurrently; buckets of a step sum
// minutes; a tenant's series sums its sites; rows survive a reopen.
func testUsageAdd(t *testing.T, h *harness) {
	m := usageMinute
	row := func(site, tenant string, minute time.Time, seed int64) tenants.UsageRow {
		return tenants.UsageRow{SiteID: site, TenantID: tenant, Minute: minute, UsageCounters: counters(seed)}
	}
	var wg sync.WaitGroup
	const batches = 10
	for node := int64(1); node <= 2; node++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range batches {
				rows := []tenants.UsageRow{
					row("s_a", "t_1", m, node),
					row("s_a", "t_1", m.Add(time.Minute), node),
					row("s_b", "t_1", m, 10*node),
					row("s_c", "t_2", m, 100),
				}
				if err := h.s.AddUsage(h.ctx, rows); err != nil {
					t.Errorf("AddUsage(node %d): %v", node, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mustNil(t, "AddUsage(nil)", h.s.AddUsage(h.ctx, nil))
	c := func(seed int64) tenants.UsageCounters { return counters(batches * seed) }
	from, to := m.Add(-time.Minute), m.Add(10*time.Minute)
	site := tenants.UsageQuery{SiteID: "s_a", From: from, To: to, Step: time.Minute}
	wantSite := []tenants.UsagePoint{{Start: m, UsageCounters: sum(c(1), c(2))}, {Start: m.Add(time.Minute), UsageCounters: sum(c(1), c(2))}}
	equalSeries(t, "site s_a by minute", h.series(t, h.s, site), wantSite)

	site.Step = 5 * time.Minute
	equalSeries(t, "site s_a by 5 minutes", h.series(t, h.s, site), []tenants.UsagePoint{{Start: from, UsageCounters: sum(c(1), c(2), c(1), c(2))}})

	tenant := tenants.UsageQuery{TenantID: "t_1", From: from, To: to, Step: time.Minute}
	wantTenant := []tenants.UsagePoint{{Start: m, UsageCounters: sum(c(1), c(2), c(10), c(20))}, {Start: m.Add(time.Minute), UsageCounters: sum(c(1), c(2))}}
	equalSeries(t, "tenant t_1", h.series(t, h.s, tenant), wantTenant)
	equalSeries(t, "tenant t_2", h.series(t, h.s, tenants.UsageQuery{TenantID: "t_2", From: from, To: to, Step: time.Minute}),
		[]tenants.UsagePoint{{Start: m, UsageCounters: c(200)}})
	equalSeries(t, "a window that excludes the rows", h.series(t, h.s, tenants.UsageQuery{SiteID: "s_a", From: m.Add(2 * time.Minute), To: to, Step: time.Minute}), nil)
	equalSeries(t, "an unknown site", h.series(t, h.s, tenants.UsageQuery{SiteID: "s_none", From: from, To: to, Step: time.Minute}), nil)

	for _, q := range []tenants.UsageQuery{
		{From: from, To: to, Step: time.Minute},
		{SiteID: "s_a", From: from, To: to, Step: 30 * time.Second},
		{SiteID: "s_a", From: to, To: from, Step: time.Minute},
	} {
		_, err := h.s.UsageSeries(h.ctx, q)
		wantErr(t, "UsageSeries of an invalid query", err, tenants.ErrInvalid)
	}

	h.close()
	h.s = h.reopen()
	h.closed = false
	equalSeries(t, "site s_a after reopen", h.series(t, h.s, tenants.UsageQuery{SiteID: "s_a", From: from, To: to, Step: time.Minute}), wantSite)
}

// testUsageRollUpAndRetention: CompactUsage rolls the previous and the
// current hour up (idempotently: running it twice, or after more rows
// came, gives the sums), serves hourly and daily steps from the roll-ups,
// and deletes minute rows after 7 days and hourly rows after 90.
func testUsageRollUpAndRetention(t *testing.T, h *harness) {
	hour := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	add := func(minute time.Time, seed int64) {
		t.Helper()
		mustNil(t, "AddUsage", h.s.AddUsage(h.ctx, []tenants.UsageRow{{SiteID: "s_a", TenantID: "t_1", Minute: minute, UsageCounters: counters(seed)}}))
	}
	add(hour.Add(-2*time.Hour), 7) // too old for the roll-up at 10:30
	add(hour.Add(-time.Hour), 1)
	add(hour.Add(-time.Hour+59*time.Minute), 2)
	add(hour.Add(5*time.Minute), 3)
	now := hour.Add(30 * time.Minute)
	mustNil(t, "CompactUsage", h.s.CompactUsage(h.ctx, now))
	mustNil(t, "CompactUsage again", h.s.CompactUsage(h.ctx, now))
	q := tenants.UsageQuery{SiteID: "s_a", From: hour.Add(-3 * time.Hour), To: hour.Add(time.Hour), Step: time.Hour}
	equalSeries(t, "hourly", h.series(t, h.s, q), []tenants.UsagePoint{
		{Start: hour.Add(-time.Hour), UsageCounters: sum(counters(1), counters(2))},
		{Start: hour, UsageCounters: counters(3)},
	})
	add(hour.Add(6*time.Minute), 4)
	mustNil(t, "CompactUsage after more rows", h.s.CompactUsage(h.ctx, now.Add(time.Minute)))
	equalSeries(t, "hourly after more rows", h.series(t, h.s, q), []tenants.UsagePoint{
		{Start: hour.Add(-time.Hour), UsageCounters: sum(counters(1), counters(2))},
		{Start: hour, UsageCounters: sum(counters(3), counters(4))},
	})
	day := tenants.UsageQuery{TenantID: "t_1", From: hour.Truncate(24 * time.Hour), To: hour.Truncate(24 * time.Hour).Add(24 * time.Hour), Step: 24 * time.Hour}
	equalSeries(t, "daily", h.series(t, h.s, day), []tenants.UsagePoint{
		{Start: day.From, UsageCounters: sum(counters(1), counters(2), counters(3), counters(4))},
	})

	minutes := tenants.UsageQuery{SiteID: "s_a", From: hour.Add(-3 * time.Hour), To: hour.Add(time.Hour), Step: time.Minute}
	if n := len(h.series(t, h.s, minutes)); n != 5 {
		t.Fatalf("%d minute points before retention, want 5", n)
	}
	// Just over 7 days after the 09:59 minute: the minutes up to 09:59
	// go, 10:05 and 10:06 stay; the hourly rows stay.
	mustNil(t, "CompactUsage a week later", h.s.CompactUsage(h.ctx, hour.Add(tenants.UsageMinuteRetention+time.Second)))
	equalSeries(t, "minutes a week later", h.series(t, h.s, minutes), []tenants.UsagePoint{
		{Start: hour.Add(5 * time.Minute), UsageCounters: counters(3)},
		{Start: hour.Add(6 * time.Minute), UsageCounters: counters(4)},
	})
	if n := len(h.series(t, h.s, q)); n != 2 {
		t.Fatalf("%d hourly points a week later, want 2", n)
	}
	// Just under 90 days after 10:00: the 09:00 roll-up goes.
	mustNil(t, "CompactUsage 90 days later", h.s.CompactUsage(h.ctx, hour.Add(tenants.UsageHourRetention-time.Second)))
	equalSeries(t, "hours 90 days later", h.series(t, h.s, q), []tenants.UsagePoint{{Start: hour, UsageCounters: sum(counters(3), counters(4))}})
	equalSeries(t, "minutes 90 days later", h.series(t, h.s, minutes), nil)
}

// RunUsageNodes checks that two nodes sharing one database (two stores,
// as two edge nodes' flushers have) add their usage of the same
// (site, minute) up when they write at once.
func RunUsageNodes(t *testing.T, open OpenNodes) {
	a, b := open(t)
	t.Cleanup(func() { a.Close(); b.Close() })
	h := &harness{ctx: t.Context(), s: a}
	const batches = 20
	var wg sync.WaitGroup
	const sites = 50
	for i, s := range []tenants.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range batches {
				// The nodes list the same rows in opposite orders: a
				// store must not deadlock on them.
				rows := make([]tenants.UsageRow, sites)
				for j := range rows {
					site := j
					if i == 1 {
						site = sites - 1 - j
					}
					rows[j] = tenants.UsageRow{SiteID: fmt.Sprintf("s_%02d", site), TenantID: "t_1", Minute: usageMinute, UsageCounters: counters(int64(i + 1))}
				}
				if err := s.AddUsage(h.ctx, rows); err != nil {
					t.Errorf("node %d: AddUsage: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Both nodes compact at once: neither fails.
	for _, s := range []tenants.Store{a, b} {
		wg.Go(func() {
			if err := s.CompactUsage(h.ctx, usageMinute.Add(time.Minute)); err != nil {
				t.Errorf("CompactUsage: %v", err)
			}
		})
	}
	wg.Wait()
	q := tenants.UsageQuery{SiteID: "s_07", From: usageMinute, To: usageMinute.Add(time.Minute), Step: time.Minute}
	want := []tenants.UsagePoint{{Start: usageMinute, UsageCounters: sum(counters(batches), counters(2*batches))}}
	equalSeries(t, "node a reads", h.series(t, a, q), want)
	equalSeries(t, "node b reads", h.series(t, b, q), want)
	q = tenants.UsageQuery{TenantID: "t_1", From: usageMinute, To: usageMinute.Add(time.Minute), Step: time.Minute}
	equalSeries(t, "the tenant's sum", h.series(t, b, q), []tenants.UsagePoint{{Start: usageMinute, UsageCounters: counters(sites * 3 * batches)}})
}

// BenchAddUsage measures one flush of 10,000 sites: one AddUsage call of
// 10,000 rows, each adding to an existing row (a node's second flush of
// a minute).
func BenchAddUsage(b *testing.B, s tenants.Store) {
	ctx := b.Context()
	rows := make([]tenants.UsageRow, 10_000)
	for i := range rows {
		rows[i] = tenants.UsageRow{SiteID: fmt.Sprintf("s_%05d", i), TenantID: fmt.Sprintf("t_%03d", i%100), Minute: usageMinute, UsageCounters: counters(1)}
	}
	if err := s.AddUsage(ctx, rows); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.AddUsage(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
}
