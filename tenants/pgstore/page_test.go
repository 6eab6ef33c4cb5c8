package pgstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/tenants/storetest"
)

// seedPages bulk-loads d into s with COPY, in one transaction.
func seedPages(tb testing.TB, s *Store, d storetest.PagesData) {
	tb.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tenants"}, []string{"id", "name", "plan", "tags", "salt", "created_at"},
			pgx.CopyFromSlice(len(d.Tenants), func(i int) ([]any, error) {
				t := d.Tenants[i]
				return []any{t.ID, t.Name, t.Plan, tags(t.Tags), t.Salt, t.Created}, nil
			})); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"sites"}, []string{"id", "tenant_id", "name", "created_at"},
			pgx.CopyFromSlice(len(d.Sites), func(i int) ([]any, error) {
				st := d.Sites[i]
				return []any{st.ID, st.TenantID, st.Name, st.Created}, nil
			})); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"deployments"},
			[]string{"id", "site_id", "manifest", "files", "bytes", "config", "source_type", "created_at"},
			pgx.CopyFromSlice(len(d.Deployments), func(i int) ([]any, error) {
				dp := d.Deployments[i]
				return []any{dp.ID, dp.SiteID, "{}", dp.Files, dp.Bytes, "{}", dp.Source.Type, dp.Created}, nil
			}))
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE tenants, sites, deployments`); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkPages measures one page of 100 of each listing among 10,000
// tenants, 10,000 sites and 5,000 deployments of one site.
func BenchmarkPages(b *testing.B) {
	s := benchStore(b)
	d := storetest.NewPagesData()
	seedPages(b, s.(*Store), d)
	storetest.BenchPages(b, s, d)
}
