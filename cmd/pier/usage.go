package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
)

func runUsage(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("usage", "pier usage (--site S | --tenant T) [--from RFC3339] [--to RFC3339] [--step 1m|1h|1d] [--json]",
		`Show what the edge served for a site, or for all of a tenant's sites:
totals (requests by status class, bytes out, worker invocations by
outcome, worker CPU time, subrequests) and one row per step that saw
traffic. The window defaults to the last 24 hours; the step to 1m up to a
day, 1h up to 7 days, 1d beyond.`)
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "`name` or id of the site")
	tenant := fs.String("tenant", "", "`name` or id of the tenant")
	from := fs.String("from", "", "start of the window, RFC 3339 (`time`, default 24 h before --to)")
	to := fs.String("to", "", "end of the window, RFC 3339 (`time`, default now)")
	step := fs.String("step", "", "bucket `size`: 1m, 5m, 1h, 1d… (default by the window's length)")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	if (*site == "") == (*tenant == "") {
		return usagef("usage", "pass exactly one of --site S or --tenant T")
	}
	q := apiclient.UsageQuery{Step: *step}
	var err error
	if q.From, err = parseUsageTime("from", *from); err != nil {
		return err
	}
	if q.To, err = parseUsageTime("to", *to); err != nil {
		return err
	}
	c := o.client(e)
	var u *apiclient.Usage
	if *site != "" {
		u, err = c.SiteUsage(ctx, *site, q)
	} else {
		u, err = c.TenantUsage(ctx, *tenant, q)
	}
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, u)
	}
	return printUsageReport(e.stdout, u)
}

// parseUsageTime reads an optional RFC 3339 flag value; "" is the zero
// time (the server's default).
func parseUsageTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("usage", "--%s %q: not an RFC 3339 time (2026-01-02T15:04:05Z)", flag, s)
	}
	return t, nil
}

// printUsageReport writes a usage answer for people: a heading, the totals and
// a table of the steps that saw any traffic.
func printUsageReport(w io.Writer, u *apiclient.Usage) error {
	what := "Site " + u.Site
	if u.Site == "" {
		what = "Tenant " + u.Tenant
	}
	fmt.Fprintf(w, "%s, %s to %s, step %s\n\n", what, formatTime(u.From), formatTime(u.To), u.Step)
	tot := newTable(w)
	tot.row("Requests", countsLine(u.Totals.Requests))
	tot.row("Bytes out", formatBytes(u.Totals.BytesOut))
	tot.row("Invocations", countsLine(u.Totals.Invocations))
	tot.row("CPU", formatCPU(u.Totals.CPUMillis))
	tot.row("Subrequests", u.Totals.SubRequests)
	if u.Totals.KVReads+u.Totals.KVWrites > 0 {
		tot.row("KV", fmt.Sprintf("%d reads, %d writes, %s", u.Totals.KVReads, u.Totals.KVWrites, formatBytes(u.Totals.KVBytes)))
	}
	if err := tot.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := newTable(w, "TIME", "REQUESTS", "2XX", "3XX", "4XX", "5XX", "BYTES OUT", "INVOCATIONS", "VIOLATIONS", "CPU", "SUBREQUESTS")
	empty := 0
	for _, p := range u.Points {
		if isIdle(&p.UsageCounters) {
			empty++
			continue
		}
		t.row(formatTime(p.Time), sum(p.Requests), p.Requests["2xx"], p.Requests["3xx"], p.Requests["4xx"], p.Requests["5xx"],
			formatBytes(p.BytesOut), sum(p.Invocations), sum(p.Violations), formatCPU(p.CPUMillis), p.SubRequests)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if empty > 0 {
		fmt.Fprintf(w, "(%d of %d steps without traffic not shown)\n", empty, len(u.Points))
	}
	return nil
}

// countsLine writes a total and its non-zero parts: "47 (2xx 41, 4xx 6)".
func countsLine(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return "0"
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return fmt.Sprintf("%d (%s)", sum(m), strings.Join(parts, ", "))
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func formatCPU(ms float64) string {
	return fmt.Sprintf("%.1f ms", ms)
}

// isIdle reports whether a bucket saw nothing at all.
func isIdle(c *apiclient.UsageCounters) bool {
	return sum(c.Requests) == 0 && c.BytesOut == 0 && sum(c.Invocations) == 0 && c.CPUMillis == 0 && c.SubRequests == 0 &&
		c.KVReads == 0 && c.KVWrites == 0
}
