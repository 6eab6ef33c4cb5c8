package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/tenants"
)

// Domains.

const domainCols = `d.hostname, d.site_id, s.tenant_id, d.status, d.token, d.verified_at, d.checked_at,
	d.next_check, d.error, d.cert_status, d.cert_error, d.cert_next_retry, d.created_at`

const domainFrom = ` FROM domains d JOIN sites s ON s.id = d.site_id `

// optTime converts a time to a nullable timestamp truncated to the
// millisecond: NULL for the zero time.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.Truncate(time.Millisecond).UTC()
	return &u
}

func fromOpt(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func scanDomain(row pgx.Row) (tenants.Domain, error) {
	var (
		d                              tenants.Domain
		verified, checked, next, retry *time.Time
	)
	err := row.Scan(&d.Hostname, &d.SiteID, &d.TenantID, &d.Status, &d.Token, &verified, &checked,
		&next, &d.Error, &d.CertStatus, &d.CertError, &retry, &d.Created)
	d.VerifiedAt, d.CheckedAt, d.NextCheck, d.CertNextRetry = fromOpt(verified), fromOpt(checked), fromOpt(next), fromOpt(retry)
	d.Created = d.Created.UTC()
	return d, err
}

func (s *Store) queryDomains(ctx context.Context, op, where string, args ...any) ([]tenants.Domain, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+domainCols+domainFrom+where, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenants.Domain, error) { return scanDomain(r) })
	return out, mapErr(op, err)
}

// CreateDomain stores a site's claim on a hostname and notifies the
// hostname's change.
func (s *Store) CreateDomain(ctx context.Context, d tenants.Domain) error {
	op := "creating domain " + d.Hostname
	if err := d.Validate(); err != nil {
		return invalid(op, err)
	}
	if _, err := s.siteTenant(ctx, op, d.SiteID, d.TenantID); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `WITH i AS (INSERT INTO domains (hostname, site_id, status, token, verified_at, checked_at,
	next_check, error, cert_status, cert_error, cert_next_retry, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	RETURNING hostname)
SELECT pg_notify($13, $14 || hostname) FROM i`,
		d.Hostname, d.SiteID, d.Status, d.Token, optTime(d.VerifiedAt), optTime(d.CheckedAt), optTime(d.NextCheck),
		d.Error, d.CertStatus, d.CertError, optTime(d.CertNextRetry), s.stamp(d.Created),
		ChangesChannel, tenants.ChangeDomain+":")
	return mapErr(op, err)
}

// Domain returns site siteID's claim on host.
func (s *Store) Domain(ctx context.Context, siteID, host string) (tenants.Domain, error) {
	d, err := scanDomain(s.pool.QueryRow(ctx, `SELECT `+domainCols+domainFrom+`WHERE d.hostname = $1 AND d.site_id = $2`, host, siteID))
	return d, mapErr("domain "+host, err)
}

// Domains lists a site's claims ordered by hostname.
func (s *Store) Domains(ctx context.Context, siteID string) ([]tenants.Domain, error) {
	return s.queryDomains(ctx, "listing domains", `WHERE d.site_id = $1 ORDER BY d.hostname COLLATE "C"`, siteID)
}

// DomainClaims lists every site's claim on host, oldest first.
func (s *Store) DomainClaims(ctx context.Context, host string) ([]tenants.Domain, error) {
	return s.queryDomains(ctx, "listing claims of "+host, `WHERE d.hostname = $1 ORDER BY d.created_at, d.site_id COLLATE "C"`, host)
}

// ActiveDomain returns the active claim on host.
func (s *Store) ActiveDomain(ctx context.Context, host string) (tenants.Domain, error) {
	d, err := scanDomain(s.pool.QueryRow(ctx, `SELECT `+domainCols+domainFrom+`WHERE d.hostname = $1 AND d.status = 'active'`, host))
	return d, mapErr("active domain "+host, err)
}

// ActiveDomains lists the hostnames of every active claim of an enabled
// tenant.
func (s *Store) ActiveDomains(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.hostname FROM domains d JOIN sites s ON s.id = d.site_id JOIN tenants t ON t.id = s.tenant_id
WHERE d.status = 'active' AND NOT t.disabled ORDER BY d.hostname COLLATE "C"`)
	if err != nil {
		return nil, mapErr("listing active domains", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, mapErr("listing active domains", err)
}

// DomainsDue returns at most limit claims due for a check at now.
func (s *Store) DomainsDue(ctx context.Context, now time.Time, limit int) ([]tenants.Domain, error) {
	if limit <= 0 {
		return []tenants.Domain{}, nil
	}
	return s.queryDomains(ctx, "listing domains due", `WHERE d.next_check IS NOT NULL AND d.next_check <= $1
ORDER BY d.next_check, d.hostname COLLATE "C" LIMIT $2`, now.UTC(), limit)
}

// DomainsNeedingAttention returns at most limit claims with a failed
// certificate, blocked, or pending with a failed check, newest first.
func (s *Store) DomainsNeedingAttention(ctx context.Context, limit int) ([]tenants.Domain, error) {
	if limit <= 0 {
		return []tenants.Domain{}, nil
	}
	return s.queryDomains(ctx, "listing domains needing attention",
		`WHERE d.cert_status = 'failed' OR d.status = 'blocked' OR (d.status = 'pending' AND d.error <> '')
ORDER BY d.created_at DESC, d.hostname COLLATE "C" LIMIT $1`, limit)
}

// UpdateDomain writes a claim's mutable fields; activating it demotes any
// other active claim on the hostname in the same transaction. When the
// claim's status changes, the hostname's change is notified; a re-check
// that leaves it as it was notifies nothing.
func (s *Store) UpdateDomain(ctx context.Context, d tenants.Domain) error {
	op := "updating domain " + d.Hostname
	if err := d.Validate(); err != nil {
		return invalid(op, err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var was string
		if err := tx.QueryRow(ctx, `SELECT status FROM domains WHERE hostname = $1 AND site_id = $2 FOR UPDATE`,
			d.Hostname, d.SiteID).Scan(&was); err != nil {
			return err // pgx.ErrNoRows: mapped to tenants.ErrNotFound
		}
		if d.Status == tenants.DomainActive {
			if _, err := tx.Exec(ctx, `UPDATE domains SET status = 'moved', next_check = NULL, cert_status = CASE WHEN cert_status = 'none' THEN 'none' ELSE 'pending_validation' END,
	cert_error = '', cert_next_retry = NULL, error = 'the hostname was claimed by another site with a fresh DNS proof'
WHERE hostname = $1 AND site_id <> $2 AND status = 'active'`, d.Hostname, d.SiteID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE domains SET status = $1, token = $2, verified_at = $3, checked_at = $4, next_check = $5,
	error = $6,
	cert_status = CASE WHEN $1 = 'active' THEN cert_status WHEN $9 = 'pending_validation' THEN $9 ELSE 'none' END,
	cert_error = CASE WHEN $1 = 'active' THEN cert_error ELSE '' END,
	cert_next_retry = CASE WHEN $1 = 'active' THEN cert_next_retry END
WHERE hostname = $7 AND site_id = $8`,
			d.Status, d.Token, optTime(d.VerifiedAt), optTime(d.CheckedAt), optTime(d.NextCheck), d.Error, d.Hostname, d.SiteID, d.CertStatus)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows // mapped to tenants.ErrNotFound
		}
		if err != nil || was == d.Status {
			return err
		}
		// A status change, and any other claim demoted with it.
		return notify(ctx, tx, tenants.ChangeDomain, d.Hostname)
	})
	return mapErr(op, err)
}

// UpdateDomainCert writes the certificate fields of host's active claim.
func (s *Store) UpdateDomainCert(ctx context.Context, host, status, certErr string, nextRetry time.Time) error {
	op := "updating certificate status of " + host
	if err := tenants.ValidateCertStatus(status); err != nil {
		return invalid(op, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE domains SET cert_status = $1, cert_error = $2, cert_next_retry = $3
WHERE hostname = $4 AND status = 'active'`, status, certErr, optTime(nextRetry), host)
	return affected(op, tag, err)
}

// DeleteDomain deletes site siteID's claim on host and notifies the
// hostname's change.
func (s *Store) DeleteDomain(ctx context.Context, siteID, host string) error {
	tag, err := s.pool.Exec(ctx, `WITH d AS (DELETE FROM domains WHERE hostname = $1 AND site_id = $2 RETURNING hostname)
SELECT pg_notify($3, $4 || hostname) FROM d`, host, siteID, ChangesChannel, tenants.ChangeDomain+":")
	return affected("deleting domain "+host, tag, err)
}
