package main

import (
	"context"
	"fmt"

	"github.com/pierhq/pier/internal/apiclient"
)

func tokenCommands() []*command {
	return []*command{
		{name: "create", summary: "create a tenant, site or admin token and print its secret", run: runTokensCreate},
		{name: "list", summary: "list a tenant's or a site's tokens (never their secrets)", run: runTokensList},
		{name: "delete", summary: "revoke a token", run: runTokensDelete},
	}
}

func runTokensCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tokens create", "pier tokens create (--tenant T | --site S | --admin) --name N [--json]",
		"Create an API token and print its secret on stdout. The secret is shown only once.\n"+
			"A site token (--site) acts as the site's tenant restricted to that one site:\n"+
			"it can deploy, roll back and manage the site's domains, but not touch other sites.")
	o := addClientFlags(fs, true)
	tenant := fs.String("tenant", "", "scope the token to this `tenant` (name or id)")
	site := fs.String("site", "", "scope the token to this `site` (name or id) of its tenant")
	admin := fs.Bool("admin", false, "create a platform-wide admin token")
	name := fs.String("name", "", "a `name` saying what the token is for")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	switch {
	case *name == "":
		return usagef(fs.cmd, "--name is required")
	case countSet(*admin, *tenant != "", *site != "") > 1:
		return usagef(fs.cmd, "--admin, --tenant and --site exclude each other")
	case !*admin && *tenant == "" && *site == "":
		return usagef(fs.cmd, "say whose token it is: --tenant T or --admin (or --site S for one site)")
	}
	c := o.client(e)
	var t *apiclient.Token
	var err error
	switch {
	case *admin:
		t, err = c.CreateAdminToken(ctx, *name)
	case *site != "":
		t, err = c.CreateSiteToken(ctx, *site, *name)
	default:
		t, err = c.CreateTenantToken(ctx, *tenant, *name)
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, t)
	}
	fmt.Fprintln(e.stdout, t.Secret)
	fmt.Fprintf(e.stderr, "Created token %s (%s). Store the secret now: it is not shown again.\n", t.ID, t.Name)
	return nil
}

func runTokensList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tokens list", "pier tokens list (--tenant T | --site S | --admin) [--json]",
		"List a tenant's tokens (its site tokens included), a site's, or the admin tokens. Secrets are never shown again.")
	o := addClientFlags(fs, true)
	tenant := fs.String("tenant", "", "the `tenant` (name or id)")
	site := fs.String("site", "", "the `site` (name or id)")
	admin := fs.Bool("admin", false, "list the platform-wide admin tokens (needs an admin token)")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	var (
		list []apiclient.Token
		err  error
	)
	switch {
	case countSet(*tenant != "", *site != "", *admin) > 1:
		return usagef(fs.cmd, "--tenant, --site and --admin exclude each other")
	case *site != "":
		list, err = o.client(e).ListSiteTokens(ctx, *site)
	case *tenant != "":
		list, err = o.client(e).ListTenantTokens(ctx, *tenant)
	case *admin:
		list, err = o.client(e).ListAdminTokens(ctx)
	default:
		return usagef(fs.cmd, "--tenant is required (or --site S for one site's tokens, --admin for the admin tokens)")
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"tokens": nonNil(list)})
	}
	t := newTable(e.stdout, "ID", "NAME", "SCOPE", "CREATED")
	for _, k := range list {
		t.row(k.ID, k.Name, tokenScope(k), formatTime(k.CreatedAt))
	}
	return t.flush()
}

// tokenScope says what a token may act on: admin, its tenant, or one site.
func tokenScope(k apiclient.Token) string {
	switch {
	case k.SiteID != "" && k.Site != "":
		return "site " + k.Site
	case k.SiteID != "":
		return "site " + k.SiteID
	case k.TenantID == "":
		return "admin"
	default:
		return "tenant"
	}
}

// countSet counts the true values.
func countSet(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func runTokensDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tokens delete", "pier tokens delete ID", "Revoke a token by id (see 'pier tokens list').")
	o := addClientFlags(fs, false)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	if err := o.client(e).DeleteToken(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted token %s\n", pos[0])
	return nil
}
