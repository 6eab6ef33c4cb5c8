package main

import (
	"context"
	"fmt"

	"github.com/pierhq/pier/internal/apiclient"
)

func tokenCommands() []*command {
	return []*command{
		{name: "create", summary: "create a tenant or admin token and print its secret", run: runTokensCreate},
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
