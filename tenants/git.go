package tenants

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Git repositories of sites.
//
// A site's repository lives in the platform's shared stores, so any node
// can serve it and losing a node loses nothing: its refs (and what each
// branch deployed) are rows of the Store, updated with a compare-and-swap,
// and its objects are immutable git packs in the blob backend, listed by
// the Store. A node materialises a local cache of the repository from
// those on demand (see gitserve).

// GitRef is a branch of a site's repository.
type GitRef struct {
	SiteID string `json:"site_id"`
	// Name is the full ref name, "refs/heads/<branch>".
	Name string `json:"name"`
	// Commit is the object id (40 hex digits) the ref points at.
	Commit string `json:"commit"`
	// Deployment is the deployment the push of Commit made or reused.
	Deployment string `json:"deployment,omitempty"`
	// Alias is the branch alias label (the part before "--" of
	// <alias>--<site>.<domain>), unique within the site; "" when the
	// branch has none (the production branch).
	Alias   string    `json:"alias,omitempty"`
	Updated time.Time `json:"updated_at"`
}

// GitPack is one immutable pack of a site's repository, stored in the
// blob backend under GitPackKey (the pack) and GitIndexKey (its index).
type GitPack struct {
	SiteID string `json:"site_id"`
	// Name is the pack's name as git writes it: "pack-<checksum>".
	Name    string    `json:"name"`
	Size    int64     `json:"size"` // bytes of the .pack file
	Created time.Time `json:"created_at"`
}

// GitPackKey and GitIndexKey are the blob backend keys of a site's pack
// and of its index.
func GitPackKey(siteID, name string) string  { return "git/" + siteID + "/" + name + ".pack" }
func GitIndexKey(siteID, name string) string { return "git/" + siteID + "/" + name + ".idx" }

// GitRefUpdate is one ref change of a push: the ref was Old ("" = it must
// not exist) and becomes Ref (Ref.Commit "" = delete it).
type GitRefUpdate struct {
	Old string
	Ref GitRef
}

// GitPush is what a successful push writes, all or nothing.
type GitPush struct {
	SiteID string
	Refs   []GitRefUpdate
	// Packs are added to the site's packs (a pack already listed is
	// ignored).
	Packs []GitPack
	// Shallow commits are added to the repository's shallow set (a push
	// from a shallow clone whose history Pier does not have).
	Shallow []string
	// Activate, when not "", is the deployment (of the site) made live
	// in the same transaction.
	Activate string
}

// GitRefConflictError is the error (wrapping ErrConflict) of a push whose
// ref moved since it was read: another push won.
type GitRefConflictError struct {
	Ref string
}

func (e *GitRefConflictError) Error() string {
	return fmt.Sprintf("ref %s moved since it was read", e.Ref)
}

func (e *GitRefConflictError) Unwrap() error { return ErrConflict }

// GitBlob maps a git blob id to the tenant's content hash of the same
// bytes, so a push hashes only the blobs it brings.
type GitBlob struct {
	OID  string `json:"oid"`
	Hash string `json:"hash"`
	Size int64  `json:"size"`
}

// GitStore persists sites' repositories. Every Store implements it.
type GitStore interface {
	// GitRefs lists a site's refs ordered by name.
	GitRefs(ctx context.Context, siteID string) ([]GitRef, error)
	// GitAlias returns the site's ref whose Alias is alias (ErrNotFound:
	// none).
	GitAlias(ctx context.Context, siteID, alias string) (GitRef, error)
	// GitPacks lists a site's packs, oldest first.
	GitPacks(ctx context.Context, siteID string) ([]GitPack, error)
	// GitShallow lists the repository's shallow commits, sorted.
	GitShallow(ctx context.Context, siteID string) ([]string, error)
	// ApplyGitPush writes p in one transaction. Each ref update is a
	// compare-and-swap: when a ref is not at its Old value, nothing is
	// written and the error is a *GitRefConflictError. An alias another
	// ref of the site holds is ErrConflict; a site or deployment (to
	// activate) that does not exist is ErrNotFound. A push that adds,
	// moves or deletes an alias, or activates, is a ChangeSite of the
	// site.
	ApplyGitPush(ctx context.Context, p GitPush) error
	// ReplaceGitPacks replaces packs old (names) of a site with repl in
	// one transaction (a repack); ErrConflict when any of old is no
	// longer listed.
	ReplaceGitPacks(ctx context.Context, siteID string, old []string, repl GitPack) error
	// GitBlobs returns the recorded mappings among oids (absent ones are
	// omitted); PutGitBlobs records mappings (upsert).
	GitBlobs(ctx context.Context, tenantID string, oids []string) (map[string]GitBlob, error)
	PutGitBlobs(ctx context.Context, tenantID string, blobs []GitBlob) error
	// DeploymentByTree returns the newest deployment of a site whose
	// Source.Tree is tree (ErrNotFound: none).
	DeploymentByTree(ctx context.Context, siteID, tree string) (Deployment, error)
	// SetProductionBranch sets a site's production branch (ErrNotFound
	// when the site is gone). It changes nothing a node caches.
	SetProductionBranch(ctx context.Context, siteID, branch string) error
}

// MaxBranchName bounds a branch name (without "refs/heads/").
const MaxBranchName = 200

// ValidBranchName reports whether s may name a branch Pier accepts: what
// git check-ref-format allows, narrowed to printable ASCII without
// spaces, at most MaxBranchName bytes.
func ValidBranchName(s string) bool {
	if s == "" || len(s) > MaxBranchName || s == "@" || s[0] == '-' || s[0] == '/' ||
		strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock") ||
		strings.Contains(s, "..") || strings.Contains(s, "@{") || strings.Contains(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("~^:?*[\\", c) >= 0 {
			return false
		}
		if c == '.' && (i == 0 || s[i-1] == '/') {
			return false
		}
		if c == '/' && strings.HasSuffix(s[:i], ".lock") {
			return false
		}
	}
	return true
}
