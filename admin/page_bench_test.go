package admin_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"testing"
)

// seedPages loads 10,000 tenants (every tenth tagged env:prod), 10,000
// sites (1,000 of tenant-00000) and 5,000 deployments of site-00000 into
// the env's SQLite file in one transaction, through a connection of its
// own (the store's writes commit one row at a time).
func (e *env) seedPages(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: e.dbPath}).EscapedPath()+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	exec := func(q string, n int, args func(i int) []any) {
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		for i := range n {
			if _, err := stmt.ExecContext(ctx, args(i)...); err != nil {
				b.Fatal(err)
			}
		}
	}
	salt := make([]byte, 16)
	exec(`INSERT INTO tenants (id, name, plan, tags, salt, created_at) VALUES (?, ?, 'free', ?, ?, 0)`, 10_000, func(i int) []any {
		tags := "[]"
		if i%10 == 0 {
			tags = `["env:prod"]`
		}
		return []any{fmt.Sprintf("t_%05d", i), fmt.Sprintf("tenant-%05d", i), tags, salt}
	})
	exec(`INSERT INTO sites (id, tenant_id, name, created_at) VALUES (?, ?, ?, 0)`, 10_000, func(i int) []any {
		return []any{fmt.Sprintf("s_%05d", i), fmt.Sprintf("t_%05d", i%10), fmt.Sprintf("site-%05d", i)}
	})
	exec(`INSERT INTO deployments (id, site_id, manifest, files, bytes, config, source_type, created_at) VALUES (?, 's_00000', '{}', 10, 1000, '{}', 'cli', ?)`, 5_000, func(i int) []any {
		return []any{fmt.Sprintf("d_%05d", i), int64(i / 3 * 1000)}
	})
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListPages measures one page (limit 100) of each list endpoint
// over HTTP and SQLite among 10,000 tenants, 10,000 sites and 5,000
// deployments of one site: each iteration reads the next page of a walk
// that starts again after the last one. ns/op (and ms/page) is the time
// of one page, answer decoded.
func BenchmarkListPages(b *testing.B) {
	e := newEnv(b)
	e.seedPages(b)
	for _, l := range []struct{ name, path, field string }{
		{"tenants", "/api/v1/tenants", "tenants"},
		{"tenants by tag", "/api/v1/tenants?tag=env:prod", "tenants"},
		{"sites", "/api/v1/sites", "sites"},
		{"sites of a tenant", "/api/v1/sites?tenant=tenant-00000", "sites"},
		{"sites by search", "/api/v1/sites?q=7", "sites"}, // 3,439 names: the last page is short
		{"deployments", "/api/v1/sites/site-00000/deployments", "deployments"},
	} {
		b.Run(l.name, func(b *testing.B) {
			cursor := ""
			for b.Loop() {
				u, _ := url.Parse(l.path)
				q := u.Query()
				q.Set("limit", "100")
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				u.RawQuery = q.Encode()
				r := must(b, e.do(b, "GET", u.String(), e.admin, nil), 200)
				_, more := r.body["next_cursor"]
				if rows, _ := r.body[l.field].([]any); len(rows) != 100 && (more || len(rows) == 0) {
					b.Fatalf("page after %q has %d rows, want 100 (or 1 to 100 on the last)", cursor, len(rows))
				}
				cursor, _ = r.body["next_cursor"].(string)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/page")
		})
	}
}
