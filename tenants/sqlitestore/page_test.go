package sqlitestore

import (
	"context"
	"testing"

	"github.com/pierhq/pier/tenants/storetest"
)

// seedPages bulk-loads d into s in one transaction with prepared
// statements (the store's own writes commit one row at a time).
func seedPages(tb testing.TB, s *Store, d storetest.PagesData) {
	tb.Helper()
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []struct {
		sql  string
		rows int
		args func(i int) []any
	}{
		{`INSERT INTO tenants (` + tenantCols + `) VALUES (?, ?, ?, 0, 0, 0, 0, 0, '{}', ?, ?, 0, ?)`, len(d.Tenants), func(i int) []any {
			t := d.Tenants[i]
			return []any{t.ID, t.Name, t.Plan, string(tagsJSON(t.Tags)), t.Salt, t.Created.UnixMilli()}
		}},
		{`INSERT INTO sites (id, tenant_id, name, created_at) VALUES (?, ?, ?, ?)`, len(d.Sites), func(i int) []any {
			st := d.Sites[i]
			return []any{st.ID, st.TenantID, st.Name, st.Created.UnixMilli()}
		}},
		{`INSERT INTO deployments (id, site_id, manifest, files, bytes, config, source_type, created_at) VALUES (?, ?, '{}', ?, ?, '{}', ?, ?)`, len(d.Deployments), func(i int) []any {
			dp := d.Deployments[i]
			return []any{dp.ID, dp.SiteID, dp.Files, dp.Bytes, dp.Source.Type, dp.Created.UnixMilli()}
		}},
	} {
		stmt, err := tx.PrepareContext(ctx, q.sql)
		if err != nil {
			tb.Fatal(err)
		}
		for i := range q.rows {
			if _, err := stmt.ExecContext(ctx, q.args(i)...); err != nil {
				tb.Fatal(err)
			}
		}
		stmt.Close()
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkPages measures one page of 100 of each listing among 10,000
// tenants, 10,000 sites and 5,000 deployments of one site.
func BenchmarkPages(b *testing.B) {
	s, _ := open(b)
	defer s.Close()
	d := storetest.NewPagesData()
	seedPages(b, s.(*Store), d)
	storetest.BenchPages(b, s, d)
}
