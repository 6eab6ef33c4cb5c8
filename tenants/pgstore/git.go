package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/internal/gitcheck"
)

// Git repositories (tenants.GitStore).
//
// Writes to a site's repository (ApplyGitPush, ReplaceGitPacks) take a
// transaction-scoped advisory lock of the site first, so they run one at
// a time per site on every node: a compare-and-swap reads the refs and
// writes them with no other writer in between, and two pushes never wait
// on each other's row locks in opposite orders.

// gitLockSpace is the first key of the two-key advisory locks of sites'
// repositories ("git!"); the second is hashtext(site id). Two-key locks
// never conflict with the one-key migration lock.
const gitLockSpace int32 = 0x67_69_74_21

// lockGit takes site siteID's repository lock for the rest of tx.
func lockGit(ctx context.Context, tx pgx.Tx, siteID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, gitLockSpace, siteID)
	return err
}

const gitRefCols = `site_id, name, commit_id, deployment, alias, updated_at`

func scanGitRef(row pgx.Row) (tenants.GitRef, error) {
	var r tenants.GitRef
	err := row.Scan(&r.SiteID, &r.Name, &r.Commit, &r.Deployment, &r.Alias, &r.Updated)
	r.Updated = r.Updated.UTC()
	return r, err
}

// queryer is a pool or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func gitRefs(ctx context.Context, q queryer, siteID string) ([]tenants.GitRef, error) {
	rows, err := q.Query(ctx, `SELECT `+gitRefCols+` FROM git_refs WHERE site_id = $1 ORDER BY name COLLATE "C"`, siteID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.GitRef, error) { return scanGitRef(r) })
}

// GitRefs lists a site's refs ordered by name.
func (s *Store) GitRefs(ctx context.Context, siteID string) ([]tenants.GitRef, error) {
	out, err := gitRefs(ctx, s.pool, siteID)
	return out, mapErr("listing git refs of site "+siteID, err)
}

// GitAlias returns the site's ref whose alias is alias.
func (s *Store) GitAlias(ctx context.Context, siteID, alias string) (tenants.GitRef, error) {
	op := "git alias " + alias + " of site " + siteID
	if alias == "" {
		return tenants.GitRef{}, notFound(op)
	}
	r, err := scanGitRef(s.pool.QueryRow(ctx, `SELECT `+gitRefCols+` FROM git_refs WHERE site_id = $1 AND alias = $2`, siteID, alias))
	return r, mapErr(op, err)
}

// GitPacks lists a site's packs, oldest first.
func (s *Store) GitPacks(ctx context.Context, siteID string) ([]tenants.GitPack, error) {
	op := "listing git packs of site " + siteID
	rows, err := s.pool.Query(ctx, `SELECT site_id, name, size, created_at FROM git_packs WHERE site_id = $1 ORDER BY created_at, seq`, siteID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.GitPack, error) {
		var p tenants.GitPack
		err := r.Scan(&p.SiteID, &p.Name, &p.Size, &p.Created)
		p.Created = p.Created.UTC()
		return p, err
	})
	return out, mapErr(op, err)
}

// GitShallow lists the repository's shallow commits, sorted.
func (s *Store) GitShallow(ctx context.Context, siteID string) ([]string, error) {
	op := "listing shallow commits of site " + siteID
	rows, err := s.pool.Query(ctx, `SELECT commit_id FROM git_shallow WHERE site_id = $1 ORDER BY commit_id COLLATE "C"`, siteID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, mapErr(op, err)
}

// ApplyGitPush writes p in one transaction under the site's repository
// lock: each ref update is checked against the ref's current commit (a
// *tenants.GitRefConflictError when it moved, and nothing is written), the
// aliases of the resulting refs must be unique within the site
// (ErrConflict), then refs, packs and shallow commits are written,
// p.Activate, when set, made live, and the site's change notified when an
// alias changed or a deployment was activated.
func (s *Store) ApplyGitPush(ctx context.Context, p tenants.GitPush) error {
	op := "applying git push to site " + p.SiteID
	if err := gitcheck.Push(p); err != nil {
		return invalid(op, err)
	}
	var conflict error // returned as is, not mapped
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGit(ctx, tx, p.SiteID); err != nil {
			return err
		}
		// Locked now rather than by the writes below (foreign-key checks,
		// the activation), so a concurrent DeleteSite waits for the push
		// or the push for it, instead of the two deadlocking.
		var name string
		if err := tx.QueryRow(ctx, `SELECT name FROM sites WHERE id = $1 FOR NO KEY UPDATE`, p.SiteID).Scan(&name); err != nil {
			return err
		}
		cur, err := gitRefs(ctx, tx, p.SiteID)
		if err != nil {
			return err
		}
		changed, err := gitcheck.Apply(cur, p.Refs)
		if err != nil {
			conflict = err
			return err
		}
		if err := s.writeGitPush(ctx, tx, p); err != nil {
			return err
		}
		if p.Activate != "" {
			tag, err := tx.Exec(ctx, `UPDATE sites SET active_deployment = $1
WHERE id = $2 AND EXISTS (SELECT 1 FROM deployments WHERE id = $1 AND site_id = $2)`, p.Activate, p.SiteID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("activating deployment %s: %w", p.Activate, pgx.ErrNoRows)
			}
			changed = true
		}
		if !changed {
			return nil
		}
		return notify(ctx, tx, tenants.ChangeSite, name)
	})
	if conflict != nil && errors.Is(err, conflict) {
		return fmt.Errorf("pgstore: %s: %w", op, conflict)
	}
	return mapErr(op, err)
}

// writeGitPush writes the refs, packs and shallow commits of p, already
// checked, inside tx.
func (s *Store) writeGitPush(ctx context.Context, tx pgx.Tx, p tenants.GitPush) error {
	names := make([]string, 0, len(p.Refs))
	for _, u := range p.Refs {
		names = append(names, u.Ref.Name)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM git_refs WHERE site_id = $1 AND name = ANY($2)`, p.SiteID, names); err != nil {
		return err
	}
	for _, u := range p.Refs {
		r := u.Ref
		if r.Commit == "" {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO git_refs (`+gitRefCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.SiteID, r.Name, r.Commit, r.Deployment, r.Alias, s.stamp(r.Updated)); err != nil {
			return err
		}
	}
	for _, pk := range p.Packs {
		if _, err := tx.Exec(ctx, `INSERT INTO git_packs (site_id, name, size, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (site_id, name) DO NOTHING`, p.SiteID, pk.Name, pk.Size, s.stamp(pk.Created)); err != nil {
			return err
		}
	}
	if len(p.Shallow) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO git_shallow (site_id, commit_id) SELECT $1, unnest($2::text[])
ON CONFLICT DO NOTHING`, p.SiteID, p.Shallow); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceGitPacks replaces packs old of a site with repl in one
// transaction under the site's repository lock; ErrConflict when any of
// old is no longer listed.
func (s *Store) ReplaceGitPacks(ctx context.Context, siteID string, old []string, repl tenants.GitPack) error {
	op := "replacing git packs of site " + siteID
	if err := gitcheck.Pack(repl, siteID); err != nil {
		return invalid(op, err)
	}
	old = slices.Compact(slices.Sorted(slices.Values(old)))
	var gone error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGit(ctx, tx, siteID); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM sites WHERE id = $1`, siteID).Scan(&one); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM git_packs WHERE site_id = $1 AND name = ANY($2)`, siteID, old)
		if err != nil {
			return err
		}
		if n := tag.RowsAffected(); n != int64(len(old)) {
			gone = fmt.Errorf("%w: %d of the %d packs replaced are no longer listed", tenants.ErrConflict, int64(len(old))-n, len(old))
			return gone
		}
		_, err = tx.Exec(ctx, `INSERT INTO git_packs (site_id, name, size, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (site_id, name) DO NOTHING`, siteID, repl.Name, repl.Size, s.stamp(repl.Created))
		return err
	})
	if gone != nil && errors.Is(err, gone) {
		return fmt.Errorf("pgstore: %s: %w", op, gone)
	}
	return mapErr(op, err)
}

// GitBlobs returns the recorded mappings among oids, in one query whatever
// their number (one array parameter, as in Blobs).
func (s *Store) GitBlobs(ctx context.Context, tenantID string, oids []string) (map[string]tenants.GitBlob, error) {
	op := "looking up git blobs of tenant " + tenantID
	out := make(map[string]tenants.GitBlob)
	if len(oids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT oid, hash, size FROM git_blobs WHERE tenant_id = $1 AND oid = ANY($2)`, tenantID, oids)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b tenants.GitBlob
		if err := rows.Scan(&b.OID, &b.Hash, &b.Size); err != nil {
			return nil, mapErr(op, err)
		}
		out[b.OID] = b
	}
	return out, mapErr(op, rows.Err())
}

// PutGitBlobs records mappings of a tenant in one statement (upsert; the
// last of an oid given twice wins). ErrNotFound when the tenant does not
// exist; nothing is recorded when any mapping is invalid.
func (s *Store) PutGitBlobs(ctx context.Context, tenantID string, blobs []tenants.GitBlob) error {
	op := "recording git blobs of tenant " + tenantID
	if len(blobs) == 0 {
		return nil
	}
	// One row per oid: ON CONFLICT DO UPDATE cannot touch a row twice in
	// one statement.
	last := make(map[string]int, len(blobs))
	for i, b := range blobs {
		if err := gitcheck.Blob(b); err != nil {
			return invalid(op, err)
		}
		last[b.OID] = i
	}
	var (
		oids, hashes = make([]string, 0, len(last)), make([]string, 0, len(last))
		sizes        = make([]int64, 0, len(last))
	)
	for i, b := range blobs {
		if last[b.OID] != i {
			continue
		}
		oids, hashes, sizes = append(oids, b.OID), append(hashes, b.Hash), append(sizes, b.Size)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO git_blobs (tenant_id, oid, hash, size)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])
ON CONFLICT (tenant_id, oid) DO UPDATE SET hash = excluded.hash, size = excluded.size`,
		tenantID, oids, hashes, sizes)
	return mapErr(op, err)
}

// DeploymentByTree returns the newest deployment of a site whose source
// tree is tree.
func (s *Store) DeploymentByTree(ctx context.Context, siteID, tree string) (tenants.Deployment, error) {
	op := "deployment of tree " + tree + " of site " + siteID
	if tree == "" {
		return tenants.Deployment{}, notFound(op)
	}
	var id string
	if err := s.pool.QueryRow(ctx, `SELECT id FROM deployments WHERE site_id = $1 AND source_tree = $2
ORDER BY created_at DESC, seq DESC LIMIT 1`, siteID, tree).Scan(&id); err != nil {
		return tenants.Deployment{}, mapErr(op, err)
	}
	return s.Deployment(ctx, siteID, id)
}

// SetProductionBranch sets a site's production branch. It notifies
// nothing: no node caches it.
func (s *Store) SetProductionBranch(ctx context.Context, siteID, branch string) error {
	op := "setting the production branch of site " + siteID
	if err := gitcheck.Branch(branch); err != nil {
		return invalid(op, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sites SET production_branch = $1 WHERE id = $2`, branch, siteID)
	return affected(op, tag, err)
}
