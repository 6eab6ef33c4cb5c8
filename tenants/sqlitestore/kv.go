package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"time"

	"github.com/pierhq/pier/tenants"
)

// KV namespaces and their keys (tenants.KVStore).
//
// A KV write returns once it is on disk: it runs on the writer connection
// with synchronous=FULL for its transaction (the store's other writes use
// NORMAL, which WAL mode keeps consistent but may lose the last commits
// of a power cut). Times are Unix milliseconds; expires_at is NULL for a
// key that never expires, and a key whose expires_at is at or before now
// is invisible until SweepExpiredKV deletes it.

const kvNamespaceCols = `id, tenant_id, name, created_at`

func scanKVNamespace(sc interface{ Scan(...any) error }) (tenants.KVNamespace, error) {
	var (
		n       tenants.KVNamespace
		created int64
	)
	err := sc.Scan(&n.ID, &n.TenantID, &n.Name, &created)
	n.Created = msTime(created)
	return n, err
}

// CreateKVNamespace stores a new namespace; ErrConflict when its tenant
// has one of that name (or its ID is taken), ErrNotFound when the tenant
// does not exist.
func (s *Store) CreateKVNamespace(ctx context.Context, n tenants.KVNamespace) error {
	if err := n.Validate(); err != nil {
		return invalid("creating kv namespace", err)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO kv_namespaces (`+kvNamespaceCols+`) VALUES (?, ?, ?, ?)`,
		n.ID, n.TenantID, n.Name, s.createdMs(n.Created))
	return mapErr("creating kv namespace "+n.Name, err)
}

// KVNamespace returns tenant tenantID's namespace whose ID or, failing
// that, name is ref.
func (s *Store) KVNamespace(ctx context.Context, tenantID, ref string) (tenants.KVNamespace, error) {
	n, err := scanKVNamespace(s.read.QueryRowContext(ctx, `SELECT `+kvNamespaceCols+` FROM kv_namespaces
WHERE tenant_id = ?1 AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1`, tenantID, ref))
	return n, mapErr("kv namespace "+ref, err)
}

// KVNamespaceByID returns the namespace id, whichever its tenant.
func (s *Store) KVNamespaceByID(ctx context.Context, id string) (tenants.KVNamespace, error) {
	n, err := scanKVNamespace(s.read.QueryRowContext(ctx, `SELECT `+kvNamespaceCols+` FROM kv_namespaces WHERE id = ?`, id))
	return n, mapErr("kv namespace "+id, err)
}

// KVNamespaces lists a tenant's namespaces ordered by name.
func (s *Store) KVNamespaces(ctx context.Context, tenantID string) ([]tenants.KVNamespace, error) {
	const op = "listing kv namespaces"
	rows, err := s.read.QueryContext(ctx, `SELECT `+kvNamespaceCols+` FROM kv_namespaces WHERE tenant_id = ? ORDER BY name`, tenantID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.KVNamespace{}
	for rows.Next() {
		n, err := scanKVNamespace(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, n)
	}
	return out, mapErr(op, rows.Err())
}

// DeleteKVNamespace deletes the namespace and, by cascade, its keys.
func (s *Store) DeleteKVNamespace(ctx context.Context, id string) error {
	op := "deleting kv namespace " + id
	return s.kvTx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM kv_namespaces WHERE id = ?`, id)
		return affected(op, res, err)
	})
}

// KVNamespaceStats counts the namespace's unexpired keys and their bytes
// (len(key)+len(value)).
func (s *Store) KVNamespaceStats(ctx context.Context, id string) (keys int, size int64, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(CAST(key AS BLOB)) + length(value)), 0)
FROM kv_entries WHERE namespace_id = ? AND (expires_at IS NULL OR expires_at > ?)`, id, s.now().UnixMilli()).Scan(&keys, &size)
	return keys, size, mapErr("kv namespace stats "+id, err)
}

// kvTx runs fn in a write transaction that is synced to disk when it
// commits.
func (s *Store) kvTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return mapErr(op, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return mapErr(op, err)
	}
	// Back to the store's default whatever happens (with a context that
	// is not cancelled, or the connection would keep FULL).
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return mapErr(op, tx.Commit())
}

// expiresMs is e's expiry for expires_at: nil for none.
func expiresMs(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func msOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return msTime(v.Int64)
}

// KVGet returns the key's entry; ErrNotFound when it is absent or
// expired.
func (s *Store) KVGet(ctx context.Context, namespaceID, key string) (tenants.KVEntry, error) {
	e := tenants.KVEntry{Key: key}
	var (
		expires sql.NullInt64
		updated int64
	)
	err := s.read.QueryRowContext(ctx, `SELECT value, expires_at, updated_at FROM kv_entries
WHERE namespace_id = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`, namespaceID, key, s.now().UnixMilli()).
		Scan(&e.Value, &expires, &updated)
	if err != nil {
		return tenants.KVEntry{}, mapErr("kv get", err)
	}
	if e.Value == nil {
		e.Value = []byte{}
	}
	e.Expires, e.Updated = msOrZero(expires), msTime(updated)
	return e, nil
}

const kvPutQuery = `INSERT INTO kv_entries (namespace_id, key, value, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (namespace_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at`

func (s *Store) kvPut(ctx context.Context, tx *sql.Tx, namespaceID string, e tenants.KVEntry, now int64) error {
	v := e.Value
	if v == nil {
		v = []byte{}
	}
	_, err := tx.ExecContext(ctx, kvPutQuery, namespaceID, e.Key, v, expiresMs(e.Expires), now)
	return err
}

// KVPut writes the entry; ErrNotFound when the namespace does not exist.
func (s *Store) KVPut(ctx context.Context, namespaceID string, e tenants.KVEntry) error {
	return s.KVPutMany(ctx, namespaceID, []tenants.KVEntry{e})
}

// KVPutMany writes every entry in one transaction: all or none.
func (s *Store) KVPutMany(ctx context.Context, namespaceID string, es []tenants.KVEntry) error {
	const op = "kv put"
	for _, e := range es {
		if err := e.Validate(); err != nil {
			return invalid(op, err)
		}
	}
	now := s.now().UnixMilli()
	return s.kvTx(ctx, op, func(tx *sql.Tx) error {
		for _, e := range es {
			if err := s.kvPut(ctx, tx, namespaceID, e, now); err != nil {
				return mapErr(op, err)
			}
		}
		return nil
	})
}

// KVCompareAndSwap writes e if the key's current value is old (with
// oldExists false: if the key is absent or expired), in one transaction.
func (s *Store) KVCompareAndSwap(ctx context.Context, namespaceID string, old []byte, oldExists bool, e tenants.KVEntry) (bool, error) {
	const op = "kv compare and swap"
	if err := e.Validate(); err != nil {
		return false, invalid(op, err)
	}
	nowT := s.now()
	now := nowT.UnixMilli()
	written := false
	err := s.kvTx(ctx, op, func(tx *sql.Tx) error {
		var cur []byte
		err := tx.QueryRowContext(ctx, `SELECT value FROM kv_entries
WHERE namespace_id = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`, namespaceID, e.Key, now).Scan(&cur)
		exists := err == nil
		if err != nil && err != sql.ErrNoRows {
			return mapErr(op, err)
		}
		if exists != oldExists || exists && !bytes.Equal(cur, old) {
			return nil
		}
		if err := s.kvPut(ctx, tx, namespaceID, e, now); err != nil {
			return mapErr(op, err)
		}
		written = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return written, nil
}

// KVDelete deletes the key; nil when it is absent.
func (s *Store) KVDelete(ctx context.Context, namespaceID, key string) error {
	const op = "kv delete"
	return s.kvTx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM kv_entries WHERE namespace_id = ? AND key = ?`, namespaceID, key)
		return mapErr(op, err)
	})
}

// KVList lists one page of the namespace's unexpired keys that start
// with prefix, ordered by key (bytewise): a range scan of the primary key
// from max(prefix, cursor) to the prefix's end.
func (s *Store) KVList(ctx context.Context, namespaceID, prefix string, p tenants.PageRequest) ([]tenants.KVKey, string, error) {
	const op = "kv list"
	c, _, err := cursorOf(op, tenants.CursorKVKeys, p)
	if err != nil {
		return nil, "", err
	}
	var end any
	if e, ok := tenants.KVPrefixEnd(prefix); ok {
		end = e
	}
	n := p.Size()
	rows, err := s.read.QueryContext(ctx, `SELECT key, length(value), expires_at, updated_at FROM kv_entries
WHERE namespace_id = ?1 AND key >= ?2 AND key > ?3 AND (?4 IS NULL OR key < ?4)
AND substr(key, 1, length(?2)) = ?2 AND (expires_at IS NULL OR expires_at > ?5)
ORDER BY key LIMIT ?6`, namespaceID, prefix, c.Key, end, s.now().UnixMilli(), n+1)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.KVKey{}
	for rows.Next() {
		var (
			k       tenants.KVKey
			expires sql.NullInt64
			updated int64
		)
		if err := rows.Scan(&k.Key, &k.Size, &expires, &updated); err != nil {
			return nil, "", mapErr(op, err)
		}
		k.Expires, k.Updated = msOrZero(expires), msTime(updated)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(op, err)
	}
	out, next := trim(out, n, func(k tenants.KVKey) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorKVKeys, Key: k.Key}
	})
	return out, next, nil
}

// SweepExpiredKV deletes up to limit keys that expired at or before now,
// those that expired first first.
func (s *Store) SweepExpiredKV(ctx context.Context, now time.Time, limit int) (int, error) {
	const op = "sweeping expired kv keys"
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM kv_entries WHERE (namespace_id, key) IN (
	SELECT namespace_id, key FROM kv_entries WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?)`,
		now.UnixMilli(), limit)
	if err != nil {
		return 0, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr(op, err)
}

var _ tenants.KVStore = (*Store)(nil)
