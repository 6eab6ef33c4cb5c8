package sqlitestore

import (
	"bytes"
	"context"

	"fmt"

	"github.com/pierhq/pier/tenants"
)

// Sites' secrets (tenants.SecretStore). One process owns the file, so
// there is no change feed to notify: admin's callbacks tell the edge.

// PutSecret creates or replaces a secret, refusing a new name past
// maxPerSite secrets of the site (in the same IMMEDIATE transaction).
func (s *Store) PutSecret(ctx context.Context, sec tenants.Secret, maxPerSite int) (bool, error) {
	op := "putting secret " + sec.Name + " of site " + sec.SiteID
	if err := tenants.ValidSecretName(sec.Name); err != nil {
		return false, invalid(op, err)
	}
	if len(sec.Ciphertext) == 0 || sec.KeyID == "" {
		return false, invalid(op, fmt.Errorf("%w: no ciphertext or key id", tenants.ErrInvalid))
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, mapErr(op, err)
	}
	defer tx.Rollback()
	var exists, count int
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(name = ?2), 0) FROM site_secrets WHERE site_id = ?1`,
		sec.SiteID, sec.Name).Scan(&count, &exists); err != nil {
		return false, mapErr(op, err)
	}
	if exists == 0 && maxPerSite > 0 && count >= maxPerSite {
		return false, fmt.Errorf("sqlitestore: %s: %w: the site has %d secrets, the limit is %d", op, tenants.ErrTooManySecrets, count, maxPerSite)
	}
	now := s.createdMs(sec.Updated)
	_, err = tx.ExecContext(ctx, `INSERT INTO site_secrets (site_id, name, ciphertext, key_id, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?5)
ON CONFLICT (site_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = excluded.updated_at`,
		sec.SiteID, sec.Name, sec.Ciphertext, sec.KeyID, now)
	if err != nil {
		return false, mapErr(op, err)
	}
	return exists == 0, mapErr(op, tx.Commit())
}

const secretCols = `site_id, name, key_id, created_at, updated_at`

func scanSecret(sc interface{ Scan(...any) error }, withValue bool) (tenants.Secret, error) {
	var (
		sec              tenants.Secret
		created, updated int64
	)
	dest := []any{&sec.SiteID, &sec.Name, &sec.KeyID, &created, &updated}
	if withValue {
		dest = append(dest, &sec.Ciphertext)
	}
	err := sc.Scan(dest...)
	sec.Created, sec.Updated = msTime(created), msTime(updated)
	return sec, err
}

func (s *Store) listSecrets(ctx context.Context, op string, withValue bool, query string, args ...any) ([]tenants.Secret, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.Secret{}
	for rows.Next() {
		sec, err := scanSecret(rows, withValue)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, sec)
	}
	return out, mapErr(op, rows.Err())
}

// Secrets lists a site's secrets by name, without their ciphertexts.
func (s *Store) Secrets(ctx context.Context, siteID string) ([]tenants.Secret, error) {
	return s.listSecrets(ctx, "listing secrets of site "+siteID, false,
		`SELECT `+secretCols+` FROM site_secrets WHERE site_id = ? ORDER BY name`, siteID)
}

// SecretValues lists a site's secrets by name with their ciphertexts.
func (s *Store) SecretValues(ctx context.Context, siteID string) ([]tenants.Secret, error) {
	return s.listSecrets(ctx, "reading secrets of site "+siteID, true,
		`SELECT `+secretCols+`, ciphertext FROM site_secrets WHERE site_id = ? ORDER BY name`, siteID)
}

// DeleteSecret deletes a secret.
func (s *Store) DeleteSecret(ctx context.Context, siteID, name string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM site_secrets WHERE site_id = ? AND name = ?`, siteID, name)
	return affected("deleting secret "+name+" of site "+siteID, res, err)
}

// SecretsToRekey lists up to limit secrets not sealed under keyID, after
// (afterSite, afterName) in (site ID, name) order.
func (s *Store) SecretsToRekey(ctx context.Context, keyID, afterSite, afterName string, limit int) ([]tenants.Secret, error) {
	return s.listSecrets(ctx, "listing secrets to rekey", true,
		`SELECT `+secretCols+`, ciphertext FROM site_secrets
WHERE key_id <> ?1 AND (site_id > ?2 OR site_id = ?2 AND name > ?3)
ORDER BY site_id, name LIMIT ?4`, keyID, afterSite, afterName, limit)
}

// ReplaceSecret swaps a secret's ciphertext if it is still old.
func (s *Store) ReplaceSecret(ctx context.Context, siteID, name string, old, ciphertext []byte, keyID string) error {
	op := "replacing secret " + name + " of site " + siteID
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	var cur []byte
	err = tx.QueryRowContext(ctx, `SELECT ciphertext FROM site_secrets WHERE site_id = ? AND name = ?`, siteID, name).Scan(&cur)
	if err != nil {
		return mapErr(op, err)
	}
	if !bytes.Equal(cur, old) {
		return fmt.Errorf("sqlitestore: %s: %w: it changed meanwhile", op, tenants.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE site_secrets SET ciphertext = ?, key_id = ? WHERE site_id = ? AND name = ?`,
		ciphertext, keyID, siteID, name); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}
