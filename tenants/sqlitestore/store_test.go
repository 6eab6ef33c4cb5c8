package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/storetest"
)

func open(tb testing.TB) (tenants.Store, func() tenants.Store) {
	path := filepath.Join(tb.TempDir(), "pier.db")
	openPath := func() tenants.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			tb.Fatalf("Open: %v", err)
		}
		return s
	}
	return openPath(), openPath
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

// TestUsageAcrossNodes runs two stores on one file, as two processes
// would.
func TestUsageAcrossNodes(t *testing.T) {
	storetest.RunUsageNodes(t, func(tb testing.TB) (tenants.Store, tenants.Store) {
		a, reopen := open(tb)
		return a, reopen()
	})
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("migrations are recorded once", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pier.db")
		for range 3 {
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			var n, maxV int
			if err := s.read.QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &maxV); err != nil {
				t.Fatalf("reading schema_migrations: %v", err)
			}
			if n != len(migrations) || maxV != migrations[len(migrations)-1].version {
				t.Errorf("schema_migrations has %d rows up to %d, want %d up to %d", n, maxV, len(migrations), migrations[len(migrations)-1].version)
			}
			s.Close()
		}
	})
	t.Run("pragmas", func(t *testing.T) {
		s, err := Open(ctx, filepath.Join(t.TempDir(), "pier.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		tests := []struct {
			name   string
			db     *sql.DB
			pragma string
			want   string
		}{
			{"writer journal mode", s.write, "journal_mode", "wal"},
			{"reader journal mode", s.read, "journal_mode", "wal"},
			{"writer foreign keys", s.write, "foreign_keys", "1"},
			{"reader foreign keys", s.read, "foreign_keys", "1"},
			{"writer synchronous", s.write, "synchronous", "1"},
			{"writer busy timeout", s.write, "busy_timeout", "10000"},
			{"reader busy timeout", s.read, "busy_timeout", "10000"},
			{"reader is read-only", s.read, "query_only", "1"},
			{"writer writes", s.write, "query_only", "0"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var got string
				if err := tc.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
					t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
				}
				if !strings.EqualFold(got, tc.want) {
					t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
				}
			})
		}
	})
	t.Run("newer schema is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pier.db")
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (9999, 0)`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if s, err := Open(ctx, path); err == nil {
			s.Close()
			t.Fatal("Open accepted a database from a newer version")
		} else if !strings.Contains(err.Error(), "newer") {
			t.Errorf("error %q does not say the schema is newer", err)
		}
	})
	t.Run("upgrade keeps upload sessions", func(t *testing.T) {
		// A database at schema version 1 (before sessions carried a worker)
		// with a session in it.
		path := filepath.Join(t.TempDir(), "pier.db")
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
			t.Fatal(err)
		}
		for _, m := range migrations[:1] {
			if err := apply(ctx, db, m, time.Now); err != nil {
				t.Fatalf("migration %d: %v", m.version, err)
			}
		}
		for _, q := range []string{
			`INSERT INTO tenants (id, name, plan, salt, created_at) VALUES ('t1', 'acme', 'free', zeroblob(16), 0)`,
			`INSERT INTO sites (id, tenant_id, name, created_at) VALUES ('s1', 't1', 'blog', 0)`,
			`INSERT INTO upload_sessions (id, site_id, manifest, expires_at, created_at) VALUES ('u1', 's1', '{}', 9999999999999, 0)`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		s, err := Open(ctx, path)
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
	t.Run("bad paths", func(t *testing.T) {
		for _, p := range []string{"", ":memory:", "file:x.db?mode=memory", filepath.Join(t.TempDir(), "missing", "dir", "pier.db")} {
			if s, err := Open(ctx, p); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", p)
			}
		}
	})
	t.Run("path with special characters", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a dir?#%", "pier.db")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open(%q): %v", path, err)
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database not created at %q", path)
		}
	})
}

func BenchmarkSiteLookup(b *testing.B) {
	s, _ := open(b)
	defer s.Close()
	storetest.BenchSiteLookup(b, s)
}

func BenchmarkDeploymentLoad(b *testing.B) {
	s, _ := open(b)
	defer s.Close()
	storetest.BenchDeploymentLoad(b, s)
}

func BenchmarkBlobsLookup(b *testing.B) {
	s, _ := open(b)
	defer s.Close()
	storetest.BenchBlobsLookup(b, s)
}

func TestParseBlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  string
		want tenants.Blob
		ok   bool
	}{
		{"all sizes", "0123456789abcdef,10,3,4", tenants.Blob{Hash: "0123456789abcdef", Size: 10, BrSize: 3, GzSize: 4}, true},
		{"no variants", "0123456789abcdef,10,0,0", tenants.Blob{Hash: "0123456789abcdef", Size: 10}, true},
		{"large", "0123456789abcdef,26843545600,1,2", tenants.Blob{Hash: "0123456789abcdef", Size: 25 << 30, BrSize: 1, GzSize: 2}, true},
		{"hash only", "0123456789abcdef", tenants.Blob{}, false},
		{"missing field", "0123456789abcdef,1,2", tenants.Blob{}, false},
		{"not a number", "0123456789abcdef,x,0,0", tenants.Blob{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseBlob(tc.rec)
			if tc.ok && (err != nil || got != tc.want) {
				t.Errorf("parseBlob(%q) = %+v, %v; want %+v", tc.rec, got, err, tc.want)
			}
			if !tc.ok && err == nil {
				t.Errorf("parseBlob(%q) = %+v, want an error", tc.rec, got)
			}
		})
	}
}

// TestTwoStoresOneFile writes through two stores on one file at once, as
// two processes would: IMMEDIATE transactions and the busy timeout make
// them queue instead of failing with SQLITE_BUSY.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer s.Close()
		stores[i] = s
	}
	const perStore = 100
	errs := make(chan error, 3*perStore)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perStore {
				id := fmt.Sprintf("t%d-%d", i, j)
				if err := s.CreateTenant(ctx, tenants.Tenant{ID: id, Name: "tenant-" + id, Plan: tenants.PlanFree}); err != nil {
					errs <- err
					continue
				}
				if err := s.CreateSite(ctx, tenants.Site{ID: "s" + id, TenantID: id, Name: "site-" + id}); err != nil {
					errs <- err
					continue
				}
				// A read-then-write transaction: under deferred locking
				// it could not upgrade while the other store writes.
				if err := s.CreateDeployment(ctx, tenants.Deployment{ID: "d" + id, SiteID: "s" + id, Source: tenants.Source{Type: "cli"}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write through two stores: %v", err)
	}
	for i, s := range stores {
		sites, err := s.Sites(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(sites) != 2*perStore {
			t.Errorf("store #%d sees %d sites, want %d", i, len(sites), 2*perStore)
		}
	}
}

func BenchmarkAddUsage10000(b *testing.B) {
	s, _ := open(b)
	defer s.Close()
	storetest.BenchAddUsage(b, s)
}
