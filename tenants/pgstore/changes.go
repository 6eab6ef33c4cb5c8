package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pierhq/pier/tenants"
)

// Change notifications.
//
// Every write that changes what a node may cache (see tenants.Change)
// calls pg_notify(ChangesChannel, payload) in the statement or
// transaction that makes the change, so PostgreSQL sends the notification
// when that commits and never when it rolls back. The payload is
// "<kind>:<key>", e.g. "site:blog" or "domain:www.example.com": at most a
// few hundred bytes (keys are validated site names, hostnames and IDs),
// well under NOTIFY's 8000-byte limit. A payload this version does not
// know (a newer node's kind), and the bare "resync", reach watchers as a
// tenants.ChangeResync, so an operator can make every node reload with
//
//	NOTIFY pier_changes, 'resync';
//
// Notifications need a session-level connection: through PgBouncer and
// the like, the DSN must use session pooling for LISTEN to work.

// ChangesChannel is the PostgreSQL channel the store notifies and
// WatchChanges listens on.
const ChangesChannel = "pier_changes"

// watchApplicationName is the listener connection's application_name, as
// pg_stat_activity shows it.
const watchApplicationName = "pier changes"

// maxPayload bounds a notification payload (PostgreSQL refuses 8000 bytes
// and more); a longer one is sent as a resync instead.
const maxPayload = 7999

// watchConfig tunes WatchChanges; tests shorten it.
type watchConfig struct {
	minBackoff, maxBackoff time.Duration // between connection attempts
	// idle is how long the listener waits for a notification before it
	// pings the server, so a connection that died silently is noticed.
	idle time.Duration
	// timeout bounds connecting (with LISTEN), a ping, and closing.
	timeout time.Duration
	// failed, when set, is called with each error that ends a connection
	// or a connection attempt (tests).
	failed func(error)
}

var defaultWatch = watchConfig{
	minBackoff: 250 * time.Millisecond,
	maxBackoff: 30 * time.Second,
	idle:       30 * time.Second,
	timeout:    15 * time.Second,
}

// payload encodes a change for pg_notify.
func payload(kind, key string) string {
	p := kind + ":" + key
	if len(p) > maxPayload {
		return tenants.ChangeResync
	}
	return p
}

// parsePayload decodes a notification; anything but a known kind with a
// key means resync.
func parsePayload(p string) tenants.Change {
	kind, key, ok := strings.Cut(p, ":")
	switch kind {
	case tenants.ChangeSite, tenants.ChangeDomain, tenants.ChangeTenant, tenants.ChangeKV:
		if ok && key != "" {
			return tenants.Change{Kind: kind, Key: key}
		}
	}
	return tenants.Change{Kind: tenants.ChangeResync}
}

// notify queues one notification of kind per key in tx: PostgreSQL sends
// them when tx commits (identical ones once), and not at all if it rolls
// back.
func notify(ctx context.Context, tx pgx.Tx, kind string, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	ps := make([]string, len(keys))
	for i, k := range keys {
		ps[i] = payload(kind, k)
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) p`, ChangesChannel, ps)
	return err
}

// WatchChanges implements tenants.ChangeWatcher. It listens on
// ChangesChannel over a connection of its own, opened with the pool's
// settings but outside the pool (application_name "pier changes"), and
// calls fn with a resync each time that connection is (re)established,
// then with each notification. When the connection fails — the server
// restarts, the backend is terminated, a ping after a quiet spell goes
// unanswered — it reconnects after a backoff that doubles from 250 ms up
// to 30 s (with jitter) and is reset once a connection has lasted that
// long. It returns ctx.Err() when ctx ends, closing the connection.
func (s *Store) WatchChanges(ctx context.Context, fn func(tenants.Change)) error {
	w := s.watch
	delay := w.minBackoff
	var last error // since the last connection was established
	for {
		start := time.Now()
		connected, err := s.watchOnce(ctx, fn, last)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w.failed != nil {
			w.failed(err)
		}
		last = err
		if connected && time.Since(start) >= w.maxBackoff {
			delay = w.minBackoff
		}
		// Between delay/2 and delay, so nodes that lost the server at
		// once do not come back in lockstep.
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(2*delay, w.maxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// watchOnce connects, listens and delivers until the connection fails or
// ctx ends. It reports whether it got as far as listening (and sent the
// resync carrying last), and what ended it.
func (s *Store) watchOnce(ctx context.Context, fn func(tenants.Change), last error) (connected bool, err error) {
	w := s.watch
	conn, err := s.listen(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		conn.Close(cctx)
		cancel()
	}()
	fn(tenants.Change{Kind: tenants.ChangeResync, Err: last})
	for {
		wctx, cancel := context.WithTimeout(ctx, w.idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if n != nil && n.Channel == ChangesChannel {
			fn(parsePayload(n.Payload))
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return true, ctx.Err()
		case pgconn.Timeout(err) && !conn.IsClosed():
			// Quiet for a while: make sure the server is still there.
			pctx, cancel := context.WithTimeout(ctx, w.timeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("pgstore: change listener: ping: %w", err)
			}
		default:
			return true, fmt.Errorf("pgstore: change listener: %w", err)
		}
	}
}

// listen opens the listener's connection and subscribes it.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.watch.timeout)
	defer cancel()
	cfg := s.pool.Config().ConnConfig // a copy
	cfg.RuntimeParams["application_name"] = watchApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: change listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ChangesChannel}.Sanitize()); err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), s.watch.timeout)
		conn.Close(cctx)
		cancel()
		return nil, fmt.Errorf("pgstore: change listener: LISTEN: %w", err)
	}
	return conn, nil
}

var _ tenants.ChangeWatcher = (*Store)(nil)
