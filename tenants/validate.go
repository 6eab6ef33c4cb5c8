package tenants

import (
	"fmt"
	"strings"

	"github.com/pierhq/pier/assets"
)

// maxIDLen bounds every identifier a Store accepts.
const maxIDLen = 64

func validateID(kind, id string) error {
	if id == "" || len(id) > maxIDLen || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: %s id %q must be 1-%d printable characters without spaces", ErrInvalid, kind, id, maxIDLen)
	}
	return nil
}

// Validate checks what a Store requires of a new tenant: an ID, a valid
// name, a known plan, valid tags, non-negative limit overrides and a salt
// that is empty (the store then draws one) or 16 bytes.
func (t Tenant) Validate() error {
	if err := validateID("tenant", t.ID); err != nil {
		return err
	}
	if err := ValidateName("tenant", t.Name); err != nil {
		return err
	}
	return t.validateMutable()
}

// validateMutable checks the fields UpdateTenant may change, and the salt.
func (t Tenant) validateMutable() error {
	if err := ValidatePlan(t.Plan); err != nil {
		return err
	}
	if err := ValidateTags(t.Tags); err != nil {
		return err
	}
	for _, f := range t.Limits.Fields() {
		if f.Value < 0 {
			return fmt.Errorf("%w: limit %s must not be negative", ErrInvalid, f.Name)
		}
	}
	if len(t.Salt) != 0 && len(t.Salt) != 16 {
		return fmt.Errorf("%w: hash salt is %d bytes (want 16)", ErrInvalid, len(t.Salt))
	}
	return nil
}

// ValidateUpdate checks the fields Store.UpdateTenant writes (plan, limits,
// tags, disabled) and that the tenant is identified by its ID.
func (t Tenant) ValidateUpdate() error {
	if err := validateID("tenant", t.ID); err != nil {
		return err
	}
	return t.validateMutable()
}

// Validate checks what a Store requires of a new site: an ID, a tenant, a
// valid name and no active deployment yet.
func (s Site) Validate() error {
	if err := validateID("site", s.ID); err != nil {
		return err
	}
	if err := validateID("tenant", s.TenantID); err != nil {
		return err
	}
	if err := ValidateName("site", s.Name); err != nil {
		return err
	}
	if s.ActiveDeployment != "" {
		return fmt.Errorf("%w: a new site has no active deployment", ErrInvalid)
	}
	return nil
}

// Validate checks what a Store requires of a new deployment: a DNS-safe ID
// (it appears in preview hostnames "<id>--<site>"), a site, a worker that is
// empty or a content hash, and manifest entries whose hashes are valid.
// TenantID may be empty; stores take it from the site.
func (d Deployment) Validate() error {
	if err := ValidateName("deployment", d.ID); err != nil {
		return err
	}
	if err := validateID("site", d.SiteID); err != nil {
		return err
	}
	if d.Worker != "" && !assets.ValidHash(d.Worker) {
		return fmt.Errorf("%w: worker %q is not a content hash", ErrInvalid, d.Worker)
	}
	return validateManifestHashes(d.Manifest)
}

// Validate checks what a Store requires of a token: an ID, a name and the
// hex SHA-256 of its secret. An empty TenantID makes an admin token; a
// SiteID needs a TenantID (a site token acts as its tenant).
func (t Token) Validate() error {
	if err := validateID("token", t.ID); err != nil {
		return err
	}
	if t.TenantID != "" {
		if err := validateID("tenant", t.TenantID); err != nil {
			return err
		}
	}
	if t.SiteID != "" {
		if t.TenantID == "" {
			return fmt.Errorf("%w: a site token needs its tenant", ErrInvalid)
		}
		if err := validateID("site", t.SiteID); err != nil {
			return err
		}
	}
	if t.Name == "" || len(t.Name) > 200 {
		return fmt.Errorf("%w: token name must be 1-200 bytes", ErrInvalid)
	}
	if len(t.Hash) != 64 || strings.Trim(t.Hash, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: token hash must be 64 lowercase hex characters", ErrInvalid)
	}
	return nil
}

// Validate checks what a Store requires of a new upload session: an ID, a
// site, an expiry and manifest entries whose hashes are valid. TenantID may
// be empty; stores take it from the site.
func (s UploadSession) Validate() error {
	if err := validateID("upload session", s.ID); err != nil {
		return err
	}
	if err := validateID("site", s.SiteID); err != nil {
		return err
	}
	if s.Expires.IsZero() {
		return fmt.Errorf("%w: upload session has no expiry", ErrInvalid)
	}
	if w := s.Worker; w != nil && (!assets.ValidHash(w.Hash) || w.Size < 0) {
		return fmt.Errorf("%w: upload session worker must have a content hash and a size that is not negative", ErrInvalid)
	}
	return validateManifestHashes(s.Manifest)
}

// Validate checks a console session: a SHA-256 hash, a token and both
// expiries.
func (s ConsoleSession) Validate() error {
	if !validSHA256Hex(s.Hash) {
		return fmt.Errorf("%w: console session hash must be 64 lowercase hex characters", ErrInvalid)
	}
	if err := validateID("token", s.TokenID); err != nil {
		return err
	}
	if s.IdleExpires.IsZero() || s.Expires.IsZero() {
		return fmt.Errorf("%w: console session has no expiry", ErrInvalid)
	}
	return nil
}

func validSHA256Hex(h string) bool {
	return len(h) == 64 && strings.Trim(h, "0123456789abcdef") == ""
}

// Validate checks a blob index record: a content hash and sizes that
// are not negative.
func (b Blob) Validate() error {
	if !assets.ValidHash(b.Hash) {
		return fmt.Errorf("%w: blob hash %q is not a content hash", ErrInvalid, b.Hash)
	}
	if b.Size < 0 || b.BrSize < 0 || b.GzSize < 0 {
		return fmt.Errorf("%w: blob %s has a negative size", ErrInvalid, b.Hash)
	}
	return nil
}

func validateManifestHashes(m assets.Manifest) error {
	for p, e := range m {
		if !assets.ValidHash(e.Hash) {
			return fmt.Errorf("%w: manifest entry %q has hash %q, not a content hash", ErrInvalid, p, e.Hash)
		}
		if e.Size < 0 {
			return fmt.Errorf("%w: manifest entry %q has a negative size", ErrInvalid, p)
		}
	}
	return nil
}

// Summary returns the deployment's listing record: its manifest reduced to
// the number of files and their total size (assets.Manifest.Files and
// Bytes: the files published; the worker is not one).
func (d Deployment) Summary() DeploymentSummary {
	return DeploymentSummary{
		ID:      d.ID,
		SiteID:  d.SiteID,
		Files:   d.Manifest.Files(),
		Bytes:   d.Manifest.Bytes(),
		Worker:  d.Worker,
		Source:  d.Source,
		Created: d.Created,
	}
}
