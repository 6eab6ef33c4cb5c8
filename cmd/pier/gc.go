package main

import (
	"context"
	"fmt"

	"github.com/pierhq/pier/internal/apiclient"
)

func runGC(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("gc", "pier gc [--dry-run] [--json]",
		`Run deployment retention and blob garbage collection now (admin token):
delete the deployments no site keeps any longer, collect the blobs no kept
deployment or upload session references (their objects go after the
server's --gc-grace), and delete the queued objects whose grace is over.
With --dry-run nothing changes: it says what would be deleted.`)
	o := addClientFlags(fs, true)
	dry := fs.Bool("dry-run", false, "only say what would be deleted")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	r, err := o.client(e).CollectGarbage(ctx, *dry)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, r)
	}
	printGCReport(e, r)
	return nil
}

func printGCReport(e *env, r *apiclient.GCReport) {
	verb := "Deleted"
	if r.DryRun {
		verb = "Would delete"
	}
	fmt.Fprintf(e.stdout, "%s %d deployments; collect %d blobs (%s, deleted after the grace period); delete %d queued objects (%s).\n",
		verb, r.Deployments, r.Blobs, formatBytes(r.BlobBytes), r.Objects, formatBytes(r.Bytes))
	if len(r.Tenants) == 0 {
		return
	}
	t := newTable(e.stdout, "TENANT", "DEPLOYMENTS", "BLOBS", "BLOB BYTES", "OBJECTS", "BYTES")
	for _, x := range r.Tenants {
		name := x.Tenant
		if name == "" {
			name = x.TenantID + " (deleted)"
		}
		t.row(name, x.Deployments, x.Blobs, formatBytes(x.BlobBytes), x.Objects, formatBytes(x.Bytes))
	}
	t.flush()
}
