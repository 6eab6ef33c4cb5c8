package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// TestMigrationCountsSessionEntries checks that the migration adding
// upload_sessions.entries fills it for the sessions open at upgrade, so
// the uploadEntries quota sees them.
func TestMigrationCountsSessionEntries(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pier.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	last := len(migrations) - 1
	for migrations[last].version != 10 {
		last--
	}
	for _, m := range migrations[:last] {
		if err := apply(ctx, db, m, time.Now); err != nil {
			t.Fatalf("migration %d: %v", m.version, err)
		}
	}
	for _, q := range []string{
		`INSERT INTO tenants (id, name, plan, salt, created_at) VALUES ('t1', 'acme', 'free', zeroblob(16), 0)`,
		`INSERT INTO sites (id, tenant_id, name, created_at) VALUES ('s1', 't1', 'blog', 0)`,
		`INSERT INTO upload_sessions (id, site_id, manifest, expires_at, created_at) VALUES
			('u1', 's1', '{"/a.html":{"hash":"0000000000000001","size":1},"/b.html":{"hash":"0000000000000002","size":2}}', 9999999999999, 0),
			('u2', 's1', 'null', 9999999999999, 0)`,
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
	got, err := s.TenantUsage(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (tenants.QuotaUsage{Sites: 1, UploadSessions: 2, UploadEntries: 2}); got != want {
		t.Errorf("TenantUsage after the upgrade = %+v, want %+v", got, want)
	}
}
