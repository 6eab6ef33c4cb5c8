package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/pierhq/pier/tenants"
)

// KV namespaces and their keys (tenants.KVStore).
//
// A KV write returns once it is on disk: it runs on the writer connection
// with synchronous=FULL for its transaction, which it shares with the KV
// writes queued meanwhile (kvTx) (the store's other writes use
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
	return s.kvTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
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
// commits, and returns fn's error or the commit's. Concurrent KV writes
// share one transaction and one sync (group commit, kvWriter): each runs
// in a savepoint of its own, so one that fails changes nothing and the
// others commit. fn must use the ctx it is given (the group's: cancelling
// a statement inside an explicit transaction would roll all of it back);
// a caller's ctx that ends before its turn skips its write. Once queued, a
// write's result is waited for whatever its ctx does, so a reported
// failure always means nothing was written.
func (s *Store) kvTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return mapErr(op, err)
	}
	s.kvOnce.Do(func() {
		s.kvJobs = make(chan *kvJob)
		s.kvStop = make(chan struct{})
		s.kvDone = make(chan struct{})
		go s.kvWriter()
	})
	if s.kvStop == nil { // closed before any KV write
		return mapErr(op, errClosed)
	}
	j := &kvJob{ctx: ctx, op: op, fn: fn, done: make(chan error, 1)}
	select {
	case s.kvJobs <- j:
	case <-s.kvStop:
		return mapErr(op, errClosed)
	case <-ctx.Done():
		return mapErr(op, ctx.Err())
	}
	return <-j.done
}

var errClosed = errors.New("store closed")

// maxKVGroup bounds the writes that share one transaction.
const maxKVGroup = 256

type kvJob struct {
	ctx  context.Context
	op   string
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// kvWriter commits the queued KV writes, a group at a time: every write
// queued while the previous group synced goes into the next.
func (s *Store) kvWriter() {
	defer close(s.kvDone)
	for {
		var group []*kvJob
		select {
		case j := <-s.kvJobs:
			group = append(group, j)
		case <-s.kvStop:
			return
		}
	more:
		for len(group) < maxKVGroup {
			select {
			case j := <-s.kvJobs:
				group = append(group, j)
			default:
				break more
			}
		}
		errs := s.commitKV(group)
		for i, j := range group {
			j.done <- errs[i]
		}
	}
}

// commitKV runs a group of writes in one transaction and commits it
// synced to disk. It first runs them one after the other with no
// savepoint (three statements fewer per write: the common case, where
// every write succeeds); if one fails, that transaction is rolled back
// and the group runs again with each write in a savepoint of its own, so
// the one that fails changes nothing and the others commit. A write's
// function may thus run twice; it must start from scratch each time.
func (s *Store) commitKV(group []*kvJob) []error {
	if errs, ok := s.commitKVGroup(group, false); ok {
		return errs
	}
	errs, _ := s.commitKVGroup(group, true)
	return errs
}

// commitKVGroup runs group in one transaction. With savepoints (or a
// group of one) each write's error is its own, and ok is true. Without,
// ok is false when a write failed: nothing was committed, and the caller
// runs the group again with savepoints.
func (s *Store) commitKVGroup(group []*kvJob, savepoints bool) (errs []error, ok bool) {
	errs = make([]error, len(group))
	fail := func(err error) ([]error, bool) {
		for i, j := range group {
			if errs[i] == nil {
				errs[i] = mapErr(j.op, err)
			}
		}
		return errs, true
	}
	ctx := context.Background()
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fail(err)
	}
	defer conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`) // the store's default for its other writes
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	for i, j := range group {
		if err := j.ctx.Err(); err != nil {
			errs[i] = mapErr(j.op, err)
			continue
		}
		if !savepoints {
			if err := j.fn(ctx, tx); err != nil {
				if len(group) == 1 {
					errs[i] = err
					return errs, true // rolled back: nothing was written
				}
				return nil, false
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT kv`); err != nil {
			return fail(err)
		}
		if err := j.fn(ctx, tx); err != nil {
			errs[i] = err
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO kv`); err != nil {
				return fail(err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE kv`); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return errs, true
}

// closeKV stops the KV writer, if it started, once its group is done.
func (s *Store) closeKV() {
	s.kvOnce.Do(func() {}) // none starts after this
	s.kvCloseOnce.Do(func() {
		if s.kvStop != nil {
			close(s.kvStop)
			<-s.kvDone
		}
	})
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

const kvGetQuery = `SELECT value, expires_at, updated_at FROM kv_entries
WHERE namespace_id = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`

// KVGet returns the key's entry; ErrNotFound when it is absent or
// expired.
func (s *Store) KVGet(ctx context.Context, namespaceID, key string) (tenants.KVEntry, error) {
	e := tenants.KVEntry{Key: key}
	var (
		expires sql.NullInt64
		updated int64
	)
	err := s.kvGetStmt.QueryRowContext(ctx, namespaceID, key, s.now().UnixMilli()).Scan(&e.Value, &expires, &updated)
	if err != nil {
		return tenants.KVEntry{}, mapErr("kv get", err)
	}
	if e.Value == nil {
		e.Value = []byte{}
	}
	e.Expires, e.Updated = msOrZero(expires), msTime(updated)
	return e, nil
}

const (
	kvCurrentQuery = `SELECT value FROM kv_entries WHERE namespace_id = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`
	kvDeleteQuery  = `DELETE FROM kv_entries WHERE namespace_id = ? AND key = ?`
)

const kvPutQuery = `INSERT INTO kv_entries (namespace_id, key, value, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (namespace_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at`

func (s *Store) kvPut(ctx context.Context, tx *sql.Tx, namespaceID string, e tenants.KVEntry, now int64) error {
	v := e.Value
	if v == nil {
		v = []byte{}
	}
	// The statement prepared on the writer's one connection, which the
	// transaction runs on: nothing is parsed.
	_, err := tx.StmtContext(ctx, s.kvPutStmt).ExecContext(ctx, namespaceID, e.Key, v, expiresMs(e.Expires), now)
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
	return s.kvTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
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
	err := s.kvTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		written = false // a group that runs again runs this again
		var cur []byte
		err := tx.StmtContext(ctx, s.kvCurrentStmt).QueryRowContext(ctx, namespaceID, e.Key, now).Scan(&cur)
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
	return s.kvTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.kvDeleteStmt).ExecContext(ctx, namespaceID, key)
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
