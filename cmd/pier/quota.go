package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/tenants"
)

// formatQuotas lists each quota the server counts as "name  used / limit".
func formatQuotas(l tenants.Limits, u tenants.QuotaUsage) []string {
	rows := []struct {
		name, used, limit string
	}{
		{"sites", strconv.Itoa(u.Sites), strconv.Itoa(l.Sites)},
		{"domains", strconv.Itoa(u.Domains), strconv.Itoa(l.Domains)},
		{"uploadSessions", strconv.Itoa(u.UploadSessions), strconv.Itoa(l.UploadSessions)},
		{"uploadEntries", strconv.Itoa(u.UploadEntries), strconv.Itoa(l.UploadEntries)},
		{"storageMB", fmt.Sprintf("%.1f", float64(u.StorageBytes)/tenants.MiB), strconv.Itoa(l.StorageMB)},
		{"kvNamespaces", strconv.Itoa(u.KVNamespaces), strconv.Itoa(l.KVNamespaces)},
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.name))
	}
	lines := make([]string, 0, len(rows)+1)
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("%-*s  %s / %s", width, r.name, r.used, r.limit))
	}
	return append(lines, fmt.Sprintf("%-*s  %d per worker", width, "workerMB", l.WorkerMB))
}

func runTenantsSetLimits(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("tenants set-limits", "pier tenants set-limits TENANT NAME=VALUE... [--json]",
		"Override a tenant's limits and quotas (admin token), by their API names (e.g. sites=20 storageMB=4096);\n"+
			"0 resets one to the plan's. Other overrides are kept. Names: "+limitNames()+".")
	o := addClientFlags(fs, true)
	pos, err := parseArgs(fs, e, args, 2, -1)
	if err != nil {
		return err
	}
	set := map[string]int{}
	for _, a := range pos[1:] {
		name, value, ok := strings.Cut(a, "=")
		n, err := strconv.Atoi(value)
		switch {
		case !ok:
			return usagef(fs.cmd, "%q is not NAME=VALUE", a)
		case !strings.Contains(" "+limitNames()+",", " "+name+","):
			return usagef(fs.cmd, "unknown limit %q (want one of %s)", name, limitNames())
		case err != nil || n < 0:
			return usagef(fs.cmd, "%s: %q is not a whole number ≥ 0", name, value)
		}
		set[name] = n
	}
	c := o.client(e)
	t, err := c.GetTenant(ctx, pos[0])
	if err != nil {
		return err
	}
	limits, err := withLimits(t.Limits, set)
	if err != nil {
		return err
	}
	t, err = c.UpdateTenant(ctx, t.ID, apiclient.UpdateTenant{Limits: &limits})
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, t)
	}
	return printTenant(e.stdout, t)
}

// limitNames lists the limits' API names: "cpuMs, subRequests, …".
func limitNames() string {
	var names []string
	for _, f := range (tenants.Limits{}).Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// withLimits returns l with the limits named in set changed (0 = the
// plan's), through their JSON names.
func withLimits(l tenants.Limits, set map[string]int) (tenants.Limits, error) {
	m := map[string]int{}
	for _, f := range l.Fields() {
		m[f.Name] = f.Value
	}
	for k, v := range set {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return l, err
	}
	var out tenants.Limits
	if err := json.Unmarshal(b, &out); err != nil {
		return l, fmt.Errorf("setting limits: %w", err)
	}
	return out, nil
}
