package main

import (
	"context"
	"fmt"

	"github.com/pierhq/pier/internal/apiclient"
)

func tokenCommands() []*command {
	return []*command{
		{name: "create", summary: "create a tenant or admin token and print its secret", run: runTokensCreate},
		{name: "list", summary: "list a tenant's tokens (never their secrets)", run: runTokensList},
		{name: "delete", summary: "revoke a token", run: runTokensDelete},
	}
}

func runTokensCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tokens create", "pier tokens create (--tenant T | --admin) --name N [--json]",
		"Create an API token and print its secret on stdout. The secret is shown only once.")
	o := addClientFlags(fs, true)
	tenant := fs.String("tenant", "", "scope the token to this `tenant` (name or id)")
	admin := fs.Bool("admin", false, "create a platform-wide admin token")
	name := fs.String("name", "", "a `name` saying what the token is for")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	switch {
	case *name == "":
		return usagef(fs.cmd, "--name is required")
	case *admin && *tenant != "":
		return usagef(fs.cmd, "--admin and --tenant exclude each other")
	case !*admin && *tenant == "":
		return usagef(fs.cmd, "say whose token it is: --tenant T or --admin")
	}
	c := o.client(e)
	var t *apiclient.Token
	var err error
	if *admin {
		t, err = c.CreateAdminToken(ctx, *name)
	} else {
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
	fs := newFlagSet("tokens list", "pier tokens list --tenant T [--json]", "List a tenant's tokens. Secrets are never shown again.")
	o := addClientFlags(fs, true)
	tenant := fs.String("tenant", "", "the `tenant` (name or id)")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	if *tenant == "" {
		return usagef(fs.cmd, "--tenant is required")
	}
	list, err := o.client(e).ListTenantTokens(ctx, *tenant)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"tokens": nonNil(list)})
	}
	t := newTable(e.stdout, "ID", "NAME", "CREATED")
	for _, k := range list {
		t.row(k.ID, k.Name, formatTime(k.CreatedAt))
	}
	return t.flush()
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
