package sqlitestore

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
	_, err := s.write.ExecContext(ctx, `INSERT INTO console_sessions (hash, token_id, idle_expires_at, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`,
		cs.Hash, cs.TokenID, cs.IdleExpires.UnixMilli(), cs.Expires.UnixMilli(), s.createdMs(cs.Created))
	return mapErr("creating console session", err)
}

// ConsoleSession returns the session whose secret hashes to hash, with
// its token's hash, expired or not.
func (s *Store) ConsoleSession(ctx context.Context, hash string) (tenants.ConsoleSession, error) {
	var (
		cs                     tenants.ConsoleSession
		idle, expires, created int64
	)
	err := s.read.QueryRowContext(ctx, `SELECT c.hash, c.token_id, t.hash, c.idle_expires_at, c.expires_at, c.created_at
FROM console_sessions c JOIN tokens t ON t.id = c.token_id WHERE c.hash = ?`, hash).
		Scan(&cs.Hash, &cs.TokenID, &cs.TokenHash, &idle, &expires, &created)
	if err != nil {
		return tenants.ConsoleSession{}, mapErr("console session by hash", err)
	}
	cs.IdleExpires, cs.Expires, cs.Created = msTime(idle), msTime(expires), msTime(created)
	return cs, nil
}

// TouchConsoleSession sets a session's idle expiry.
func (s *Store) TouchConsoleSession(ctx context.Context, hash string, idleExpires time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE console_sessions SET idle_expires_at = ? WHERE hash = ?`, idleExpires.UnixMilli(), hash)
	return affected("touching console session", res, err)
}

// DeleteConsoleSession deletes a session.
func (s *Store) DeleteConsoleSession(ctx context.Context, hash string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM console_sessions WHERE hash = ?`, hash)
	return affected("deleting console session", res, err)
}

// DeleteExpiredConsoleSessions deletes the sessions whose idle or
// absolute expiry is before now.
func (s *Store) DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error) {
	ms := now.UnixMilli()
	res, err := s.write.ExecContext(ctx, `DELETE FROM console_sessions WHERE idle_expires_at < ? OR expires_at < ?`, ms, ms)
	if err != nil {
		return 0, mapErr("deleting expired console sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr("deleting expired console sessions", err)
}
