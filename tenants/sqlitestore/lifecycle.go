package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/manifestjson"
)

// Retention, garbage collection and leases (tenants.LifecycleStore).
// Every write goes through the single writer connection, so each method's
// checks and writes are atomic with respect to every other write (an
// activation, a push, an upload session) without further locking.

var _ tenants.LifecycleStore = (*Store)(nil)

// The backend keys of blobs and git packs, spelled in SQL as
// assets.Key and tenants.GitPackKey/GitIndexKey spell them in Go
// (storetest checks that they agree).
const (
	// queueBlobsSQL queues the blobs of the index selected by where (?1 is
	// the tenant, ?2 the time).
	queueBlobsSQL = `INSERT INTO blob_garbage (key, tenant_id, hash, size, variants, queued_at)
SELECT 't/' || tenant_id || '/' || hash, tenant_id, hash, size + br_size + gz_size, (br_size > 0) | ((gz_size > 0) << 1), ?2 FROM blobs WHERE %s
ON CONFLICT (key) DO UPDATE SET size = excluded.size, variants = excluded.variants, queued_at = excluded.queued_at WHERE blob_garbage.state = 'pending'`
	// queuePacksSQL queues the pack and index objects of the git packs of
	// the sites selected by where (?1 is the site or tenant, ?2 the time).
	queuePacksSQL = `INSERT INTO blob_garbage (key, tenant_id, hash, size, queued_at)
SELECT 'git/' || p.site_id || '/' || p.name || x.ext, s.tenant_id, '', CASE x.ext WHEN '.pack' THEN p.size ELSE 0 END, ?2
FROM git_packs p JOIN sites s ON s.id = p.site_id CROSS JOIN (SELECT '.pack' AS ext UNION ALL SELECT '.idx') x
WHERE %s
ON CONFLICT (key) DO NOTHING`
	// notKept excludes a site's active deployment and its branches'.
	notKept = `id <> coalesce((SELECT active_deployment FROM sites WHERE id = ?1), '')
AND id NOT IN (SELECT deployment FROM git_refs WHERE site_id = ?1)`
)

// queueSiteGarbage queues the git packs of site id, in tx.
func (s *Store) queueSiteGarbage(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, fmt.Sprintf(queuePacksSQL, `p.site_id = ?1`), id, s.now().UnixMilli())
	return err
}

// queueTenantGarbage queues every blob of tenant id's index and the git
// packs of its sites, in tx.
func (s *Store) queueTenantGarbage(ctx context.Context, tx *sql.Tx, id string) error {
	now := s.now().UnixMilli()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(queueBlobsSQL, `tenant_id = ?1`), id, now); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf(queuePacksSQL, `s.tenant_id = ?1`), id, now)
	return err
}

// AcquireLease takes, renews or takes over lease name for holder.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	res, err := s.write.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4`, name, holder, now.Add(ttl).UnixMilli(), now.UnixMilli())
	return changed("acquiring lease "+name, res, err)
}

// RenewLease extends holder's lease.
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?`,
		s.now().Add(ttl).UnixMilli(), name, holder)
	return changed("renewing lease "+name, res, err)
}

// ReleaseLease frees holder's lease.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return mapErr("releasing lease "+name, err)
}

// changed reports whether a statement changed a row.
func changed(op string, res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	return n > 0, mapErr(op, err)
}

// CountDeployments counts a site's deployments.
func (s *Store) CountDeployments(ctx context.Context, siteID string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM deployments WHERE site_id = ?`, siteID).Scan(&n)
	return n, mapErr("counting deployments of site "+siteID, err)
}

// DeleteDeployments deletes the deployments ids of a site that are
// neither active nor a branch's.
func (s *Store) DeleteDeployments(ctx context.Context, siteID string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: deleting deployments: %w", err)
	}
	return s.deleteDeployments(ctx, "deleting deployments of site "+siteID, `DELETE FROM deployments
WHERE site_id = ?1 AND id IN (SELECT value FROM json_each(?2)) AND `+notKept+` RETURNING id`, siteID, string(list))
}

// DeleteOldestDeployments deletes up to n of a site's oldest deployments
// that are neither active nor a branch's.
func (s *Store) DeleteOldestDeployments(ctx context.Context, siteID string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	return s.deleteDeployments(ctx, "deleting old deployments of site "+siteID, `DELETE FROM deployments WHERE seq IN (
	SELECT seq FROM deployments WHERE site_id = ?1 AND `+notKept+` ORDER BY created_at, seq LIMIT ?2
) RETURNING id`, siteID, n)
}

func (s *Store) deleteDeployments(ctx context.Context, op, query string, args ...any) ([]string, error) {
	rows, err := s.write.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, id)
	}
	return out, mapErr(op, rows.Err())
}

// PublishGeneration returns the tenant's publish generation.
func (s *Store) PublishGeneration(ctx context.Context, tenantID string) (int64, error) {
	var g int64
	err := s.read.QueryRowContext(ctx, `SELECT publish_gen FROM tenants WHERE id = ?`, tenantID).Scan(&g)
	return g, mapErr("publish generation of tenant "+tenantID, err)
}

// bumpGeneration increases the publish generation of a tenant, in tx,
// and returns it.
func bumpGeneration(ctx context.Context, tx *sql.Tx, tenantID string) (int64, error) {
	var gen int64
	err := tx.QueryRowContext(ctx, `UPDATE tenants SET publish_gen = publish_gen + 1 WHERE id = ? RETURNING publish_gen`, tenantID).Scan(&gen)
	return gen, err
}

// UploadSessionIDs lists the IDs of a tenant's upload sessions.
func (s *Store) UploadSessionIDs(ctx context.Context, tenantID string) ([]string, error) {
	op := "listing upload sessions of tenant " + tenantID
	rows, err := s.read.QueryContext(ctx, `SELECT u.id FROM upload_sessions u JOIN sites s ON s.id = u.site_id WHERE s.tenant_id = ? ORDER BY u.id`, tenantID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, id)
	}
	return out, mapErr(op, rows.Err())
}

// UploadSessionHashes returns the hashes an upload session references.
func (s *Store) UploadSessionHashes(ctx context.Context, id string) ([]string, error) {
	op := "hashes of upload session " + id
	var (
		manifest []byte
		worker   string
	)
	if err := s.read.QueryRowContext(ctx, `SELECT manifest, worker_hash FROM upload_sessions WHERE id = ?`, id).Scan(&manifest, &worker); err != nil {
		return nil, mapErr(op, err)
	}
	m, err := manifestjson.Decode(manifest)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: decoding manifest: %w", op, err)
	}
	out := make([]string, 0, len(m)+1)
	for _, e := range m {
		out = append(out, e.Hash)
	}
	if worker != "" {
		out = append(out, worker)
	}
	return out, nil
}

// BlobsPage returns a page of a tenant's blob index, ordered by hash.
func (s *Store) BlobsPage(ctx context.Context, tenantID, after string, limit int) ([]tenants.Blob, error) {
	op := "listing blobs of tenant " + tenantID
	rows, err := s.read.QueryContext(ctx, `SELECT hash, size, br_size, gz_size FROM blobs WHERE tenant_id = ? AND hash > ? ORDER BY hash LIMIT ?`, tenantID, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := make([]tenants.Blob, 0, min(limit, 1024))
	for rows.Next() {
		var b tenants.Blob
		if err := rows.Scan(&b.Hash, &b.Size, &b.BrSize, &b.GzSize); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, b)
	}
	return out, mapErr(op, rows.Err())
}

// CollectBlobs deletes index records and queues their objects, keeping
// what upload sessions and deployments created after generation gen
// reference.
func (s *Store) CollectBlobs(ctx context.Context, tenantID string, gen int64, hashes []string) ([]tenants.Blob, error) {
	op := "collecting blobs of tenant " + tenantID
	if len(hashes) == 0 {
		return nil, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer tx.Rollback()
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT publish_gen FROM tenants WHERE id = ?`, tenantID).Scan(&cur); err != nil {
		return nil, mapErr(op, err)
	}
	if cur != gen {
		if hashes, err = withoutNewRefs(ctx, tx, tenantID, gen, hashes); err != nil {
			return nil, mapErr(op, err)
		}
	}
	list, err := json.Marshal(hashes)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	const in = `tenant_id = ?1 AND hash IN (SELECT value FROM json_each(?3))`
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(queueBlobsSQL, in), tenantID, s.now().UnixMilli(), string(list)); err != nil {
		return nil, mapErr(op, err)
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM blobs WHERE `+in+` RETURNING hash, size, br_size, gz_size`, tenantID, nil, string(list))
	if err != nil {
		return nil, mapErr(op, err)
	}
	var out []tenants.Blob
	for rows.Next() {
		var b tenants.Blob
		if err := rows.Scan(&b.Hash, &b.Size, &b.BrSize, &b.GzSize); err != nil {
			rows.Close()
			return nil, mapErr(op, err)
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM git_blobs WHERE `+in, tenantID, nil, string(list)); err != nil {
		return nil, mapErr(op, err)
	}
	return out, mapErr(op, tx.Commit())
}

// withoutNewRefs drops from hashes those an upload session or deployment
// of the tenant created after generation gen references, in tx.
func withoutNewRefs(ctx context.Context, tx *sql.Tx, tenantID string, gen int64, hashes []string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT u.manifest, u.worker_hash FROM upload_sessions u JOIN sites s ON s.id = u.site_id
WHERE s.tenant_id = ?1 AND u.publish_gen > ?2
UNION ALL
SELECT d.manifest, d.worker FROM deployments d JOIN sites s ON s.id = d.site_id
WHERE s.tenant_id = ?1 AND d.publish_gen > ?2`, tenantID, gen)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	used := map[string]bool{}
	for rows.Next() {
		var (
			manifest []byte
			worker   string
		)
		if err := rows.Scan(&manifest, &worker); err != nil {
			return nil, err
		}
		m, err := manifestjson.Decode(manifest)
		if err != nil {
			return nil, fmt.Errorf("decoding a manifest: %w", err)
		}
		for _, e := range m {
			used[e.Hash] = true
		}
		used[worker] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := hashes[:0:0]
	for _, h := range hashes {
		if !used[h] {
			out = append(out, h)
		}
	}
	return out, nil
}

// GarbagePage lists queued objects by key.
func (s *Store) GarbagePage(ctx context.Context, grace time.Duration, after string, limit int) ([]tenants.Garbage, error) {
	op := "listing queued garbage"
	rows, err := s.read.QueryContext(ctx, `SELECT key, tenant_id, hash, size, variants, queued_at, state FROM blob_garbage
WHERE queued_at <= ? AND key > ? ORDER BY key LIMIT ?`, s.now().Add(-grace).UnixMilli(), after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []tenants.Garbage
	for rows.Next() {
		var (
			g        tenants.Garbage
			queued   int64
			state    string
			variants int
		)
		if err := rows.Scan(&g.Key, &g.TenantID, &g.Hash, &g.Size, &variants, &queued, &state); err != nil {
			return nil, mapErr(op, err)
		}
		g.Variants = tenants.GarbageVariants(variants)
		g.Queued, g.Claimed = msTime(queued), state == "deleting"
		out = append(out, g)
	}
	return out, mapErr(op, rows.Err())
}

// ClaimGarbage marks pending (or stale) entries as being deleted.
func (s *Store) ClaimGarbage(ctx context.Context, keys []string) ([]string, error) {
	op := "claiming queued garbage"
	if len(keys) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	now := s.now().UnixMilli()
	rows, err := s.write.QueryContext(ctx, `UPDATE blob_garbage SET state = 'deleting', claimed_at = ?1
WHERE key IN (SELECT value FROM json_each(?2)) AND (state = 'pending' OR claimed_at <= ?3) RETURNING key`,
		now, string(list), now-tenants.StaleGarbageClaim.Milliseconds())
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, k)
	}
	return out, mapErr(op, rows.Err())
}

// FinishGarbage removes claimed entries and any index record of their
// hashes.
func (s *Store) FinishGarbage(ctx context.Context, gs []tenants.Garbage) error {
	op := "finishing queued garbage"
	if len(gs) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	for _, g := range gs {
		res, err := tx.ExecContext(ctx, `DELETE FROM blob_garbage WHERE key = ? AND state = 'deleting'`, g.Key)
		if gone, err := changed(op, res, err); err != nil {
			return err
		} else if !gone || g.Hash == "" {
			continue
		}
		for _, q := range []string{`DELETE FROM blobs WHERE tenant_id = ? AND hash = ?`, `DELETE FROM git_blobs WHERE tenant_id = ? AND hash = ?`} {
			if _, err := tx.ExecContext(ctx, q, g.TenantID, g.Hash); err != nil {
				return mapErr(op, err)
			}
		}
	}
	return mapErr(op, tx.Commit())
}

// CancelGarbage removes a hash's pending entries and reports whether a
// claimed one remains.
func (s *Store) CancelGarbage(ctx context.Context, tenantID, hash string) (bool, error) {
	op := "cancelling garbage of blob " + hash
	// Most uploads find nothing queued: a read, not a write, tells.
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM blob_garbage WHERE tenant_id = ? AND hash = ?`, tenantID, hash).Scan(&n); err != nil || n == 0 {
		return false, mapErr(op, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM blob_garbage WHERE tenant_id = ? AND hash = ? AND state = 'pending'`, tenantID, hash); err != nil {
		return false, mapErr(op, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM blob_garbage WHERE tenant_id = ? AND hash = ?`, tenantID, hash).Scan(&n); err != nil {
		return false, mapErr(op, err)
	}
	return n > 0, mapErr(op, tx.Commit())
}
