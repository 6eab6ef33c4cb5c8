package pgstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/storetest"
)

func opener(pg *testenv.Postgres) storetest.Open {
	return func(tb testing.TB) (tenants.Store, func() tenants.Store) {
		dsn := pg.NewDatabase(tb)
		openDSN := func() tenants.Store {
			s, err := Open(context.Background(), dsn)
			if err != nil {
				tb.Fatalf("Open: %v", err)
			}
			return s
		}
		return openDSN(), openDSN
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, opener(testenv.StartPostgres(t)))
}

func TestOpen(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	t.Run("concurrent start-up migrates once", func(t *testing.T) {
		dsn := pg.NewDatabase(t)
		const n = 6
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = Open(ctx, dsn)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
			} else {
				defer stores[i].Close()
			}
		}
		if err := errors.Join(errs...); err != nil {
			t.FailNow()
		}
		var rows, maxV int
		if err := stores[0].pool.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &maxV); err != nil {
			t.Fatal(err)
		}
		if latest := migrations[len(migrations)-1].version; rows != len(migrations) || maxV != latest {
			t.Errorf("schema_migrations has %d rows up to %d, want %d up to %d", rows, maxV, len(migrations), latest)
		}
	})
	t.Run("newer schema is refused", func(t *testing.T) {
		dsn := pg.NewDatabase(t)
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES (9999)`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if s, err := Open(ctx, dsn); err == nil {
			s.Close()
			t.Fatal("Open accepted a database from a newer version")
		} else if !strings.Contains(err.Error(), "newer") {
			t.Errorf("error %q does not say the schema is newer", err)
		}
	})
	t.Run("upgrade keeps upload sessions", func(t *testing.T) {
		// A database at schema version 1 (before sessions carried a worker)
		// with a session in it.
		dsn := pg.NewDatabase(t)
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range migrations[:1] {
			if err := apply(ctx, pool, m); err != nil {
				t.Fatalf("migration %d: %v", m.version, err)
			}
		}
		for _, q := range []string{
			`INSERT INTO tenants (id, name, plan, salt, created_at) VALUES ('t1', 'acme', 'free', '\x00000000000000000000000000000000', now())`,
			`INSERT INTO sites (id, tenant_id, name, created_at) VALUES ('s1', 't1', 'blog', now())`,
			`INSERT INTO upload_sessions (id, site_id, manifest, expires_at, created_at) VALUES ('u1', 's1', '{}', now() + interval '1 hour', now())`,
		} {
			if _, err := pool.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		pool.Close()
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		u, err := s.UploadSession(ctx, "u1")
		if err != nil {
			t.Fatalf("UploadSession after upgrade: %v", err)
		}
		if u.Worker != nil {
			t.Errorf("upgraded session has worker %+v, want none", u.Worker)
		}
	})
	t.Run("bad dsn", func(t *testing.T) {
		tests := []struct{ name, dsn string }{
			{"unparsable", "postgres://user:secret@[::1"},
			{"nobody listening", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"},
			{"missing database", strings.Replace(pg.DSN, "/postgres?", "/no_such_db?", 1)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s, err := Open(ctx, tc.dsn)
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
			})
		}
	})
}

func benchStore(b *testing.B) tenants.Store {
	s, _ := opener(testenv.StartPostgres(b))(b)
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkSiteLookup(b *testing.B)     { storetest.BenchSiteLookup(b, benchStore(b)) }
func BenchmarkDeploymentLoad(b *testing.B) { storetest.BenchDeploymentLoad(b, benchStore(b)) }
func BenchmarkBlobsLookup(b *testing.B)    { storetest.BenchBlobsLookup(b, benchStore(b)) }
func BenchmarkAddUsage10000(b *testing.B)  { storetest.BenchAddUsage(b, benchStore(b)) }
