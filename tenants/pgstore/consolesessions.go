package pgstore

import (
	"context"
	"time"

	"github.com/pierhq/pier/tenants"
)

// Console sessions.

// CreateConsoleSession stores a console session; ErrNotFound when its
// token does not exist, ErrConflict when its hash does.
func (s *Store) CreateConsoleSession(ctx context.Context, cs tenants.ConsoleSession) error {
	if err := cs.Validate(); err != nil {
		return invalid("creating console session", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO console_sessions (hash, token_id, idle_expires_at, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		cs.Hash, cs.TokenID, cs.IdleExpires.Truncate(time.Millisecond), cs.Expires.Truncate(time.Millisecond), s.stamp(cs.Created))
	return mapErr("creating console session", err)
}

// ConsoleSession returns the session whose secret hashes to hash, with
// its token's hash, expired or not.
func (s *Store) ConsoleSession(ctx context.Context, hash string) (tenants.ConsoleSession, error) {
	var cs tenants.ConsoleSession
	err := s.pool.QueryRow(ctx, `SELECT c.hash, c.token_id, t.hash, c.idle_expires_at, c.expires_at, c.created_at
FROM console_sessions c JOIN tokens t ON t.id = c.token_id WHERE c.hash = $1`, hash).
		Scan(&cs.Hash, &cs.TokenID, &cs.TokenHash, &cs.IdleExpires, &cs.Expires, &cs.Created)
	if err != nil {
		return tenants.ConsoleSession{}, mapErr("console session by hash", err)
	}
	cs.IdleExpires, cs.Expires, cs.Created = cs.IdleExpires.UTC(), cs.Expires.UTC(), cs.Created.UTC()
	return cs, nil
}

// TouchConsoleSession sets a session's idle expiry.
func (s *Store) TouchConsoleSession(ctx context.Context, hash string, idleExpires time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE console_sessions SET idle_expires_at = $1 WHERE hash = $2`, idleExpires.Truncate(time.Millisecond), hash)
	return affected("touching console session", tag, err)
}

// DeleteConsoleSession deletes a session.
func (s *Store) DeleteConsoleSession(ctx context.Context, hash string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE hash = $1`, hash)
	return affected("deleting console session", tag, err)
}

// DeleteExpiredConsoleSessions deletes the sessions whose idle or
// absolute expiry is before now.
func (s *Store) DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error) {
	now = now.Truncate(time.Millisecond)
	tag, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE idle_expires_at < $1 OR expires_at < $1`, now)
	if err != nil {
		return 0, mapErr("deleting expired console sessions", err)
	}
	return int(tag.RowsAffected()), nil
}
