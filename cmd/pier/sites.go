package main

import (
	"context"
	"fmt"

	"github.com/pierhq/pier/internal/apiclient"
)

func siteCommands() []*command {
	return []*command{
		{name: "create", summary: "create a site and print its URL", run: runSitesCreate},
		{name: "list", summary: "list sites", run: runSitesList},
		{name: "get", summary: "show a site, its git remote and branches", run: runSitesGet},
		{name: "set-branch", summary: "set the git branch whose pushes go live", run: runSitesSetBranch},
		{name: "delete", summary: "delete a site and its deployments", run: runSitesDelete},
	}
}

func runSitesCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sites create", "pier sites create NAME --tenant T [--json]",
		"Create a site served at http://NAME.<domain>/ and print its URL.\n--tenant may be left out with a tenant token.")
	o := addClientFlags(fs, true)
	tenant := fs.String("tenant", "", "`name` or id of the owning tenant")
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	s, err := o.client(e).CreateSite(ctx, pos[0], *tenant)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, siteJSON(s))
	}
	fmt.Fprintln(e.stdout, s.URL)
	return nil
}

func runSitesList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sites list", "pier sites list [--tenant T] [--search TEXT] [--json]",
		"List sites, optionally only one tenant's, or those whose name contains TEXT.")
	o := addClientFlags(fs, true)
	tenant := fs.String("tenant", "", "only the sites of this `tenant` (name or id)")
	search := fs.String("search", "", "only the sites whose name contains this `text` (case-insensitive)")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	list, err := o.client(e).SearchSites(ctx, *tenant, *search)
	if err != nil {
		return err
	}
	if o.json {
		out := make([]map[string]any, len(list))
		for i := range list {
			out[i] = siteJSON(&list[i])
		}
		return printJSON(e.stdout, map[string]any{"sites": out})
	}
	t := newTable(e.stdout, "NAME", "ID", "TENANT", "ACTIVE", "URL", "CREATED")
	for _, s := range list {
		t.row(s.Name, s.ID, s.TenantID, s.ActiveDeployment, s.URL, formatTime(s.CreatedAt))
	}
	return t.flush()
}

func runSitesGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sites get", "pier sites get SITE [--json]",
		"Show a site by name or id, with its git remote, production branch and branches\n(each with the address of its branch alias).")
	o := addClientFlags(fs, true)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	c := o.client(e)
	s, err := c.GetSite(ctx, pos[0])
	if err != nil {
		return err
	}
	g, err := c.SiteGit(ctx, s.ID)
	if err != nil {
		return err
	}
	if o.json {
		out := siteJSON(s)
		out["git"] = g
		return printJSON(e.stdout, out)
	}
	t := newTable(e.stdout)
	t.row("Name:", s.Name)
	t.row("ID:", s.ID)
	t.row("Tenant:", s.TenantID)
	t.row("URL:", s.URL)
	t.row("Active deployment:", s.ActiveDeployment)
	t.row("Production branch:", s.ProductionBranch)
	t.row("Git remote:", firstNonEmpty(g.Remote, "(git push is not enabled on this server)"))
	t.row("Created:", formatTime(s.CreatedAt))
	if err := t.flush(); err != nil {
		return err
	}
	return printBranches(e, g)
}

// printBranches lists a site's git branches after its details.
func printBranches(e *env, g *apiclient.SiteGit) error {
	if len(g.Branches) == 0 {
		return nil
	}
	fmt.Fprintln(e.stdout)
	t := newTable(e.stdout, "", "BRANCH", "COMMIT", "DEPLOYMENT", "URL")
	for _, b := range g.Branches {
		mark, url := " ", b.URL
		if b.Production {
			mark, url = "*", "(production)"
		}
		t.row(mark, b.Name, shortCommit(b.Commit), b.Deployment, url)
	}
	return t.flush()
}

func runSitesSetBranch(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sites set-branch", "pier sites set-branch SITE BRANCH [--json]",
		"Set the site's production branch: pushes to it go live, pushes to any other branch\ndeploy as previews behind a branch alias. New sites start with main.")
	o := addClientFlags(fs, true)
	pos, err := parseArgs(fs, e, args, 2, 2)
	if err != nil {
		return err
	}
	s, err := o.client(e).SetProductionBranch(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, siteJSON(s))
	}
	fmt.Fprintf(e.stdout, "production branch of %s: %s\n", s.Name, s.ProductionBranch)
	return nil
}

func runSitesDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sites delete", "pier sites delete SITE", "Delete a site and all its deployments.")
	o := addClientFlags(fs, false)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	if err := o.client(e).DeleteSite(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted site %s\n", pos[0])
	return nil
}

// siteJSON is a site as printed by --json: the hash salt is an
// implementation detail of deploys and stays out of scripts' output.
func siteJSON(s *apiclient.Site) map[string]any {
	return map[string]any{
		"id":                s.ID,
		"tenant_id":         s.TenantID,
		"name":              s.Name,
		"active_deployment": s.ActiveDeployment,
		"production_branch": s.ProductionBranch,
		"url":               s.URL,
		"created_at":        s.CreatedAt,
	}
}
