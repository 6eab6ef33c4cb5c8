package sqlitestore

import (
	"context"
	"time"

	"github.com/pierhq/pier/tenants"
)

// Domains.

const domainCols = `d.hostname, d.site_id, s.tenant_id, d.status, d.token, d.verified_at, d.checked_at,
	d.next_check, d.error, d.cert_status, d.cert_error, d.cert_next_retry, d.created_at`

const domainFrom = ` FROM domains d JOIN sites s ON s.id = d.site_id `

// optMs converts a time to Unix milliseconds, 0 for the zero time.
func optMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// optTime converts stored milliseconds back, 0 to the zero time.
func optTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return msTime(v)
}

func scanDomain(sc interface{ Scan(...any) error }) (tenants.Domain, error) {
	var (
		d                                  tenants.Domain
		verified, checked, next, retry, cr int64
	)
	err := sc.Scan(&d.Hostname, &d.SiteID, &d.TenantID, &d.Status, &d.Token, &verified, &checked,
		&next, &d.Error, &d.CertStatus, &d.CertError, &retry, &cr)
	d.VerifiedAt, d.CheckedAt, d.NextCheck, d.CertNextRetry = optTime(verified), optTime(checked), optTime(next), optTime(retry)
	d.Created = msTime(cr)
	return d, err
}

func (s *Store) queryDomains(ctx context.Context, op, where string, args ...any) ([]tenants.Domain, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+domainCols+domainFrom+where, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []tenants.Domain{}
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, d)
	}
	return out, mapErr(op, rows.Err())
}

// CreateDomain stores a site's claim on a hostname.
func (s *Store) CreateDomain(ctx context.Context, d tenants.Domain) error {
	op := "creating domain " + d.Hostname
	if err := d.Validate(); err != nil {
		return invalid(op, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if _, err := siteTenant(ctx, tx, op, d.SiteID, d.TenantID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO domains (hostname, site_id, status, token, verified_at, checked_at,
	next_check, error, cert_status, cert_error, cert_next_retry, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Hostname, d.SiteID, d.Status, d.Token, optMs(d.VerifiedAt), optMs(d.CheckedAt), optMs(d.NextCheck),
		d.Error, d.CertStatus, d.CertError, optMs(d.CertNextRetry), s.createdMs(d.Created)); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// Domain returns site siteID's claim on host.
func (s *Store) Domain(ctx context.Context, siteID, host string) (tenants.Domain, error) {
	d, err := scanDomain(s.read.QueryRowContext(ctx, `SELECT `+domainCols+domainFrom+`WHERE d.hostname = ? AND d.site_id = ?`, host, siteID))
	return d, mapErr("domain "+host, err)
}

// Domains lists a site's claims ordered by hostname.
func (s *Store) Domains(ctx context.Context, siteID string) ([]tenants.Domain, error) {
	return s.queryDomains(ctx, "listing domains", `WHERE d.site_id = ? ORDER BY d.hostname`, siteID)
}

// DomainClaims lists every site's claim on host, oldest first.
func (s *Store) DomainClaims(ctx context.Context, host string) ([]tenants.Domain, error) {
	return s.queryDomains(ctx, "listing claims of "+host, `WHERE d.hostname = ? ORDER BY d.created_at, d.site_id`, host)
}

// ActiveDomain returns the active claim on host.
func (s *Store) ActiveDomain(ctx context.Context, host string) (tenants.Domain, error) {
	d, err := scanDomain(s.read.QueryRowContext(ctx, `SELECT `+domainCols+domainFrom+`WHERE d.hostname = ? AND d.status = 'active'`, host))
	return d, mapErr("active domain "+host, err)
}

// ActiveDomains lists the hostnames of every active claim of an enabled
// tenant.
func (s *Store) ActiveDomains(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT d.hostname FROM domains d JOIN sites s ON s.id = d.site_id JOIN tenants t ON t.id = s.tenant_id
WHERE d.status = 'active' AND t.disabled = 0 ORDER BY d.hostname`)
	if err != nil {
		return nil, mapErr("listing active domains", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, mapErr("listing active domains", err)
		}
		out = append(out, h)
	}
	return out, mapErr("listing active domains", rows.Err())
}

// DomainsDue returns at most limit claims due for a check at now.
func (s *Store) DomainsDue(ctx context.Context, now time.Time, limit int) ([]tenants.Domain, error) {
	if limit <= 0 {
		return []tenants.Domain{}, nil
	}
	return s.queryDomains(ctx, "listing domains due", `WHERE d.next_check > 0 AND d.next_check <= ? ORDER BY d.next_check, d.hostname LIMIT ?`,
		now.UnixMilli(), limit)
}

// DomainsNeedingAttention returns at most limit claims with a failed
// certificate, blocked, or pending with a failed check, newest first.
func (s *Store) DomainsNeedingAttention(ctx context.Context, limit int) ([]tenants.Domain, error) {
	if limit <= 0 {
		return []tenants.Domain{}, nil
	}
	return s.queryDomains(ctx, "listing domains needing attention",
		`WHERE d.cert_status = 'failed' OR d.status = 'blocked' OR (d.status = 'pending' AND d.error <> '')
ORDER BY d.created_at DESC, d.hostname LIMIT ?`, limit)
}

// UpdateDomain writes a claim's mutable fields; activating it demotes any
// other active claim on the hostname in the same transaction.
func (s *Store) UpdateDomain(ctx context.Context, d tenants.Domain) error {
	op := "updating domain " + d.Hostname
	if err := d.Validate(); err != nil {
		return invalid(op, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback()
	if d.Status == tenants.DomainActive {
		if _, err := tx.ExecContext(ctx, `UPDATE domains SET status = 'moved', next_check = 0, cert_status = CASE WHEN cert_status = 'none' THEN 'none' ELSE 'pending_validation' END,
	cert_error = '', cert_next_retry = 0, error = 'the hostname was claimed by another site with a fresh DNS proof'
WHERE hostname = ? AND site_id <> ? AND status = 'active'`, d.Hostname, d.SiteID); err != nil {
			return mapErr(op, err)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE domains SET status = ?1, token = ?2, verified_at = ?3, checked_at = ?4, next_check = ?5,
	error = ?6,
	cert_status = CASE WHEN ?1 = 'active' THEN cert_status WHEN ?9 = 'pending_validation' THEN ?9 ELSE 'none' END,
	cert_error = CASE WHEN ?1 = 'active' THEN cert_error ELSE '' END,
	cert_next_retry = CASE WHEN ?1 = 'active' THEN cert_next_retry ELSE 0 END
WHERE hostname = ?7 AND site_id = ?8`,
		d.Status, d.Token, optMs(d.VerifiedAt), optMs(d.CheckedAt), optMs(d.NextCheck), d.Error, d.Hostname, d.SiteID, d.CertStatus)
	if err := affected(op, res, err); err != nil {
		return err
	}
	return mapErr(op, tx.Commit())
}

// UpdateDomainCert writes the certificate fields of host's active claim.
func (s *Store) UpdateDomainCert(ctx context.Context, host, status, certErr string, nextRetry time.Time) error {
	op := "updating certificate status of " + host
	if err := tenants.ValidateCertStatus(status); err != nil {
		return invalid(op, err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE domains SET cert_status = ?, cert_error = ?, cert_next_retry = ?
WHERE hostname = ? AND status = 'active'`, status, certErr, optMs(nextRetry), host)
	return affected(op, res, err)
}

// DeleteDomain deletes site siteID's claim on host.
func (s *Store) DeleteDomain(ctx context.Context, siteID, host string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM domains WHERE hostname = ? AND site_id = ?`, host, siteID)
	return affected("deleting domain "+host, res, err)
}
