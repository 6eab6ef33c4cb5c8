package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/tenants"
)

// A site's git side as the API shows it: PATCH /sites/{site} sets the
// production branch, GET /sites/{site}/git lists the remote and the
// branches. The git server itself (smart HTTP, the pre-receive publish)
// lives elsewhere; this only reads and writes the store.

// updateSite answers PATCH /sites/{site}: today only the production
// branch can change.
func (a *API) updateSite(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalFrom(ctx)
	s, err := a.siteFor(ctx, p, chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	var req struct {
		ProductionBranch *string `json:"production_branch"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	if req.ProductionBranch != nil {
		b := *req.ProductionBranch
		if !tenants.ValidBranchName(b) {
			return &FieldError{Field: "production_branch", Msg: fmt.Sprintf(
				"%q is not a branch name Pier accepts (at most %d printable ASCII characters, no spaces, no ~^:?*[\\, no \"..\", not starting with - or /, no component starting with . or ending with .lock)",
				cut(b, 64), tenants.MaxBranchName)}
		}
		if err := a.store.SetProductionBranch(ctx, s.ID, b); err != nil {
			return lookupErr("site", s.Name, err)
		}
		s.ProductionBranch = b
	}
	salt, err := a.saltOf(ctx, p, s.TenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.siteView(s, salt))
	return nil
}

// cut shortens s to at most n bytes for an error message.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// siteGitJSON is GET /sites/{site}/git.
type siteGitJSON struct {
	// Remote is the clone URL (Config.GitURL); omitted when git push is
	// disabled.
	Remote           string          `json:"remote,omitempty"`
	ProductionBranch string          `json:"production_branch"`
	Branches         []gitBranchJSON `json:"branches"`
}

// gitBranchJSON is one branch of a site's repository.
type gitBranchJSON struct {
	Name       string  `json:"name"` // without refs/heads/
	Commit     string  `json:"commit"`
	Deployment string  `json:"deployment"`
	Alias      string  `json:"alias,omitempty"`
	URL        *string `json:"url"` // the alias host's URL; null without an alias
	Production bool    `json:"production"`
}

func (a *API) siteGit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	refs, err := a.store.GitRefs(ctx, s.ID)
	if err != nil {
		return fmt.Errorf("admin: listing the git branches of %s: %w", s.Name, err)
	}
	prod := productionBranch(s)
	out := siteGitJSON{ProductionBranch: prod, Branches: make([]gitBranchJSON, 0, len(refs))}
	if a.cfg.GitURL != nil {
		out.Remote = a.cfg.GitURL(s.Name)
	}
	for _, ref := range refs {
		name, ok := strings.CutPrefix(ref.Name, "refs/heads/")
		if !ok {
			continue
		}
		b := gitBranchJSON{Name: name, Commit: ref.Commit, Deployment: ref.Deployment, Alias: ref.Alias, Production: name == prod}
		if ref.Alias != "" {
			u := a.BranchURL(s.Name, ref.Alias)
			b.URL = &u
		}
		out.Branches = append(out.Branches, b)
	}
	// The production branch first, the others by name (the store's order).
	slices.SortStableFunc(out.Branches, func(x, y gitBranchJSON) int {
		switch {
		case x.Production == y.Production:
			return 0
		case x.Production:
			return -1
		}
		return 1
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

// BranchURL returns the public URL of the branch alias alias of the site
// named site: the edge serves the branch's latest push there.
func (a *API) BranchURL(site, alias string) string {
	return a.cfg.EdgeURL(dnsname.BranchHost(alias, site, a.cfg.Domain))
}

// productionBranch is s's production branch, the default for a site a
// store returned without one.
func productionBranch(s tenants.Site) string {
	if s.ProductionBranch == "" {
		return tenants.DefaultProductionBranch
	}
	return s.ProductionBranch
}
