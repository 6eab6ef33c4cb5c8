package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartPostgres(t *testing.T) {
	pg := StartPostgres(t)
	ctx := context.Background()
	query := func(t *testing.T, dsn, sql string) string {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connecting to %s: %v", dsn, err)
		}
		defer conn.Close(ctx)
		var s string
		if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return s
	}
	t.Run("cluster answers", func(t *testing.T) {
		if got := query(t, pg.DSN, "SELECT current_database()"); got != "postgres" {
			t.Errorf("current_database() = %q, want postgres", got)
		}
		if got := query(t, pg.DSN, "SHOW server_encoding"); got != "UTF8" {
			t.Errorf("server_encoding = %q, want UTF8", got)
		}
	})
	t.Run("databases are separate", func(t *testing.T) {
		a, b := pg.NewDatabase(t), pg.NewDatabase(t)
		if a == b {
			t.Fatalf("NewDatabase returned %s twice", a)
		}
		connA, err := pgx.Connect(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer connA.Close(ctx)
		if _, err := connA.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
			t.Fatal(err)
		}
		if got := query(t, b, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'only_in_a'"); got != "0" {
			t.Errorf("table created in %s is visible in %s", a, b)
		}
	})
}
