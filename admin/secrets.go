package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// Sites' secrets: PUT/GET/DELETE /api/v1/sites/{site}/secrets[/{name}]
// and POST /api/v1/secrets/rekey (admin).
//
// A secret's value is sealed with Config.SecretKeys before the store sees
// it, and is never written back: not in an answer, an error, a log line.
// After a put or a delete the site's change goes to Config.OnActivate, so
// the edge retires the site's workers and the next request reads the new
// value (pgstore also tells the other nodes).

// SecretKeys seals and opens sites' secrets; cmd/pier gives it a
// *secretbox.Keyring (internal/secretbox). Seal uses the primary key,
// whose id PrimaryID names; Open any key of the ring. The context strings
// are a secret's site id and name.
type SecretKeys interface {
	Seal(plaintext []byte, context ...string) []byte
	Open(sealed []byte, context ...string) ([]byte, error)
	PrimaryID() string
}

// rekeyPage is how many secrets Rekey reads at a time.
const rekeyPage = 100

var errSecretsUnavailable = httperr.New(http.StatusServiceUnavailable, "secrets_unavailable",
	"this server keeps no secrets (no key, or a store without secrets)")

// secretJSON is a secret in answers: never its value.
type secretJSON struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
}

// secrets returns the store's secret side and the keys, or
// errSecretsUnavailable.
func (a *API) secrets() (tenants.SecretStore, SecretKeys, error) {
	ss, ok := a.store.(tenants.SecretStore)
	if !ok || a.cfg.SecretKeys == nil {
		return nil, nil, errSecretsUnavailable
	}
	return ss, a.cfg.SecretKeys, nil
}

// secretSite resolves the {site} of a secrets route for the caller.
func (a *API) secretSite(r *http.Request) (tenants.SecretStore, SecretKeys, tenants.Site, error) {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return nil, nil, s, err
	}
	ss, keys, err := a.secrets()
	return ss, keys, s, err
}

func (a *API) listSecrets(w http.ResponseWriter, r *http.Request) error {
	ss, _, s, err := a.secretSite(r)
	if err != nil {
		return err
	}
	list, err := ss.Secrets(r.Context(), s.ID)
	if err != nil {
		return err
	}
	out := make([]secretJSON, 0, len(list))
	for _, sec := range list {
		out = append(out, secretJSON{Name: sec.Name, Created: sec.Created, Updated: sec.Updated})
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
	return nil
}

// secretValue is the body of a PUT. Value is a pointer so that a missing
// field is told apart from an empty value.
type secretValue struct {
	Value *string `json:"value"`
}

func (a *API) putSecret(w http.ResponseWriter, r *http.Request) error {
	ss, keys, s, err := a.secretSite(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	name := chi.URLParam(r, "name")
	if err := tenants.ValidSecretName(name); err != nil {
		return invalidField("name", err)
	}
	var raw json.RawMessage
	if err := decodeJSON(w, r, maxMetadataBody, &raw); err != nil {
		return err
	}
	var body secretValue
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return jsonError(err)
	}
	if body.Value == nil {
		return &FieldError{Field: "value", Msg: "is required (the secret's value, a string)"}
	}
	if lostUTF8(raw, *body.Value) {
		return &FieldError{Field: "value", Msg: "is not valid UTF-8 (an invalid byte or a lone surrogate escape); a secret is text: encode a binary value first, e.g. as base64"}
	}
	if n := len(*body.Value); n > tenants.MaxSecretValueBytes {
		return &httperr.Error{Status: http.StatusRequestEntityTooLarge, Code: "value_too_large",
			Message: fmt.Sprintf("value is %d bytes, over the limit of %d bytes (%d KiB) per secret", n, tenants.MaxSecretValueBytes, tenants.MaxSecretValueBytes>>10),
			Details: map[string]any{"field": "value", "limit": tenants.MaxSecretValueBytes}}
	}
	sec := tenants.Secret{SiteID: s.ID, Name: name, KeyID: keys.PrimaryID(), Updated: a.now(),
		Ciphertext: keys.Seal([]byte(*body.Value), s.ID, name)}
	created, err := ss.PutSecret(ctx, sec, tenants.MaxSecretsPerSite)
	switch {
	case errors.Is(err, tenants.ErrTooManySecrets):
		return &httperr.Error{Status: http.StatusForbidden, Code: "quota_exceeded",
			Message: fmt.Sprintf("quota secrets exceeded: site %s has %d secrets, the limit is %d per site; delete one first", s.Name, tenants.MaxSecretsPerSite, tenants.MaxSecretsPerSite),
			Details: map[string]any{"quota": "secrets", "used": tenants.MaxSecretsPerSite, "limit": tenants.MaxSecretsPerSite}, Err: err}
	case err != nil:
		return lookupErr("site", s.Name, err)
	}
	a.cfg.OnActivate(s) // the edge retires the site's workers
	list, err := ss.Secrets(ctx, s.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(x tenants.Secret) bool { return x.Name == name })
	if i < 0 {
		return notFound("secret", name) // deleted meanwhile
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, secretJSON{Name: name, Created: list[i].Created, Updated: list[i].Updated})
	return nil
}

func (a *API) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	ss, _, s, err := a.secretSite(r)
	if err != nil {
		return err
	}
	name := chi.URLParam(r, "name")
	if err := ss.DeleteSecret(r.Context(), s.ID, name); err != nil {
		return lookupErr("secret", name, err)
	}
	a.cfg.OnActivate(s)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RekeyReport is what Rekey did.
type RekeyReport struct {
	// Rekeyed secrets are now sealed under KeyID, the primary key.
	Rekeyed int    `json:"rekeyed"`
	KeyID   string `json:"key_id"`
	// Skipped secrets changed or were deleted while they were rekeyed (a
	// put seals under the primary key already).
	Skipped int `json:"skipped,omitempty"`
	// Failed secrets could not be opened: sealed under a key not in the
	// ring (UnknownKeys), or altered.
	Failed      int      `json:"failed,omitempty"`
	UnknownKeys []string `json:"unknown_key_ids,omitempty"`
}

// Rekey re-seals under the primary key every secret sealed under another
// key of the ring, each with a compare-and-swap (a secret put meanwhile
// is left as the put wrote it). The values do not change, so no worker is
// retired. Once it reports no failure, the old keys may leave the ring.
func (a *API) Rekey(ctx context.Context) (RekeyReport, error) {
	ss, keys, err := a.secrets()
	if err != nil {
		return RekeyReport{}, err
	}
	rep := RekeyReport{KeyID: keys.PrimaryID()}
	afterSite, afterName := "", ""
	for {
		page, err := ss.SecretsToRekey(ctx, rep.KeyID, afterSite, afterName, rekeyPage)
		if err != nil {
			return rep, fmt.Errorf("admin: rekeying secrets: %w", err)
		}
		for _, sec := range page {
			if err := a.rekeyOne(ctx, ss, keys, sec, &rep); err != nil {
				return rep, err
			}
		}
		if len(page) < rekeyPage {
			return rep, nil
		}
		afterSite, afterName = page[len(page)-1].SiteID, page[len(page)-1].Name
	}
}

// rekeyOne re-seals one secret and counts the outcome in rep.
func (a *API) rekeyOne(ctx context.Context, ss tenants.SecretStore, keys SecretKeys, sec tenants.Secret, rep *RekeyReport) error {
	pt, err := keys.Open(sec.Ciphertext, sec.SiteID, sec.Name)
	if err != nil {
		rep.Failed++
		if !slices.Contains(rep.UnknownKeys, sec.KeyID) {
			rep.UnknownKeys = append(rep.UnknownKeys, sec.KeyID)
		}
		a.log.Warn("admin: a secret cannot be opened for rekeying", "site_id", sec.SiteID, "name", sec.Name, "key_id", sec.KeyID, "err", err)
		return nil
	}
	err = ss.ReplaceSecret(ctx, sec.SiteID, sec.Name, sec.Ciphertext, keys.Seal(pt, sec.SiteID, sec.Name), rep.KeyID)
	clear(pt)
	switch {
	case err == nil:
		rep.Rekeyed++
	case errors.Is(err, tenants.ErrConflict), errors.Is(err, tenants.ErrNotFound):
		rep.Skipped++
	default:
		return fmt.Errorf("admin: rekeying secrets: %w", err)
	}
	return nil
}

func (a *API) rekeySecrets(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.Rekey(r.Context())
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return &httperr.Error{Status: http.StatusConflict, Code: "rekey_incomplete",
			Message: fmt.Sprintf("%d secrets rekeyed under key %s, but %d cannot be opened by any key of the ring (sealed under key ids %v): put the key that sealed them back in the key file, or put those secrets again",
				rep.Rekeyed, rep.KeyID, rep.Failed, rep.UnknownKeys),
			Details: map[string]any{"rekeyed": rep.Rekeyed, "failed": rep.Failed, "key_id": rep.KeyID, "unknown_key_ids": rep.UnknownKeys}}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
