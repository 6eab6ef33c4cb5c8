package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/usagecols"
)

var (
	addUsageSQL = `INSERT INTO usage_minutes (site_id, tenant_id, minute, ` + usagecols.List("%c") + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]` + bigintArrays(4, len(usagecols.Cols)) + `)
ORDER BY 1, 3
ON CONFLICT (site_id, minute) DO UPDATE SET tenant_id = excluded.tenant_id, ` + usagecols.List("%c = usage_minutes.%c + excluded.%c") + "\n"
	rollUpSQL = `INSERT INTO usage_hours (site_id, tenant_id, hour, ` + usagecols.List("%c") + `)
SELECT site_id, max(tenant_id), minute - minute % 3600, ` + usagecols.List("sum(%c)") + `
FROM usage_minutes WHERE minute >= $1 AND minute < $2
GROUP BY site_id, minute - minute % 3600
ON CONFLICT (site_id, hour) DO UPDATE SET tenant_id = excluded.tenant_id, ` + usagecols.List("%c = excluded.%c")
)

// bigintArrays returns ", $from::bigint[], …" for n parameters.
func bigintArrays(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		b.WriteString(", $" + strconv.Itoa(i) + "::bigint[]")
	}
	return b.String()
}

// AddUsage implements tenants.Store: one statement upserts every row,
// sent as one array per column. Rows are applied in (site, minute)
// order, so nodes flushing overlapping rows at once lock them in the
// same order and cannot deadlock.
func (s *Store) AddUsage(ctx context.Context, rows []tenants.UsageRow) error {
	if len(rows) == 0 {
		return nil
	}
	sites := make([]string, len(rows))
	tenantIDs := make([]string, len(rows))
	minutes := make([]int64, len(rows))
	cols := make([][]int64, len(usagecols.Cols))
	for i := range cols {
		cols[i] = make([]int64, len(rows))
	}
	vals := make([]any, 0, len(usagecols.Cols))
	for i := range rows {
		r := &rows[i]
		sites[i], tenantIDs[i], minutes[i] = r.SiteID, r.TenantID, r.Minute.Truncate(time.Minute).Unix()
		vals = usagecols.Values(vals[:0], &r.UsageCounters)
		for j, v := range vals {
			cols[j][i] = v.(int64)
		}
	}
	args := make([]any, 0, 3+len(cols))
	args = append(args, sites, tenantIDs, minutes)
	for _, c := range cols {
		args = append(args, c)
	}
	if _, err := s.pool.Exec(ctx, addUsageSQL, args...); err != nil {
		return fmt.Errorf("pgstore: adding usage: %w", err)
	}
	return nil
}

// UsageSeries implements tenants.Store.
func (s *Store) UsageSeries(ctx context.Context, q tenants.UsageQuery) ([]tenants.UsagePoint, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	table, col := "usage_minutes", "minute"
	if q.Step%time.Hour == 0 {
		table, col = "usage_hours", "hour"
	}
	key, val := "site_id", q.SiteID
	if q.SiteID == "" {
		key, val = "tenant_id", q.TenantID
	}
	from, step := q.From.Unix(), int64(q.Step/time.Second)
	query := fmt.Sprintf(`SELECT (%[1]s - $1) / $2 AS b, %[2]s FROM %[3]s
WHERE %[4]s = $3 AND %[1]s >= $1 AND %[1]s < $4 GROUP BY b ORDER BY b`, col, usagecols.List("sum(%c)::bigint"), table, key)
	rows, err := s.pool.Query(ctx, query, from, step, val, q.To.Unix())
	if err != nil {
		return nil, fmt.Errorf("pgstore: reading usage: %w", err)
	}
	defer rows.Close()
	var out []tenants.UsagePoint
	for rows.Next() {
		var p tenants.UsagePoint
		var b, cpu int64
		if err := rows.Scan(usagecols.Dest([]any{&b}, &p.UsageCounters, &cpu)...); err != nil {
			return nil, fmt.Errorf("pgstore: reading usage: %w", err)
		}
		p.Start = time.Unix(from+b*step, 0).UTC()
		p.CPU = time.Duration(cpu) * time.Microsecond
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: reading usage: %w", err)
	}
	return out, nil
}

// usageCompactLock is the pg_advisory_xact_lock key of CompactUsage
// ("pier.usage").
const usageCompactLock int64 = 0x7069_6572_7573_6167

// CompactUsage implements tenants.Store.
func (s *Store) CompactUsage(ctx context.Context, now time.Time) error {
	hour := now.Truncate(time.Hour)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: compacting usage: %w", err)
	}
	defer tx.Rollback(ctx)
	// One node at a time: the work is idempotent, so a node that finds
	// another compacting skips this round.
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, usageCompactLock).Scan(&locked); err != nil {
		return fmt.Errorf("pgstore: compacting usage: %w", err)
	}
	if !locked {
		return nil
	}
	if _, err := tx.Exec(ctx, rollUpSQL, hour.Add(-time.Hour).Unix(), hour.Add(time.Hour).Unix()); err != nil {
		return fmt.Errorf("pgstore: rolling usage up: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM usage_minutes WHERE minute < $1`, now.Add(-tenants.UsageMinuteRetention).Unix()); err != nil {
		return fmt.Errorf("pgstore: deleting old usage: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM usage_hours WHERE hour < $1`, now.Add(-tenants.UsageHourRetention).Unix()); err != nil {
		return fmt.Errorf("pgstore: deleting old usage: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: compacting usage: %w", err)
	}
	return nil
}
