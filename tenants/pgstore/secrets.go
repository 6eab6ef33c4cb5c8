package pgstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/tenants"
)

// Sites' secrets (tenants.SecretStore). PutSecret and DeleteSecret lock
// the site's row first (so concurrent puts of new names count against the
// limit one at a time, and a concurrent DeleteSite waits) and notify the
// site's change in their transaction, so every node retires the site's
// workers.

// lockSite locks site siteID's row for the rest of tx and returns its
// name; pgx.ErrNoRows when it does not exist.
func lockSite(ctx context.Context, tx pgx.Tx, siteID string) (string, error) {
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM sites WHERE id = $1 FOR NO KEY UPDATE`, siteID).Scan(&name)
	return name, err
}

// PutSecret creates or replaces a secret, refusing a new name past
// maxPerSite secrets of the site.
func (s *Store) PutSecret(ctx context.Context, sec tenants.Secret, maxPerSite int) (bool, error) {
	op := "putting secret " + sec.Name + " of site " + sec.SiteID
	if err := tenants.ValidSecretName(sec.Name); err != nil {
		return false, invalid(op, err)
	}
	if len(sec.Ciphertext) == 0 || sec.KeyID == "" {
		return false, invalid(op, fmt.Errorf("%w: no ciphertext or key id", tenants.ErrInvalid))
	}
	var created bool
	var limitErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		name, err := lockSite(ctx, tx, sec.SiteID)
		if err != nil {
			return err
		}
		var count, exists int
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE name = $2) FROM site_secrets WHERE site_id = $1`,
			sec.SiteID, sec.Name).Scan(&count, &exists); err != nil {
			return err
		}
		if exists == 0 && maxPerSite > 0 && count >= maxPerSite {
			limitErr = fmt.Errorf("pgstore: %s: %w: the site has %d secrets, the limit is %d", op, tenants.ErrTooManySecrets, count, maxPerSite)
			return limitErr
		}
		now := s.stamp(sec.Updated)
		if _, err := tx.Exec(ctx, `INSERT INTO site_secrets (site_id, name, ciphertext, key_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (site_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = excluded.updated_at`,
			sec.SiteID, sec.Name, sec.Ciphertext, sec.KeyID, now); err != nil {
			return err
		}
		created = exists == 0
		return notify(ctx, tx, tenants.ChangeSite, name)
	})
	if limitErr != nil {
		return false, limitErr
	}
	return created, mapErr(op, err)
}

const secretCols = `site_id, name, key_id, created_at, updated_at`

func (s *Store) listSecrets(ctx context.Context, op string, withValue bool, query string, args ...any) ([]tenants.Secret, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.Secret, error) {
		var sec tenants.Secret
		dest := []any{&sec.SiteID, &sec.Name, &sec.KeyID, &sec.Created, &sec.Updated}
		if withValue {
			dest = append(dest, &sec.Ciphertext)
		}
		err := r.Scan(dest...)
		sec.Created, sec.Updated = sec.Created.UTC(), sec.Updated.UTC()
		return sec, err
	})
	if out == nil {
		out = []tenants.Secret{}
	}
	return out, mapErr(op, err)
}

// Secrets lists a site's secrets by name, without their ciphertexts.
func (s *Store) Secrets(ctx context.Context, siteID string) ([]tenants.Secret, error) {
	return s.listSecrets(ctx, "listing secrets of site "+siteID, false,
		`SELECT `+secretCols+` FROM site_secrets WHERE site_id = $1 ORDER BY name COLLATE "C"`, siteID)
}

// SecretValues lists a site's secrets by name with their ciphertexts.
func (s *Store) SecretValues(ctx context.Context, siteID string) ([]tenants.Secret, error) {
	return s.listSecrets(ctx, "reading secrets of site "+siteID, true,
		`SELECT `+secretCols+`, ciphertext FROM site_secrets WHERE site_id = $1 ORDER BY name COLLATE "C"`, siteID)
}

// DeleteSecret deletes a secret and notifies the site's change.
func (s *Store) DeleteSecret(ctx context.Context, siteID, name string) error {
	op := "deleting secret " + name + " of site " + siteID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		site, err := lockSite(ctx, tx, siteID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM site_secrets WHERE site_id = $1 AND name = $2`, siteID, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return notify(ctx, tx, tenants.ChangeSite, site)
	})
	return mapErr(op, err)
}

// SecretsToRekey lists up to limit secrets not sealed under keyID, after
// (afterSite, afterName) in (site ID, name) order.
func (s *Store) SecretsToRekey(ctx context.Context, keyID, afterSite, afterName string, limit int) ([]tenants.Secret, error) {
	return s.listSecrets(ctx, "listing secrets to rekey", true,
		`SELECT `+secretCols+`, ciphertext FROM site_secrets
WHERE key_id <> $1 AND (site_id COLLATE "C", name COLLATE "C") > ($2::text COLLATE "C", $3::text COLLATE "C")
ORDER BY site_id COLLATE "C", name COLLATE "C" LIMIT $4`, keyID, afterSite, afterName, limit)
}

// ReplaceSecret swaps a secret's ciphertext if it is still old.
func (s *Store) ReplaceSecret(ctx context.Context, siteID, name string, old, ciphertext []byte, keyID string) error {
	op := "replacing secret " + name + " of site " + siteID
	var conflict error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur []byte
		if err := tx.QueryRow(ctx, `SELECT ciphertext FROM site_secrets WHERE site_id = $1 AND name = $2 FOR UPDATE`, siteID, name).Scan(&cur); err != nil {
			return err
		}
		if !bytes.Equal(cur, old) {
			conflict = fmt.Errorf("pgstore: %s: %w: it changed meanwhile", op, tenants.ErrConflict)
			return conflict
		}
		_, err := tx.Exec(ctx, `UPDATE site_secrets SET ciphertext = $1, key_id = $2 WHERE site_id = $3 AND name = $4`, ciphertext, keyID, siteID, name)
		return err
	})
	if conflict != nil {
		return conflict
	}
	return mapErr(op, err)
}
