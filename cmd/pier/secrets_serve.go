package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/internal/secretbox"
	"github.com/pierhq/pier/tenants"
)

// secretsKeyName is the key file `pier serve` generates in the data
// directory when --secrets-key-file is not given.
const secretsKeyName = "secrets.key"

// openSecrets loads the keyring that seals sites' secrets: the key file
// of --secrets-key-file, or <data>/secrets.key, generated on first start.
func (s *server) openSecrets(_ context.Context, _ io.Writer) error {
	path, generated := s.cfg.SecretsKeyFile, false
	if path == "" {
		path = filepath.Join(s.cfg.Data, secretsKeyName)
		var err error
		if generated, err = ensureSecretsKey(path); err != nil {
			return fmt.Errorf("serve: generating the secrets key %s: %w", path, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("serve: --secrets-key-file: %w", err)
	}
	ring, err := secretbox.ParseKeyring(b)
	clear(b)
	if err != nil {
		return fmt.Errorf("serve: --secrets-key-file %s: %w", path, err)
	}
	s.secretKeys = ring
	if ss, ok := s.store.(tenants.SecretStore); ok {
		s.siteSecrets = &siteSecrets{store: ss, keys: ring}
	}
	s.log.Info("secrets key", "file", path, "primary_key_id", ring.PrimaryID(), "keys", len(ring.IDs()), "generated", generated)
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.log.Warn("the secrets key file is readable by others: chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
	}
	if generated && isPostgresURL(s.cfg.DB) {
		s.log.Warn("a secrets key was generated for this node only: every node sharing the database needs the same key; copy it to each and pass --secrets-key-file", "file", path)
	}
	return nil
}

// ensureSecretsKey creates a key file with one fresh key at path unless
// one exists, and reports whether it did. The file is written and synced
// under a temporary name (mode 0600), then linked into place, which fails
// if the name exists: an existing key, the only way to read the secrets
// it sealed, is never replaced.
func ensureSecretsKey(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	key := secretbox.NewKey()
	content := append([]byte("# Pier's secrets key (AES-256): the first key seals, every key opens.\n"+
		"# Keep it with your backups, apart from them: without it the secrets cannot be read.\n"+
		"# Rotation: docs/workers.md (Secrets).\n"), secretbox.FormatKey(key)...)
	clear(key)
	_, werr := tmp.Write(content)
	clear(content)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return false, werr
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil // another process made one meanwhile
		}
		return false, err
	}
	return true, nil
}

// siteSecrets is hosting.Secrets: a site's secrets from the store, opened
// with the keyring.
type siteSecrets struct {
	store tenants.SecretStore
	keys  *secretbox.Keyring
}

// SiteSecrets returns site siteID's secrets, decrypted; an error (naming
// the secret, never its value) when one cannot be.
func (s *siteSecrets) SiteSecrets(ctx context.Context, siteID string) (map[string]string, error) {
	vals, err := s.store.SecretValues(ctx, siteID)
	if err != nil || len(vals) == 0 {
		return nil, err
	}
	out := make(map[string]string, len(vals))
	for _, v := range vals {
		pt, err := s.keys.Open(v.Ciphertext, siteID, v.Name)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", v.Name, err)
		}
		out[v.Name] = string(pt)
	}
	return out, nil
}

// edgeSecrets is the edge's hosting.Secrets: nil (no secrets) when the
// store keeps none.
func (s *server) edgeSecrets() hosting.Secrets {
	if s.siteSecrets == nil {
		return nil
	}
	return s.siteSecrets
}
