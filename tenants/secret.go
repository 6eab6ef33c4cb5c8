package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pierhq/pier/internal/cgimeta"
)

// Sites' secrets.
//
// A secret is a named value a site's worker reads like a var (pier.get_var;
// a secret wins over a var of the same name). The store keeps only its
// ciphertext, sealed by the caller (admin, with internal/secretbox) under
// the operator's key, and the id of that key: a stolen database or backup
// does not reveal the values. Secrets are deleted with their site.

// Limits of secrets, on every plan.
const (
	MaxSecretNameLen    = 64
	MaxSecretValueBytes = 5 << 10 // 5 KiB of plaintext
	MaxSecretsPerSite   = 100
)

// ErrTooManySecrets is returned (wrapped) by PutSecret when a new name
// would take the site past its limit of secrets.
var ErrTooManySecrets = errors.New("too many secrets")

// Secret is one secret of a site as stored: sealed.
type Secret struct {
	SiteID string
	Name   string
	// Ciphertext is the sealed value (nil in metadata listings).
	Ciphertext []byte
	// KeyID names the key that sealed it (secretbox.SealedKeyID).
	KeyID   string
	Created time.Time // set by the store on the first put
	Updated time.Time // the value's last put (rekeying keeps it)
}

// ValidSecretName says why name cannot name a secret, or returns nil:
// [A-Za-z_][A-Za-z0-9_]{0,63}, like an environment variable.
func ValidSecretName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalid)
	}
	if len(name) > MaxSecretNameLen {
		return fmt.Errorf("%w: name is %d characters (limit %d)", ErrInvalid, len(name), MaxSecretNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			return fmt.Errorf("%w: name %q must be letters, digits and _ and not start with a digit", ErrInvalid, name)
		}
	}
	if cgimeta.Is(name) {
		return fmt.Errorf("%w: name %q is reserved: a WAGI worker's request sets it as a CGI meta-variable (HTTP_* from any request header, and RFC 3875's names), so a visitor could replace the secret", ErrInvalid, name)
	}
	return nil
}

// SecretStore persists sites' sealed secrets. Both stores implement it
// and pass storetest. Writes that change a site's secrets (PutSecret,
// DeleteSecret) notify the site's change (ChangeSite) to the nodes
// sharing the store, so each retires the site's workers; ReplaceSecret
// (rekeying: the value is the same) notifies nothing.
type SecretStore interface {
	// PutSecret creates or replaces a secret (ErrNotFound when its site
	// does not exist) and reports whether it created it. A new name is
	// refused with ErrTooManySecrets when the site already has maxPerSite
	// secrets (checked in the same transaction). Created is kept on a
	// replace; Updated is s.Updated, or now when zero.
	PutSecret(ctx context.Context, s Secret, maxPerSite int) (created bool, err error)
	// Secrets lists a site's secrets by name, without their ciphertexts.
	Secrets(ctx context.Context, siteID string) ([]Secret, error)
	// SecretValues lists a site's secrets by name with their ciphertexts.
	SecretValues(ctx context.Context, siteID string) ([]Secret, error)
	// DeleteSecret deletes a secret; ErrNotFound when it does not exist.
	DeleteSecret(ctx context.Context, siteID, name string) error
	// SecretsToRekey lists, with their ciphertexts, up to limit secrets of
	// every site not sealed under key keyID, ordered by (site ID, name)
	// and after the secret (afterSite, afterName) ("", "": from the start).
	SecretsToRekey(ctx context.Context, keyID, afterSite, afterName string, limit int) ([]Secret, error)
	// ReplaceSecret replaces the ciphertext and key id of a secret whose
	// ciphertext is still old (a compare-and-swap), keeping its times.
	// ErrConflict when it changed meanwhile, ErrNotFound when it is gone.
	ReplaceSecret(ctx context.Context, siteID, name string, old, ciphertext []byte, keyID string) error
}
