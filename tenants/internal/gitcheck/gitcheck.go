// Package gitcheck validates what the tenants stores are asked to write
// of a site's git repository (tenants.GitStore), so that both stores
// refuse the same inputs with tenants.ErrInvalid. It is imported only by
// the tenants stores.
package gitcheck

import (
	"fmt"
	"strings"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/tenants"
)

// OIDLen is the length of a git object id (SHA-1, hex).
const OIDLen = 40

// ValidOID reports whether s is a git object id: 40 lowercase hex digits.
func ValidOID(s string) bool {
	if len(s) != OIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidRefName reports whether s is a full ref name Pier stores:
// "refs/<kind>/<name>" ("refs/heads/<branch>") whose kind is a single
// component and whose name tenants.ValidBranchName accepts.
func ValidRefName(s string) bool {
	rest, ok := strings.CutPrefix(s, "refs/")
	if !ok {
		return false
	}
	kind, name, ok := strings.Cut(rest, "/")
	return ok && kind != "" && tenants.ValidBranchName(kind) && tenants.ValidBranchName(name) && len(s) <= 2*tenants.MaxBranchName
}

// ValidAlias reports whether s may be a branch alias (what
// dnsname.BranchAlias makes): a DNS label without dnsname.PreviewSep that
// cannot be mistaken for a deployment id.
func ValidAlias(s string) bool {
	return dnsname.ValidLabel(s) && !strings.Contains(s, dnsname.PreviewSep) &&
		!(len(s) == dnsname.DeploymentIDLen && dnsname.ValidDeploymentID(s))
}

// ValidPackName reports whether s names a pack as git writes it:
// "pack-" and the hex checksum (40 digits, or 64 for SHA-256
// repositories).
func ValidPackName(s string) bool {
	sum, ok := strings.CutPrefix(s, "pack-")
	if !ok || len(sum) != 40 && len(sum) != 64 {
		return false
	}
	return ValidOID(sum[:40]) && (len(sum) == 40 || ValidOID(sum[24:]))
}

// Pack checks a pack of a site's repository.
func Pack(p tenants.GitPack, siteID string) error {
	if p.SiteID != "" && p.SiteID != siteID {
		return fmt.Errorf("%w: pack %s is of site %s, not %s", tenants.ErrInvalid, p.Name, p.SiteID, siteID)
	}
	if !ValidPackName(p.Name) {
		return fmt.Errorf("%w: pack name %q is not pack-<hex checksum>", tenants.ErrInvalid, p.Name)
	}
	if p.Size < 0 {
		return fmt.Errorf("%w: pack %s has a negative size", tenants.ErrInvalid, p.Name)
	}
	return nil
}

// Push checks a push: valid ref names (each at most once), commit ids,
// deployment ids and aliases, packs and shallow commits. A ref update
// that deletes (Ref.Commit "") needs an Old commit.
func Push(p tenants.GitPush) error {
	seen := make(map[string]bool, len(p.Refs))
	for _, u := range p.Refs {
		r := u.Ref
		if !ValidRefName(r.Name) {
			return fmt.Errorf("%w: ref name %.80q", tenants.ErrInvalid, r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("%w: ref %s updated twice", tenants.ErrInvalid, r.Name)
		}
		seen[r.Name] = true
		if r.SiteID != "" && r.SiteID != p.SiteID {
			return fmt.Errorf("%w: ref %s is of site %s, not %s", tenants.ErrInvalid, r.Name, r.SiteID, p.SiteID)
		}
		if u.Old != "" && !ValidOID(u.Old) {
			return fmt.Errorf("%w: old commit %q of ref %s is not an object id", tenants.ErrInvalid, u.Old, r.Name)
		}
		if r.Commit == "" {
			if u.Old == "" {
				return fmt.Errorf("%w: deleting ref %s needs its old commit", tenants.ErrInvalid, r.Name)
			}
			continue
		}
		if !ValidOID(r.Commit) {
			return fmt.Errorf("%w: commit %q of ref %s is not an object id", tenants.ErrInvalid, r.Commit, r.Name)
		}
		if r.Deployment != "" && !dnsname.ValidLabel(r.Deployment) {
			return fmt.Errorf("%w: deployment %q of ref %s", tenants.ErrInvalid, r.Deployment, r.Name)
		}
		if r.Alias != "" && !ValidAlias(r.Alias) {
			return fmt.Errorf("%w: alias %q of ref %s is not a branch alias label", tenants.ErrInvalid, r.Alias, r.Name)
		}
	}
	for _, pk := range p.Packs {
		if err := Pack(pk, p.SiteID); err != nil {
			return err
		}
	}
	for _, c := range p.Shallow {
		if !ValidOID(c) {
			return fmt.Errorf("%w: shallow commit %q is not an object id", tenants.ErrInvalid, c)
		}
	}
	if p.Activate != "" && !dnsname.ValidLabel(p.Activate) {
		return fmt.Errorf("%w: deployment %q to activate", tenants.ErrInvalid, p.Activate)
	}
	return nil
}

// Blob checks a git blob mapping.
func Blob(b tenants.GitBlob) error {
	if !ValidOID(b.OID) {
		return fmt.Errorf("%w: git blob id %q is not an object id", tenants.ErrInvalid, b.OID)
	}
	if !assets.ValidHash(b.Hash) {
		return fmt.Errorf("%w: hash %q of git blob %s is not a content hash", tenants.ErrInvalid, b.Hash, b.OID)
	}
	if b.Size < 0 {
		return fmt.Errorf("%w: git blob %s has a negative size", tenants.ErrInvalid, b.OID)
	}
	return nil
}

// Tree checks the git tree a deployment records ("" = none).
func Tree(tree string) error {
	if tree != "" && !ValidOID(tree) {
		return fmt.Errorf("%w: git tree %q is not an object id", tenants.ErrInvalid, tree)
	}
	return nil
}

// Branch checks a production branch name.
func Branch(b string) error {
	if !tenants.ValidBranchName(b) {
		return fmt.Errorf("%w: branch name %.80q", tenants.ErrInvalid, b)
	}
	return nil
}

// Apply checks updates against a site's current refs cur: each update's
// Old must be its ref's current commit ("" = the ref must not exist),
// else the error is a *tenants.GitRefConflictError; and no two refs of
// the result may hold one alias (ErrConflict). It returns whether the
// push changes a branch alias: an updated ref had one or has one.
func Apply(cur []tenants.GitRef, updates []tenants.GitRefUpdate) (aliasChanged bool, err error) {
	refs := make(map[string]tenants.GitRef, len(cur))
	for _, r := range cur {
		refs[r.Name] = r
	}
	for _, u := range updates {
		was, ok := refs[u.Ref.Name]
		if !ok && u.Old != "" || ok && was.Commit != u.Old {
			return false, &tenants.GitRefConflictError{Ref: u.Ref.Name}
		}
	}
	for _, u := range updates {
		was := refs[u.Ref.Name]
		if was.Alias != "" || u.Ref.Commit != "" && u.Ref.Alias != "" {
			aliasChanged = true
		}
		if u.Ref.Commit == "" {
			delete(refs, u.Ref.Name)
		} else {
			refs[u.Ref.Name] = u.Ref
		}
	}
	holder := make(map[string]string, len(refs))
	for _, r := range refs {
		if r.Alias == "" {
			continue
		}
		if other, ok := holder[r.Alias]; ok {
			a, b := min(other, r.Name), max(other, r.Name)
			return false, fmt.Errorf("%w: alias %s is held by refs %s and %s", tenants.ErrConflict, r.Alias, a, b)
		}
		holder[r.Alias] = r.Name
	}
	return aliasChanged, nil
}
