package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/tenants"
)

// KV namespaces and their keys (tenants.KVStore).
//
// Every write that changes a key notifies a tenants.ChangeKV for it
// (KVChangeKey(namespace, key)) in its own transaction, so other nodes'
// caches drop it when it commits; deleting a namespace, or a bulk write
// of more than kvNotifyKeys keys, notifies the whole namespace (key "").
// Keys are text COLLATE "C" (bytewise, as SQLite orders them). A key whose
// expires_at is at or before now is invisible until SweepExpiredKV
// deletes it. Times are kept to the millisecond, as in SQLite.

// kvNotifyKeys is the most keys a bulk write notifies one by one.
const kvNotifyKeys = 100

const kvNamespaceCols = `id, tenant_id, name, created_at`

func scanKVNamespace(row pgx.Row) (tenants.KVNamespace, error) {
	var n tenants.KVNamespace
	err := row.Scan(&n.ID, &n.TenantID, &n.Name, &n.Created)
	n.Created = n.Created.UTC()
	return n, err
}

// CreateKVNamespace stores a new namespace; ErrConflict when its tenant
// has one of that name (or its ID is taken), ErrNotFound when the tenant
// does not exist.
func (s *Store) CreateKVNamespace(ctx context.Context, n tenants.KVNamespace) error {
	if err := n.Validate(); err != nil {
		return invalid("creating kv namespace", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO kv_namespaces (`+kvNamespaceCols+`) VALUES ($1, $2, $3, $4)`,
		n.ID, n.TenantID, n.Name, s.stamp(n.Created))
	return mapErr("creating kv namespace "+n.Name, err)
}

// KVNamespace returns tenant tenantID's namespace whose ID or, failing
// that, name is ref.
func (s *Store) KVNamespace(ctx context.Context, tenantID, ref string) (tenants.KVNamespace, error) {
	n, err := scanKVNamespace(s.pool.QueryRow(ctx, `SELECT `+kvNamespaceCols+` FROM kv_namespaces
WHERE tenant_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1`, tenantID, ref))
	return n, mapErr("kv namespace "+ref, err)
}

// KVNamespaceByID returns the namespace id, whichever its tenant.
func (s *Store) KVNamespaceByID(ctx context.Context, id string) (tenants.KVNamespace, error) {
	n, err := scanKVNamespace(s.pool.QueryRow(ctx, `SELECT `+kvNamespaceCols+` FROM kv_namespaces WHERE id = $1`, id))
	return n, mapErr("kv namespace "+id, err)
}

// KVNamespaces lists a tenant's namespaces ordered by name.
func (s *Store) KVNamespaces(ctx context.Context, tenantID string) ([]tenants.KVNamespace, error) {
	const op = "listing kv namespaces"
	rows, err := s.pool.Query(ctx, `SELECT `+kvNamespaceCols+` FROM kv_namespaces WHERE tenant_id = $1 ORDER BY name COLLATE "C"`, tenantID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.KVNamespace, error) { return scanKVNamespace(r) })
	if out == nil {
		out = []tenants.KVNamespace{}
	}
	return out, mapErr(op, err)
}

// DeleteKVNamespace deletes the namespace and, by cascade, its keys, and
// notifies the namespace's change.
func (s *Store) DeleteKVNamespace(ctx context.Context, id string) error {
	op := "deleting kv namespace " + id
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM kv_namespaces WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows // mapped to tenants.ErrNotFound
		}
		if err != nil {
			return err
		}
		return notify(ctx, tx, tenants.ChangeKV, tenants.KVChangeKey(id, ""))
	})
	return mapErr(op, err)
}

// KVNamespaceStats counts the namespace's unexpired keys and their bytes
// (len(key)+len(value)).
func (s *Store) KVNamespaceStats(ctx context.Context, id string) (keys int, size int64, err error) {
	var n int64
	err = s.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value)), 0)::bigint
FROM kv_entries WHERE namespace_id = $1 AND (expires_at IS NULL OR expires_at > $2)`, id, s.now()).Scan(&n, &size)
	return int(n), size, mapErr("kv namespace stats "+id, err)
}

// expiresAt is t for expires_at: nil (NULL) for none.
func expiresAt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.Truncate(time.Millisecond).UTC()
	return &t
}

func timeOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func value(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// KVGet returns the key's entry; ErrNotFound when it is absent or
// expired.
func (s *Store) KVGet(ctx context.Context, namespaceID, key string) (tenants.KVEntry, error) {
	e := tenants.KVEntry{Key: key}
	var expires *time.Time
	err := s.pool.QueryRow(ctx, `SELECT value, expires_at, updated_at FROM kv_entries
WHERE namespace_id = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)`, namespaceID, key, s.now()).
		Scan(&e.Value, &expires, &e.Updated)
	if err != nil {
		return tenants.KVEntry{}, mapErr("kv get", err)
	}
	e.Value, e.Expires, e.Updated = value(e.Value), timeOrZero(expires), e.Updated.UTC()
	return e, nil
}

// KVPut writes the entry and notifies its change; ErrNotFound when the
// namespace does not exist.
func (s *Store) KVPut(ctx context.Context, namespaceID string, e tenants.KVEntry) error {
	return s.KVPutMany(ctx, namespaceID, []tenants.KVEntry{e})
}

// KVPutMany writes every entry in one statement (a later entry of a key
// wins over an earlier one): all or none.
func (s *Store) KVPutMany(ctx context.Context, namespaceID string, es []tenants.KVEntry) error {
	const op = "kv put"
	if len(es) == 0 {
		return nil
	}
	last := make(map[string]int, len(es))
	for i, e := range es {
		if err := e.Validate(); err != nil {
			return invalid(op, err)
		}
		last[e.Key] = i
	}
	var (
		keys    = make([]string, 0, len(last))
		values  = make([][]byte, 0, len(last))
		expires = make([]*time.Time, 0, len(last))
	)
	for i, e := range es {
		if last[e.Key] == i {
			keys, values, expires = append(keys, e.Key), append(values, value(e.Value)), append(expires, expiresAt(e.Expires))
		}
	}
	changed := make([]string, len(keys))
	for i, k := range keys {
		changed[i] = tenants.KVChangeKey(namespaceID, k)
	}
	if len(changed) > kvNotifyKeys {
		changed = []string{tenants.KVChangeKey(namespaceID, "")}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO kv_entries (namespace_id, key, value, expires_at, updated_at)
SELECT $1, k, v, x, $5 FROM unnest($2::text[], $3::bytea[], $4::timestamptz[]) AS t(k, v, x)
ON CONFLICT (namespace_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
			namespaceID, keys, values, expires, s.stamp(time.Time{})); err != nil {
			return err
		}
		return notify(ctx, tx, tenants.ChangeKV, changed...)
	})
	return mapErr(op, err)
}

// KVCompareAndSwap writes e if the key's current value is old (with
// oldExists false: if the key is absent or expired) and notifies its
// change. Each case is one statement: the update's condition is checked
// again on the locked row, and the insert conflicts with a concurrent
// one, so two swaps from the same old value never both write.
func (s *Store) KVCompareAndSwap(ctx context.Context, namespaceID string, old []byte, oldExists bool, e tenants.KVEntry) (bool, error) {
	const op = "kv compare and swap"
	if err := e.Validate(); err != nil {
		return false, invalid(op, err)
	}
	now := s.stamp(time.Time{})
	q := `UPDATE kv_entries SET value = $3, expires_at = $4, updated_at = $5
WHERE namespace_id = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $5) AND value = $6`
	args := []any{namespaceID, e.Key, value(e.Value), expiresAt(e.Expires), now, value(old)}
	if !oldExists {
		q = `INSERT INTO kv_entries (namespace_id, key, value, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (namespace_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at
WHERE kv_entries.expires_at IS NOT NULL AND kv_entries.expires_at <= $5`
		args = args[:5]
	}
	written := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		written = true
		return notify(ctx, tx, tenants.ChangeKV, tenants.KVChangeKey(namespaceID, e.Key))
	})
	if err != nil {
		return false, mapErr(op, err)
	}
	return written, nil
}

// KVDelete deletes the key and notifies its change; nil when it is
// absent.
func (s *Store) KVDelete(ctx context.Context, namespaceID, key string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM kv_entries WHERE namespace_id = $1 AND key = $2`, namespaceID, key)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return notify(ctx, tx, tenants.ChangeKV, tenants.KVChangeKey(namespaceID, key))
	})
	return mapErr("kv delete", err)
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
	var end *string
	if e, ok := tenants.KVPrefixEnd(prefix); ok {
		end = &e
	}
	n := p.Size()
	rows, err := s.pool.Query(ctx, `SELECT key, octet_length(value), expires_at, updated_at FROM kv_entries
WHERE namespace_id = $1 AND key >= $2 AND key > $3 AND ($4::text IS NULL OR key < $4::text)
AND starts_with(key, $2) AND (expires_at IS NULL OR expires_at > $5)
ORDER BY key LIMIT $6`, namespaceID, prefix, c.Key, end, s.now(), n+1)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.KVKey, error) {
		var (
			k       tenants.KVKey
			expires *time.Time
		)
		err := r.Scan(&k.Key, &k.Size, &expires, &k.Updated)
		k.Expires, k.Updated = timeOrZero(expires), k.Updated.UTC()
		return k, err
	})
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	if out == nil {
		out = []tenants.KVKey{}
	}
	out, next := trim(out, n, func(k tenants.KVKey) tenants.Cursor {
		return tenants.Cursor{Kind: tenants.CursorKVKeys, Key: k.Key}
	})
	return out, next, nil
}

// SweepExpiredKV deletes up to limit keys that expired at or before now,
// those that expired first first; keys another node is sweeping are
// skipped. Their expiry already hid them, so nothing is notified.
func (s *Store) SweepExpiredKV(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM kv_entries WHERE (namespace_id, key) IN (
	SELECT namespace_id, key FROM kv_entries WHERE expires_at IS NOT NULL AND expires_at <= $1
	ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, now, limit)
	if err != nil {
		return 0, mapErr("sweeping expired kv keys", err)
	}
	return int(tag.RowsAffected()), nil
}

var _ tenants.KVStore = (*Store)(nil)
