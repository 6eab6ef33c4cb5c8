package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/manifestjson"
)

// Retention, garbage collection and leases (tenants.LifecycleStore).
//
// Concurrency: deleting deployments takes the site's repository lock
// (lockGit), as Activate and ApplyGitPush do, so the check "not active,
// not a branch's" and the delete see every activation committed before
// and block every one after. CollectBlobs locks the tenant's row, whose
// publish_gen every new upload session and deployment increases in its
// own statement: a collection and a new reference are serialized, and
// the collection sees the generation moved.

var _ tenants.LifecycleStore = (*Store)(nil)

// The backend keys of blobs and git packs, spelled in SQL as
// assets.Key and tenants.GitPackKey/GitIndexKey spell them in Go
// (storetest checks that they agree).
const (
	// queueBlobsSQL queues the blobs of the index selected by where ($1
	// is the tenant), stamped by the database's clock.
	queueBlobsSQL = `INSERT INTO blob_garbage (key, tenant_id, hash, size, variants, queued_at)
SELECT 't/' || tenant_id || '/' || hash, tenant_id, hash, size + br_size + gz_size,
	(CASE WHEN br_size > 0 THEN 1 ELSE 0 END) | (CASE WHEN gz_size > 0 THEN 2 ELSE 0 END), clock_timestamp() FROM blobs WHERE %s
ON CONFLICT (key) DO UPDATE SET size = excluded.size, variants = excluded.variants, queued_at = excluded.queued_at WHERE blob_garbage.state = 'pending'`
	// queuePacksSQL queues the pack and index objects of the git packs of
	// the sites selected by where ($1 is the site or tenant).
	queuePacksSQL = `INSERT INTO blob_garbage (key, tenant_id, hash, size, queued_at)
SELECT 'git/' || p.site_id || '/' || p.name || x.ext, s.tenant_id, '', CASE x.ext WHEN '.pack' THEN p.size ELSE 0 END, clock_timestamp()
FROM git_packs p JOIN sites s ON s.id = p.site_id CROSS JOIN (VALUES ('.pack'), ('.idx')) AS x(ext)
WHERE %s
ON CONFLICT (key) DO NOTHING`
	// notKept excludes a site's active deployment and its branches'.
	notKept = `id <> coalesce((SELECT active_deployment FROM sites WHERE id = $1), '')
AND id NOT IN (SELECT deployment FROM git_refs WHERE site_id = $1)`
	// bumpGen, as a WITH clause, increases the publish generation of the
	// tenant of the site (the parameter %s) in the statement it prefixes,
	// whose insert stores it as genValue. Without the site, genValue is 0
	// and the insert fails its foreign key.
	bumpGen  = `WITH gen AS (UPDATE tenants SET publish_gen = publish_gen + 1 WHERE id = (SELECT tenant_id FROM sites WHERE id = %s) RETURNING publish_gen) `
	genValue = `coalesce((SELECT publish_gen FROM gen), 0)`
)

// queueSiteGarbage queues the git packs of site id, in tx.
func (s *Store) queueSiteGarbage(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, fmt.Sprintf(queuePacksSQL, `p.site_id = $1`), id)
	return err
}

// queueTenantGarbage queues every blob of tenant id's index and the git
// packs of its sites, in tx.
func (s *Store) queueTenantGarbage(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf(queueBlobsSQL, `tenant_id = $1`), id); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, fmt.Sprintf(queuePacksSQL, `s.tenant_id = $1`), id)
	return err
}

// AcquireLease takes, renews or takes over lease name for holder, by
// the database's clock.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at <= clock_timestamp()`, name, holder, ttl.Milliseconds())
	return changed("acquiring lease "+name, tag, err)
}

// RenewLease extends holder's lease.
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE leases SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' WHERE name = $1 AND holder = $2`,
		name, holder, ttl.Milliseconds())
	return changed("renewing lease "+name, tag, err)
}

// ReleaseLease frees holder's lease.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return mapErr("releasing lease "+name, err)
}

func changed(op string, tag pgconn.CommandTag, err error) (bool, error) {
	if err != nil {
		return false, mapErr(op, err)
	}
	return tag.RowsAffected() > 0, nil
}

// CountDeployments counts a site's deployments.
func (s *Store) CountDeployments(ctx context.Context, siteID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deployments WHERE site_id = $1`, siteID).Scan(&n)
	return n, mapErr("counting deployments of site "+siteID, err)
}

// DeleteDeployments deletes the deployments ids of a site that are
// neither active nor a branch's.
func (s *Store) DeleteDeployments(ctx context.Context, siteID string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.deleteDeployments(ctx, "deleting deployments of site "+siteID, siteID, `DELETE FROM deployments
WHERE site_id = $1 AND id = ANY($2) AND `+notKept+` RETURNING id`, ids)
}

// DeleteOldestDeployments deletes up to n of a site's oldest deployments
// that are neither active nor a branch's.
func (s *Store) DeleteOldestDeployments(ctx context.Context, siteID string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	return s.deleteDeployments(ctx, "deleting old deployments of site "+siteID, siteID, `DELETE FROM deployments WHERE seq IN (
	SELECT seq FROM deployments WHERE site_id = $1 AND `+notKept+` ORDER BY created_at, seq LIMIT $2
) RETURNING id`, n)
}

func (s *Store) deleteDeployments(ctx context.Context, op, siteID, query string, arg any) ([]string, error) {
	var out []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGit(ctx, tx, siteID); err != nil {
			return err
		}
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM sites WHERE id = $1`, siteID).Scan(&name); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, siteID, arg)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(out) == 0 {
			return err
		}
		return notify(ctx, tx, tenants.ChangeSite, name)
	})
	return out, mapErr(op, err)
}

// PublishGeneration returns the tenant's publish generation.
func (s *Store) PublishGeneration(ctx context.Context, tenantID string) (int64, error) {
	var g int64
	err := s.pool.QueryRow(ctx, `SELECT publish_gen FROM tenants WHERE id = $1`, tenantID).Scan(&g)
	return g, mapErr("publish generation of tenant "+tenantID, err)
}

// UploadSessionIDs lists the IDs of a tenant's upload sessions.
func (s *Store) UploadSessionIDs(ctx context.Context, tenantID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.id FROM upload_sessions u JOIN sites s ON s.id = u.site_id WHERE s.tenant_id = $1 ORDER BY u.id`, tenantID)
	if err != nil {
		return nil, mapErr("listing upload sessions of tenant "+tenantID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, mapErr("listing upload sessions of tenant "+tenantID, err)
}

// UploadSessionHashes returns the hashes an upload session references.
func (s *Store) UploadSessionHashes(ctx context.Context, id string) ([]string, error) {
	op := "hashes of upload session " + id
	var (
		manifest []byte
		worker   string
	)
	if err := s.pool.QueryRow(ctx, `SELECT manifest::text, worker_hash FROM upload_sessions WHERE id = $1`, id).Scan(&manifest, &worker); err != nil {
		return nil, mapErr(op, err)
	}
	m, err := manifestjson.Decode(manifest)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s: decoding manifest: %w", op, err)
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
	rows, err := s.pool.Query(ctx, `SELECT hash, size, br_size, gz_size FROM blobs WHERE tenant_id = $1 AND hash > $2 ORDER BY hash LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, scanBlob)
	return out, mapErr(op, err)
}

func scanBlob(row pgx.CollectableRow) (tenants.Blob, error) {
	var b tenants.Blob
	err := row.Scan(&b.Hash, &b.Size, &b.BrSize, &b.GzSize)
	return b, err
}

// CollectBlobs deletes index records and queues their objects, keeping
// what upload sessions and deployments created after generation gen
// reference.
func (s *Store) CollectBlobs(ctx context.Context, tenantID string, gen int64, hashes []string) ([]tenants.Blob, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	var out []tenants.Blob
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Locked, the tenant gets no new upload session or deployment
		// (their generation bump waits) until the collection commits.
		var cur int64
		if err := tx.QueryRow(ctx, `SELECT publish_gen FROM tenants WHERE id = $1 FOR NO KEY UPDATE`, tenantID).Scan(&cur); err != nil {
			return err
		}
		hs := hashes
		if cur != gen {
			var err error
			if hs, err = withoutNewRefs(ctx, tx, tenantID, gen, hashes); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(queueBlobsSQL, `tenant_id = $1 AND hash = ANY($2)`), tenantID, hs); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM blobs WHERE tenant_id = $1 AND hash = ANY($2) RETURNING hash, size, br_size, gz_size`, tenantID, hs)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, scanBlob); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM git_blobs WHERE tenant_id = $1 AND hash = ANY($2)`, tenantID, hs)
		return err
	})
	if err != nil {
		return nil, mapErr("collecting blobs of tenant "+tenantID, err)
	}
	return out, nil
}

// withoutNewRefs drops from hashes those an upload session or deployment
// of the tenant created after generation gen references, in tx.
func withoutNewRefs(ctx context.Context, tx pgx.Tx, tenantID string, gen int64, hashes []string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT u.manifest::text, u.worker_hash FROM upload_sessions u JOIN sites s ON s.id = u.site_id
WHERE s.tenant_id = $1 AND u.publish_gen > $2
UNION ALL
SELECT d.manifest::text, d.worker FROM deployments d JOIN sites s ON s.id = d.site_id
WHERE s.tenant_id = $1 AND d.publish_gen > $2`, tenantID, gen)
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
	out := []string{}
	for _, h := range hashes {
		if !used[h] {
			out = append(out, h)
		}
	}
	return out, nil
}

// GarbagePage lists queued objects by key.
func (s *Store) GarbagePage(ctx context.Context, grace time.Duration, after string, limit int) ([]tenants.Garbage, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, tenant_id, hash, size, variants, queued_at, state = 'deleting' FROM blob_garbage
WHERE queued_at <= clock_timestamp() - $1 * interval '1 microsecond' AND key > $2 ORDER BY key LIMIT $3`, grace.Microseconds(), after, limit)
	if err != nil {
		return nil, mapErr("listing queued garbage", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tenants.Garbage, error) {
		var (
			g        tenants.Garbage
			variants int
		)
		err := row.Scan(&g.Key, &g.TenantID, &g.Hash, &g.Size, &variants, &g.Queued, &g.Claimed)
		g.Queued, g.Variants = g.Queued.UTC(), tenants.GarbageVariants(variants)
		return g, err
	})
	return out, mapErr("listing queued garbage", err)
}

// ClaimGarbage marks pending (or stale) entries as being deleted.
func (s *Store) ClaimGarbage(ctx context.Context, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE blob_garbage SET state = 'deleting', claimed_at = clock_timestamp()
WHERE key = ANY($1) AND (state = 'pending' OR claimed_at <= clock_timestamp() - $2 * interval '1 millisecond') RETURNING key`,
		keys, tenants.StaleGarbageClaim.Milliseconds())
	if err != nil {
		return nil, mapErr("claiming queued garbage", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, mapErr("claiming queued garbage", err)
}

// FinishGarbage removes claimed entries and any index record of their
// hashes.
func (s *Store) FinishGarbage(ctx context.Context, gs []tenants.Garbage) error {
	if len(gs) == 0 {
		return nil
	}
	keys := make([]string, len(gs))
	for i, g := range gs {
		keys[i] = g.Key
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM blob_garbage WHERE key = ANY($1) AND state = 'deleting' RETURNING tenant_id, hash`, keys)
		if err != nil {
			return err
		}
		var (
			ts, hs []string
			t, h   string
		)
		_, err = pgx.ForEachRow(rows, []any{&t, &h}, func() error {
			if h != "" {
				ts, hs = append(ts, t), append(hs, h)
			}
			return nil
		})
		if err != nil || len(hs) == 0 {
			return err
		}
		for _, table := range []string{"blobs", "git_blobs"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` b USING unnest($1::text[], $2::text[]) AS x(t, h)
WHERE b.tenant_id = x.t AND b.hash = x.h`, ts, hs); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr("finishing queued garbage", err)
}

// CancelGarbage removes a hash's pending entries and reports whether a
// claimed one remains.
func (s *Store) CancelGarbage(ctx context.Context, tenantID, hash string) (bool, error) {
	var n int
	err := s.pool.QueryRow(ctx, `WITH d AS (DELETE FROM blob_garbage WHERE tenant_id = $1 AND hash = $2 AND state = 'pending' RETURNING key)
SELECT count(*) FROM blob_garbage WHERE tenant_id = $1 AND hash = $2 AND key NOT IN (SELECT key FROM d)`, tenantID, hash).Scan(&n)
	return n > 0, mapErr("cancelling garbage of blob "+hash, err)
}
