// Package pgstorage is a certmagic.Storage in PostgreSQL, for several
// nodes sharing certificates, ACME accounts and locks.
//
// Each value is one row written atomically with a SHA-256 checksum; a row
// whose checksum does not match (an unreadable record) is reported as
// missing (fs.ErrNotExist), so certmagic obtains it again under the lock
// instead of failing. Locks are lease rows: the holder renews the lease
// while it holds the lock, and anyone may take over a lock whose lease has
// expired (its holder died). Times are the database's clock.
package pgstorage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Config's zero fields.
const (
	DefaultLockTTL      = 2 * time.Minute
	DefaultPollInterval = time.Second
)

// Config configures a Storage.
type Config struct {
	// Pool is the database; the Storage does not close it. Required.
	Pool *pgxpool.Pool
	// LockTTL is a lock's lease: a lock not renewed for this long may be
	// taken over. The holder renews it every LockTTL/3. Default:
	// DefaultLockTTL.
	LockTTL time.Duration
	// PollInterval is how often a blocked Lock tries again. Default:
	// DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives lease-renewal failures. Default: slog.Default().
	Logger *slog.Logger
}

// Storage implements certmagic.Storage, certmagic.TryLocker and
// certmagic.LockLeaseRenewer. It is safe for concurrent use.
type Storage struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	poll time.Duration
	log  *slog.Logger

	mu   sync.Mutex
	held map[string]*lease // locks this Storage holds, by name
}

// lease is a lock held by this Storage, renewed until released.
type lease struct {
	token string
	stop  context.CancelFunc
	done  chan struct{}
}

var (
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)

// migration creates the tables; it is idempotent and serialised across
// nodes by an advisory lock.
var migration = []string{
	`SELECT pg_advisory_xact_lock(7201431853301)`,
	`CREATE TABLE IF NOT EXISTS pier_cert_data (
		key      text PRIMARY KEY,
		value    bytea NOT NULL,
		checksum bytea NOT NULL,
		modified timestamptz NOT NULL DEFAULT now()
	)`,
	`CREATE INDEX IF NOT EXISTS pier_cert_data_prefix ON pier_cert_data (key text_pattern_ops)`,
	`CREATE TABLE IF NOT EXISTS pier_cert_locks (
		name    text PRIMARY KEY,
		token   text NOT NULL,
		expires timestamptz NOT NULL
	)`,
}

// New returns a Storage on cfg.Pool, creating its tables if needed.
func New(ctx context.Context, cfg Config) (*Storage, error) {
	if cfg.Pool == nil {
		return nil, errors.New("pgstorage: Config.Pool is required")
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = DefaultLockTTL
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	err := pgx.BeginFunc(ctx, cfg.Pool, func(tx pgx.Tx) error {
		for _, q := range migration {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstorage: migrating: %w", err)
	}
	return &Storage{
		pool: cfg.Pool, ttl: cfg.LockTTL, poll: cfg.PollInterval,
		log:  cfg.Logger.With("component", "pgstorage"),
		held: make(map[string]*lease),
	}, nil
}

func checksum(v []byte) []byte {
	sum := sha256.Sum256(v)
	return sum[:]
}

// likePrefix returns a LIKE pattern matching every key under dir.
func likePrefix(dir string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	if dir == "" {
		return "%"
	}
	return r.Replace(strings.TrimSuffix(dir, "/")) + "/%"
}

// Store implements certmagic.Storage; the write is atomic.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO pier_cert_data (key, value, checksum, modified)
		VALUES ($1, $2, $3, now())
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, checksum = EXCLUDED.checksum, modified = now()`,
		key, value, checksum(value))
	if err != nil {
		return fmt.Errorf("pgstorage: storing %s: %w", key, err)
	}
	return nil
}

// Load implements certmagic.Storage. A missing key, or a record whose
// checksum does not match, is fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	var value, sum []byte
	err := s.pool.QueryRow(ctx, `SELECT value, checksum FROM pier_cert_data WHERE key = $1`, key).Scan(&value, &sum)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstorage: %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstorage: loading %s: %w", key, err)
	}
	if subtle.ConstantTimeCompare(sum, checksum(value)) != 1 {
		s.log.Warn("unreadable record treated as missing", "key", key)
		return nil, fmt.Errorf("pgstorage: %s: unreadable record (checksum mismatch): %w", key, fs.ErrNotExist)
	}
	return value, nil
}

// Delete implements certmagic.Storage: key and every key under it.
func (s *Storage) Delete(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM pier_cert_data WHERE key = $1 OR key LIKE $2`, key, likePrefix(key))
	if err != nil {
		return fmt.Errorf("pgstorage: deleting %s: %w", key, err)
	}
	return nil
}

// Exists implements certmagic.Storage: key is a value or a directory.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pier_cert_data WHERE key = $1 OR key LIKE $2)`, key, likePrefix(key)).Scan(&ok)
	return err == nil && ok
}

// List implements certmagic.Storage: the keys directly under dir, or all
// keys and directories under it when recursive. An empty listing is
// fs.ErrNotExist.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT key FROM pier_cert_data WHERE key LIKE $1`, likePrefix(dir))
	if err != nil {
		return nil, fmt.Errorf("pgstorage: listing %s: %w", dir, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgstorage: listing %s: %w", dir, err)
	}
	prefix := ""
	if dir != "" {
		prefix = strings.TrimSuffix(dir, "/") + "/"
	}
	seen := make(map[string]bool)
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		parts := strings.Split(rest, "/")
		if !recursive {
			seen[prefix+parts[0]] = true
			continue
		}
		for i := range parts {
			seen[prefix+strings.Join(parts[:i+1], "/")] = true
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("pgstorage: %s: %w", dir, fs.ErrNotExist)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Stat implements certmagic.Storage.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var size int64
	var modified time.Time
	err := s.pool.QueryRow(ctx, `SELECT octet_length(value), modified FROM pier_cert_data WHERE key = $1`, key).Scan(&size, &modified)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: modified, Size: size, IsTerminal: true}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return certmagic.KeyInfo{}, fmt.Errorf("pgstorage: stat %s: %w", key, err)
	}
	if s.Exists(ctx, key) {
		return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
	}
	return certmagic.KeyInfo{}, fmt.Errorf("pgstorage: %s: %w", key, fs.ErrNotExist)
}

// Lock implements certmagic.Locker: it blocks until the lock for name is
// free or its lease expired, or ctx ends.
func (s *Storage) Lock(ctx context.Context, name string) error {
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgstorage: waiting for lock %s: %w", name, ctx.Err())
		case <-time.After(s.poll):
		}
	}
}

// TryLock implements certmagic.TryLocker: it takes the lock for name if
// it is free or its lease expired.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	token, err := newToken()
	if err != nil {
		return false, err
	}
	var got string
	err = s.pool.QueryRow(ctx, `INSERT INTO pier_cert_locks (name, token, expires)
		VALUES ($1, $2, now() + make_interval(secs => $3))
		ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, expires = EXCLUDED.expires
		WHERE pier_cert_locks.expires < now()
		RETURNING token`, name, token, s.ttl.Seconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pgstorage: locking %s: %w", name, err)
	}
	renewCtx, stop := context.WithCancel(context.Background())
	l := &lease{token: token, stop: stop, done: make(chan struct{})}
	s.mu.Lock()
	if old := s.held[name]; old != nil {
		// Our earlier lease on name expired and was taken over by
		// ourselves: its renewer has nothing left to renew.
		old.stop()
	}
	s.held[name] = l
	s.mu.Unlock()
	go s.renew(renewCtx, name, l)
	return true, nil
}

// renew extends l's lease every ttl/3 until stopped or lost.
func (s *Storage) renew(ctx context.Context, name string, l *lease) {
	defer close(l.done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := s.extend(ctx, name, l.token, s.ttl)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Warn("renewing lock lease", "lock", name, "error", err)
			continue
		}
		if !ok {
			s.log.Error("lock lease lost (expired and taken over)", "lock", name)
			return
		}
	}
}

func (s *Storage) extend(ctx context.Context, name, token string, d time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE pier_cert_locks SET expires = now() + make_interval(secs => $3)
		WHERE name = $1 AND token = $2`, name, token, d.Seconds())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// RenewLockLease implements certmagic.LockLeaseRenewer.
func (s *Storage) RenewLockLease(ctx context.Context, name string, d time.Duration) error {
	s.mu.Lock()
	l := s.held[name]
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("pgstorage: lock %s is not held", name)
	}
	ok, err := s.extend(ctx, name, l.token, d)
	if err != nil {
		return fmt.Errorf("pgstorage: renewing lock %s: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("pgstorage: lock %s was lost (lease expired and taken over)", name)
	}
	return nil
}

// Unlock implements certmagic.Locker. It fails if the lock was not held
// or its lease expired and another holder took it (which it leaves alone).
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	l := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("pgstorage: unlocking %s: not held", name)
	}
	l.stop()
	<-l.done
	tag, err := s.pool.Exec(ctx, `DELETE FROM pier_cert_locks WHERE name = $1 AND token = $2`, name, l.token)
	if err != nil {
		return fmt.Errorf("pgstorage: unlocking %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstorage: unlocking %s: lease had expired and was taken over", name)
	}
	return nil
}

// Close stops renewing the leases still held (they expire after
// LockTTL); it does not close the pool.
func (s *Storage) Close() {
	s.mu.Lock()
	held := s.held
	s.held = make(map[string]*lease)
	s.mu.Unlock()
	for _, l := range held {
		l.stop()
		<-l.done
	}
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pgstorage: lock token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
