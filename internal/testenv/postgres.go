package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a running throwaway PostgreSQL cluster. Authentication is
// "trust" for the superuser postgres; the cluster listens on a loopback
// port only.
type Postgres struct {
	// DSN connects to the cluster's "postgres" database as the superuser.
	DSN  string
	Host string
	Port int

	dbs atomic.Int64 // names NewDatabase's databases

	bindir, dir, data string
	cred              *syscall.Credential
	mu                sync.Mutex
	stop              func() // nil while stopped
}

// Stop shuts the server down (fast shutdown), as an outage would; Start
// brings it back on the same port with the same data.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// Start restarts a server stopped by Stop.
func (p *Postgres) Start(tb testing.TB) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		return
	}
	stop, err := runPostgres(p.bindir, p.dir, p.data, p.Port, p.cred)
	if err != nil {
		tb.Fatalf("testenv: restarting postgres: %v", err)
	}
	p.stop = stop
}

const (
	// pgStartTimeout bounds how long StartPostgres waits for the server to
	// accept connections.
	pgStartTimeout = Patience
	// pgStopTimeout bounds a fast shutdown before the server is killed.
	pgStopTimeout = 30 * time.Second
)

// StartPostgres creates a cluster with initdb in a temporary directory,
// starts postgres on a free loopback port, waits until it accepts
// connections and stops it (and removes its files) when tb ends.
//
// The binaries come from $PIER_TEST_PG_BINDIR, else the newest
// /usr/lib/postgresql/*/bin (Debian's layout), else `pg_config --bindir`,
// else PATH. If none is found the test skips (or fails under
// PIER_TEST_REQUIRE_SERVERS=1). initdb and postgres refuse to run as root,
// so when the test runs as root they run as the postgres system user.
//
// The cluster trades durability for speed (fsync off): it is for tests.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	bindir := findPostgres()
	if bindir == "" {
		missing(tb, "PostgreSQL binaries (initdb, postgres) not found (install Debian's postgresql package or set PIER_TEST_PG_BINDIR)")
	}
	cred, err := pgCredential()
	if err != nil {
		missing(tb, err.Error())
	}

	// Not tb.TempDir: its parent is private to root, and the server may run
	// as another user.
	dir, err := os.MkdirTemp("", "pier-pg-")
	if err != nil {
		tb.Fatalf("testenv: postgres: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			tb.Fatalf("testenv: postgres: %v", err)
		}
		if err := pgCheckTraversable(dir); err != nil {
			tb.Fatalf("testenv: postgres: %v", err)
		}
	}
	data := filepath.Join(dir, "data")

	initdb := exec.Command(filepath.Join(bindir, "initdb"),
		"-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("testenv: postgres: initdb: %v; output:\n%s", err, out)
	}

	// A free port can be taken between our probe and the server's bind;
	// retry with fresh ports.
	var lastErr error
	for range 3 {
		port, err := KeptPort()
		if err != nil {
			tb.Fatalf("testenv: postgres: %v", err)
		}
		stop, err := runPostgres(bindir, dir, data, port, cred)
		if err == nil {
			p := &Postgres{
				DSN:    pgDSN(port, "postgres"),
				Host:   "127.0.0.1",
				Port:   port,
				bindir: bindir, dir: dir, data: data, cred: cred,
				stop: stop,
			}
			tb.Cleanup(p.Stop)
			return p
		}
		lastErr = err
	}
	tb.Fatalf("testenv: postgres: %v", lastErr)
	return nil
}

// NewDatabase creates a fresh, empty database in the cluster and returns
// its DSN. The database is dropped when tb ends (after tb's later
// cleanups, such as closing the stores that use it).
func (p *Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d_%d", time.Now().UnixNano()%1_000_000, p.dbs.Add(1))
	if err := p.exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("testenv: postgres: creating database: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Logf("testenv: postgres: dropping database %s: %v", name, err)
		}
	})
	return pgDSN(p.Port, name)
}

func (p *Postgres) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func pgDSN(port int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
}

// runPostgres starts the server and waits until it accepts connections.
func runPostgres(bindir, dir, data string, port int, cred *syscall.Credential) (stop func(), err error) {
	cmd := exec.Command(filepath.Join(bindir, "postgres"),
		"-D", data, "-k", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-F", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=200")
	cmd.Dir = dir
	// Pdeathsig: a test binary killed before its cleanups run takes the
	// server with it instead of leaving it bound to the port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// SIGINT: PostgreSQL's fast shutdown.
	return runChild(cmd, nil, syscall.SIGINT, pgStopTimeout, func(exited <-chan struct{}) error {
		return pgWaitReady(pgDSN(port, "postgres"), exited)
	})
}

// pgWaitReady connects until it succeeds, the server exits or
// pgStartTimeout passes.
func pgWaitReady(dsn string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, dsn)
		cancelAttempt()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return errors.New("postgres exited before accepting connections")
		case <-ctx.Done():
			return fmt.Errorf("postgres not accepting connections after %s: %w", pgStartTimeout, err)
		case <-tick.C:
		}
	}
}

// findPostgres returns the directory holding initdb and postgres, or "".
func findPostgres() string {
	ok := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("PIER_TEST_PG_BINDIR"); d != "" {
		return d
	}
	// Debian: /usr/lib/postgresql/<major>/bin; take the newest major.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if ok(d) {
			return d
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); ok(d) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	return ""
}

// pgMajor extracts the major version from /usr/lib/postgresql/<major>/bin.
func pgMajor(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

// pgCredential returns the credential to run the server with: nil when the
// test does not run as root, else the postgres system user's.
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres system user to run PostgreSQL as: %v", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user id %q: %v", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres group id %q: %v", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// pgCheckTraversable reports an error naming the first parent of dir that
// other users cannot enter.
func pgCheckTraversable(dir string) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not traversable by the postgres user (mode %v); set TMPDIR to a directory that is", d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
