package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/pierhq/pier/internal/apiclient"
)

func deploymentCommands() []*command {
	return []*command{
		{name: "list", summary: "list a site's deployments, newest first", run: runDeploymentsList},
		{name: "get", summary: "show one deployment", run: runDeploymentsGet},
	}
}

func runDeploymentsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("deployments list", "pier deployments list --site S [--json]",
		"List a site's deployments, newest first; * marks the live one.")
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "`name` or id of the site")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	if *site == "" {
		return usagef(fs.cmd, "--site is required")
	}
	list, err := o.client(e).ListDeployments(ctx, *site)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"deployments": nonNil(list)})
	}
	t := newTable(e.stdout, "", "ID", "CREATED", "FILES", "SIZE", "SOURCE")
	for _, d := range list {
		mark := " "
		if d.Active {
			mark = "*"
		}
		t.row(mark, d.ID, formatTime(d.CreatedAt), d.Files, formatBytes(d.Bytes), formatSource(d.Source))
	}
	return t.flush()
}

func runDeploymentsGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("deployments get", "pier deployments get --site S DEPLOYMENT [--files] [--json]",
		"Show one deployment of a site; --files lists its files.")
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "`name` or id of the site")
	files := fs.Bool("files", false, "list the deployment's files")
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	if *site == "" {
		return usagef(fs.cmd, "--site is required")
	}
	d, err := o.client(e).GetDeployment(ctx, *site, pos[0])
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, d)
	}
	t := newTable(e.stdout)
	t.row("ID:", d.ID)
	t.row("Active:", yesNo(d.Active))
	t.row("URL:", d.URL)
	t.row("Preview URL:", d.PreviewURL)
	t.row("Created:", formatTime(d.CreatedAt))
	t.row("Source:", formatSource(d.Source))
	t.row("Files:", fmt.Sprintf("%d (%s)", d.Files, formatBytes(d.Bytes)))
	t.row("HTML handling:", d.Config.HTMLHandling)
	t.row("Not-found handling:", d.Config.NotFoundHandling)
	if d.Worker != "" {
		t.row("Worker:", d.Worker)
	}
	if len(d.Config.RunWorkerFirst) > 0 {
		t.row("Run worker first:", strings.Join(d.Config.RunWorkerFirst, " "))
	}
	if len(d.Config.Vars) > 0 {
		// Names only: values may be secrets.
		t.row("Vars:", strings.Join(slices.Sorted(maps.Keys(d.Config.Vars)), " "))
	}
	for _, b := range d.Config.KV {
		t.row("KV:", b.Binding+" = "+b.Namespace)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if !*files {
		return nil
	}
	paths := make([]string, 0, len(d.Manifest))
	for p := range d.Manifest {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	fmt.Fprintln(e.stdout)
	ft := newTable(e.stdout, "PATH", "SIZE", "HASH", "TYPE")
	for _, p := range paths {
		m := d.Manifest[p]
		ft.row(p, m.Size, m.Hash, m.ContentType)
	}
	return ft.flush()
}

func runRollback(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("rollback", "pier rollback --site S DEPLOYMENT [--json]",
		"Make DEPLOYMENT the live deployment of the site (see 'pier deployments list') and print the live URL.")
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "`name` or id of the site")
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	if *site == "" {
		return usagef(fs.cmd, "--site is required")
	}
	d, err := o.client(e).ActivateDeployment(ctx, *site, pos[0])
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, d)
	}
	fmt.Fprintf(e.stdout, "Deployment %s is live at %s\n", d.ID, d.URL)
	return nil
}

// formatSource shows where a deployment came from: "git main@abc1234" for
// a push (the short commit), "cli feature @abc123456789" for a client's
// label.
func formatSource(s apiclient.Source) string {
	if s.Type == "git" {
		ref := s.Branch
		if s.Commit != "" {
			ref += "@" + shortCommit(s.Commit)
		}
		return strings.TrimSpace("git " + strings.TrimPrefix(ref, "@"))
	}
	out := s.Type
	if s.Branch != "" {
		out += " " + s.Branch
	}
	if s.Commit != "" {
		c := s.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		out += " @" + c
	}
	return out
}

// shortCommit abbreviates a git commit id as git does by default.
func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
