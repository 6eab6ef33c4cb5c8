package sqlitestore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/usagecols"
)

var (
	addUsageSQL = `INSERT INTO usage_minutes (site_id, tenant_id, minute, ` + usagecols.List("%c") + `)
VALUES (?, ?, ?` + strings.Repeat(", ?", len(usagecols.Cols)) + `)
ON CONFLICT (site_id, minute) DO UPDATE SET tenant_id = excluded.tenant_id, ` + usagecols.List("%c = %c + excluded.%c")
	rollUpSQL = `INSERT INTO usage_hours (site_id, tenant_id, hour, ` + usagecols.List("%c") + `)
SELECT site_id, max(tenant_id), minute - minute % 3600, ` + usagecols.List("sum(%c)") + `
FROM usage_minutes WHERE minute >= ? AND minute < ?
GROUP BY site_id, minute - minute % 3600
ON CONFLICT (site_id, hour) DO UPDATE SET tenant_id = excluded.tenant_id, ` + usagecols.List("%c = excluded.%c")
)

// AddUsage implements tenants.Store.
func (s *Store) AddUsage(ctx context.Context, rows []tenants.UsageRow) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: adding usage: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, addUsageSQL)
	if err != nil {
		return fmt.Errorf("sqlitestore: adding usage: %w", err)
	}
	defer stmt.Close()
	args := make([]any, 0, 3+len(usagecols.Cols))
	for i := range rows {
		r := &rows[i]
		args = append(args[:0], r.SiteID, r.TenantID, r.Minute.Truncate(time.Minute).Unix())
		args = usagecols.Values(args, &r.UsageCounters)
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sqlitestore: adding usage of site %s: %w", r.SiteID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: adding usage: %w", err)
	}
	return nil
}

// UsageSeries implements tenants.Store.
func (s *Store) UsageSeries(ctx context.Context, q tenants.UsageQuery) ([]tenants.UsagePoint, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
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
	query := fmt.Sprintf(`SELECT (%[1]s - ?1) / ?2 AS b, %[2]s FROM %[3]s
WHERE %[4]s = ?3 AND %[1]s >= ?1 AND %[1]s < ?4 GROUP BY b ORDER BY b`, col, usagecols.List("sum(%c)"), table, key)
	rows, err := s.read.QueryContext(ctx, query, from, step, val, q.To.Unix())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: reading usage: %w", err)
	}
	defer rows.Close()
	var out []tenants.UsagePoint
	for rows.Next() {
		var p tenants.UsagePoint
		var b, cpu int64
		if err := rows.Scan(usagecols.Dest([]any{&b}, &p.UsageCounters, &cpu)...); err != nil {
			return nil, fmt.Errorf("sqlitestore: reading usage: %w", err)
		}
		p.Start = time.Unix(from+b*step, 0).UTC()
		p.CPU = time.Duration(cpu) * time.Microsecond
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: reading usage: %w", err)
	}
	return out, nil
}

// CompactUsage implements tenants.Store.
func (s *Store) CompactUsage(ctx context.Context, now time.Time) error {
	hour := now.Truncate(time.Hour)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: compacting usage: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, rollUpSQL, hour.Add(-time.Hour).Unix(), hour.Add(time.Hour).Unix()); err != nil {
		return fmt.Errorf("sqlitestore: rolling usage up: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM usage_minutes WHERE minute < ?`, now.Add(-tenants.UsageMinuteRetention).Unix()); err != nil {
		return fmt.Errorf("sqlitestore: deleting old usage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM usage_hours WHERE hour < ?`, now.Add(-tenants.UsageHourRetention).Unix()); err != nil {
		return fmt.Errorf("sqlitestore: deleting old usage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: compacting usage: %w", err)
	}
	return nil
}
