package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/tenants"
)

func tenantCommands() []*command {
	return []*command{
		{name: "create", summary: "create a tenant", run: runTenantsCreate},
		{name: "list", summary: "list tenants", run: runTenantsList},
		{name: "show", summary: "show a tenant, its limits and what it uses of its quotas", run: runTenantsGet, aliases: []string{"get"}},
		{name: "set-plan", summary: "change a tenant's plan", run: runTenantsSetPlan},
		{name: "set-limits", summary: "override a tenant's limits and quotas (0 = the plan's)", run: runTenantsSetLimits},
		{name: "bulk", summary: "change the plan of, disable or enable every tenant with a tag", run: runTenantsBulk},
		{name: "delete", summary: "delete a tenant and everything it owns", run: runTenantsDelete},
	}
}

func runTenantsCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tenants create", "pier tenants create NAME [--plan P] [--tag k:v]... [--json]",
		"Create a tenant (admin token). The plan defaults to free; tags are key:value.")
	o := addClientFlags(fs, true)
	plan := fs.String("plan", "", "`plan`: free, pro or enterprise (default free)")
	var tags listFlag
	fs.Var(&tags, "tag", "tag `key:value` (repeatable)")
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	t, err := o.client(e).CreateTenant(ctx, apiclient.CreateTenant{Name: pos[0], Plan: *plan, Tags: tags})
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, t)
	}
	return printTenant(e.stdout, t)
}

func runTenantsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tenants list", "pier tenants list [--tag k:v] [--json]",
		"List tenants (a tenant token sees only its own), optionally only those carrying a tag.")
	o := addClientFlags(fs, true)
	var tags listFlag
	fs.Var(&tags, "tag", "only tenants carrying `key:value`")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	if len(tags) > 1 {
		return usagef(fs.cmd, "give one --tag")
	}
	list, err := o.client(e).ListTenants(ctx, firstNonEmpty(tags...))
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"tenants": nonNil(list)})
	}
	t := newTable(e.stdout, "NAME", "ID", "PLAN", "TAGS", "STATUS", "CREATED")
	for _, x := range list {
		t.row(x.Name, x.ID, x.Plan, strings.Join(x.Tags, ","), tenantStatus(x), formatTime(x.CreatedAt))
	}
	return t.flush()
}

func runTenantsGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tenants show", "pier tenants show TENANT [--json]",
		"Show a tenant by name or id: its plan, its limits, and each quota as used / limit. (tenants get is the same.)")
	o := addClientFlags(fs, true)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	t, err := o.client(e).GetTenant(ctx, pos[0])
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, t)
	}
	return printTenant(e.stdout, t)
}

func runTenantsSetPlan(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tenants set-plan", "pier tenants set-plan TENANT PLAN [--json]",
		"Change a tenant's plan (admin token): free, pro or enterprise.")
	o := addClientFlags(fs, true)
	pos, err := parseArgs(fs, e, args, 2, 2)
	if err != nil {
		return err
	}
	plan := pos[1]
	t, err := o.client(e).UpdateTenant(ctx, pos[0], apiclient.UpdateTenant{Plan: &plan})
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, t)
	}
	return printTenant(e.stdout, t)
}

func runTenantsBulk(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tenants bulk", "pier tenants bulk --tag k:v [--plan P] [--disable | --enable] [--json]",
		"Change every tenant carrying a tag at once, or none of them (admin token): its plan, or disable or enable it.")
	o := addClientFlags(fs, true)
	tag := fs.String("tag", "", "the tenants carrying `key:value`")
	plan := fs.String("plan", "", "new `plan`: free, pro or enterprise")
	disable := fs.Bool("disable", false, "disable them (their sites stop serving)")
	enable := fs.Bool("enable", false, "enable them")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	body := apiclient.BulkTenants{Tag: *tag}
	switch {
	case *tag == "":
		return usagef(fs.cmd, "give --tag")
	case *disable && *enable:
		return usagef(fs.cmd, "give --disable or --enable, not both")
	case *disable || *enable:
		body.Disabled = disable
	}
	if *plan != "" {
		body.Plan = plan
	}
	if body.Plan == nil && body.Disabled == nil {
		return usagef(fs.cmd, "give --plan, --disable or --enable")
	}
	r, err := o.client(e).BulkUpdateTenants(ctx, body)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "%d tenants carry %s; %d changed\n", r.Matched, r.Tag, len(r.Changed))
	for _, t := range r.Changed {
		fmt.Fprintf(e.stdout, "  %s: %s, %s\n", t.Name, t.Plan, tenantStatus(t))
	}
	return nil
}

func runTenantsDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tenants delete", "pier tenants delete TENANT",
		"Delete a tenant with its sites, deployments and tokens (admin token).")
	o := addClientFlags(fs, false)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	if err := o.client(e).DeleteTenant(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted tenant %s\n", pos[0])
	return nil
}

func printTenant(w io.Writer, t *apiclient.Tenant) error {
	tw := newTable(w)
	tw.row("Name:", t.Name)
	tw.row("ID:", t.ID)
	tw.row("Plan:", t.Plan)
	for _, g := range formatLimits(t.EffectiveLimits) {
		tw.row(g.label, g.text)
	}
	if t.Usage != nil {
		label := "Usage:"
		for _, line := range formatQuotas(t.EffectiveLimits, *t.Usage) {
			tw.row(label, line)
			label = " " // not "": the table prints an empty cell as "-"
		}
	}
	tw.row("Tags:", strings.Join(t.Tags, ", "))
	tw.row("Status:", tenantStatus(*t))
	tw.row("Created:", formatTime(t.CreatedAt))
	return tw.flush()
}

// limitGroups label the limits, in tenants.Limits.Fields order, by how
// many of them each line shows.
var limitGroups = []struct {
	label string
	n     int
}{{"Limits:", 4}, {"Git:", 2}, {"KV:", 2}, {"Rate:", 2}, {"Quotas:", 7}, {"Retention:", 3}}

type limitLine struct{ label, text string }

// formatLimits lists limits by their API names, a line per group.
func formatLimits(l tenants.Limits) []limitLine {
	fields := l.Fields()
	var lines []limitLine
	for _, g := range limitGroups {
		n := min(g.n, len(fields))
		parts := make([]string, n)
		for i, f := range fields[:n] {
			parts[i] = fmt.Sprintf("%s %d", f.Name, f.Value)
		}
		fields = fields[n:]
		lines = append(lines, limitLine{g.label, strings.Join(parts, ", ")})
	}
	return lines
}

func tenantStatus(t apiclient.Tenant) string {
	if t.Disabled {
		return "disabled"
	}
	return "active"
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
