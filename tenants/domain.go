package tenants

import (
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/dnsname"
)

// Domain statuses, as Cloudflare for SaaS shows them.
const (
	DomainPending = "pending" // ownership not proven yet
	DomainActive  = "active"  // verified: the edge serves it
	DomainMoved   = "moved"   // was active; DNS no longer points here, or another site claimed it
	DomainBlocked = "blocked" // refused by the operator; never re-checked
)

// Certificate statuses of a domain.
const (
	CertNone              = "none"
	CertPendingValidation = "pending_validation"
	CertPendingIssuance   = "pending_issuance"
	CertActive            = "active"
	CertFailed            = "failed"
)

// Domain is a tenant's own hostname claimed by one of its sites. Several
// sites may hold a pending claim on the same hostname, but at most one
// claim per hostname is active platform-wide: the edge serves it and a
// certificate may be ordered for it.
type Domain struct {
	Hostname      string    `json:"hostname"` // lowercase punycode, no trailing dot
	SiteID        string    `json:"site_id"`
	TenantID      string    `json:"tenant_id"`
	Status        string    `json:"status"`
	Token         string    `json:"token"` // the ownership proof expected in TXT _pier-challenge.<hostname>
	VerifiedAt    time.Time `json:"verified_at,omitzero"`
	CheckedAt     time.Time `json:"checked_at,omitzero"`
	NextCheck     time.Time `json:"next_check,omitzero"` // zero: no check scheduled
	Error         string    `json:"error,omitempty"`     // why the last check failed (user-safe)
	CertStatus    string    `json:"cert_status"`
	CertError     string    `json:"cert_error,omitempty"`
	CertNextRetry time.Time `json:"cert_next_retry,omitzero"`
	Created       time.Time `json:"created_at"`
}

// ChallengeName is the TXT record name whose value proves ownership of host.
func ChallengeName(host string) string { return "_pier-challenge." + host }

// NewDomainToken returns a fresh random verification token.
func NewDomainToken() string { return NewID("pier-", 20) }

// Validate checks what a Store requires of a domain record.
func (d Domain) Validate() error {
	if err := validateID("site", d.SiteID); err != nil {
		return err
	}
	if h, err := NormalizeHostname(d.Hostname); err != nil {
		return err
	} else if h != d.Hostname {
		return fmt.Errorf("%w: hostname %q is not in canonical form %q", ErrInvalid, d.Hostname, h)
	}
	switch d.Status {
	case DomainPending, DomainActive, DomainMoved, DomainBlocked:
	default:
		return fmt.Errorf("%w: domain status %q (want pending, active, moved or blocked)", ErrInvalid, d.Status)
	}
	if err := ValidateCertStatus(d.CertStatus); err != nil {
		return err
	}
	if d.Token == "" || len(d.Token) > 128 || !tokenOK(d.Token) {
		return fmt.Errorf("%w: domain token must be 1-128 characters of a-z, 0-9 and '-'", ErrInvalid)
	}
	return nil
}

// ValidateCertStatus reports whether s is a certificate status.
func ValidateCertStatus(s string) error {
	switch s {
	case CertNone, CertPendingValidation, CertPendingIssuance, CertActive, CertFailed:
		return nil
	}
	return fmt.Errorf("%w: certificate status %q (want none, pending_validation, pending_issuance, active or failed)", ErrInvalid, s)
}

func tokenOK(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MaxHostnameLen is the longest hostname accepted (RFC 1035, without the
// trailing dot).
const MaxHostnameLen = dnsname.MaxNameLen

// NormalizeHostname returns the canonical form of a custom hostname —
// lowercase punycode without a trailing dot — or an error wrapping
// ErrInvalid when it is not a DNS name of at least two labels (an IP
// address, a single label, a wildcard or an all-numeric top-level label
// are refused). The rules are dnsname.Normalize's.
func NormalizeHostname(raw string) (string, error) {
	h, err := dnsname.Normalize(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return h, nil
}

// ValidateCustomHostname normalizes raw with NormalizeHostname and also
// refuses the platform domain and every name below it, which the platform
// routes itself.
func ValidateCustomHostname(raw, platformDomain string) (string, error) {
	h, err := NormalizeHostname(raw)
	if err != nil {
		return "", err
	}
	if dnsname.InDomain(h, strings.ToLower(strings.TrimSuffix(platformDomain, "."))) {
		return "", fmt.Errorf("%w: hostname %q is the platform domain or below it; sites are served there already", ErrInvalid, h)
	}
	return h, nil
}
