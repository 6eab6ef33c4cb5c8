package main

import (
	"context"
	"fmt"
	"io"

	"github.com/pierhq/pier/internal/apiclient"

	"github.com/pierhq/pier/tenants"
)

func domainCommands() []*command {
	return []*command{
		{name: "add", summary: "add a custom domain to a site and print the DNS records to create", run: runDomainsAdd},
		{name: "verify", summary: "check a custom domain's DNS now", run: runDomainsVerify},
		{name: "list", summary: "list a site's custom domains with their status", run: runDomainsList},
		{name: "remove", summary: "remove a custom domain (it stops being served at once)", run: runDomainsRemove},
		{name: "block", summary: "block a site's claim on a hostname (operator; an active one stops being served)", run: runDomainsBlock},
		{name: "unblock", summary: "put a blocked claim back to pending (operator)", run: runDomainsUnblock},
	}
}

// domainArgs parses `pier domains NAME HOST --site S [--json]`: the
// client flags, HOST and the required --site.
func domainArgs(e *env, args []string, name, help, siteHelp string, withJSON bool) (o *clientOpts, host, site string, err error) {
	usage := "pier domains " + name + " HOST --site S"
	if withJSON {
		usage += " [--json]"
	}
	fs := newFlagSet("domains "+name, usage, help)
	o = addClientFlags(fs, withJSON)
	s := fs.String("site", "", siteHelp)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return nil, "", "", err
	}
	if *s == "" {
		return nil, "", "", usagef(fs.cmd, "--site is required")
	}
	return o, pos[0], *s, nil
}

func runDomainsAdd(ctx context.Context, e *env, args []string) error {
	o, host, site, err := domainArgs(e, args, "add",
		"Add the custom hostname HOST to site S and print the DNS records that prove\nownership and point it at the platform. Then run pier domains verify.",
		"the `site` (name or id) to serve HOST", true)
	if err != nil {
		return err
	}
	d, err := o.client(e).CreateDomain(ctx, site, host)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, d)
	}
	fmt.Fprintf(e.stdout, "Added %s to site %s (status %s).\n\nCreate these DNS records:\n\n", d.Hostname, d.Site, d.Status)
	if err := printRecords(e.stdout, d.Records); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nOnce the name points here, %s answering %s also proves ownership.\n", d.HTTPProof, d.Token)
	if d.Error != "" {
		fmt.Fprintf(e.stdout, "Note: %s\n", d.Error)
	}
	fmt.Fprintf(e.stdout, "Then run: pier domains verify %s --site %s\n", d.Hostname, d.Site)
	return nil
}

func printRecords(w io.Writer, recs []apiclient.DNSRecord) error {
	t := newTable(w, "TYPE", "NAME", "VALUE")
	for _, r := range recs {
		t.row(r.Type, r.Name, r.Value)
	}
	return t.flush()
}

func runDomainsVerify(ctx context.Context, e *env, args []string) error {
	o, host, site, err := domainArgs(e, args, "verify",
		"Check HOST's ownership proof (or, when active, its DNS) now and print the\noutcome. Exits non-zero when the domain is not active afterwards.",
		"the `site` (name or id) HOST belongs to", true)
	if err != nil {
		return err
	}
	d, err := o.client(e).VerifyDomain(ctx, site, host)
	if err != nil {
		return err
	}
	if o.json {
		if err := printJSON(e.stdout, d); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "%s: %s%s\n", d.Hostname, d.Status, certSummary(*d))
		if d.Error != "" {
			fmt.Fprintf(e.stdout, "error: %s\n", d.Error)
		}
		if d.Status != "active" && !d.NextCheck.IsZero() {
			fmt.Fprintf(e.stdout, "next automatic check: %s\n", formatTime(d.NextCheck))
		}
	}
	if d.Status != "active" {
		return fmt.Errorf("domain %s is %s", d.Hostname, d.Status)
	}
	return nil
}

// certSummary describes an active domain's certificate for verify:
// ", certificate failed: <reason> (retry <time>)"; empty when there is
// nothing to say (not active, or no certificate status).
func certSummary(d apiclient.Domain) string {
	if d.Status != "active" || d.CertStatus == "" || d.CertStatus == "none" {
		return ""
	}
	s := ", certificate " + d.CertStatus
	if d.CertError != "" {
		s += ": " + d.CertError
	}
	if !d.CertNextRetry.IsZero() {
		s += " (retry " + formatTime(d.CertNextRetry) + ")"
	}
	return s
}

func runDomainsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("domains list", "pier domains list --site S [--json]",
		"List site S's custom domains: status, certificate status, errors and the\nnext automatic check.")
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "the `site` (name or id)")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	if *site == "" {
		return usagef(fs.cmd, "--site is required")
	}
	list, err := o.client(e).ListDomains(ctx, *site)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"domains": list})
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stdout, "no custom domains; add one with pier domains add HOST --site %s\n", *site)
		return nil
	}
	t := newTable(e.stdout, "HOSTNAME", "STATUS", "CERT", "NEXT CHECK", "ERROR")
	for _, d := range list {
		msg := d.Error
		if d.CertError != "" {
			if msg != "" {
				msg += "; "
			}
			msg += "certificate: " + d.CertError
			if !d.CertNextRetry.IsZero() {
				msg += " (retry " + formatTime(d.CertNextRetry) + ")"
			}
		}
		t.row(d.Hostname, d.Status, d.CertStatus, formatTime(d.NextCheck), msg)
	}
	if err := t.flush(); err != nil {
		return err
	}
	// What a pending claim still needs, as domains add printed it.
	first := true
	for _, d := range list {
		if d.Status != "pending" || len(d.Records) == 0 {
			continue
		}
		if first {
			fmt.Fprintf(e.stdout, "\nTo verify pending domains, create:\n")
			first = false
		}
		fmt.Fprintf(e.stdout, "\n%s:\n", d.Hostname)
		if err := printRecords(e.stdout, d.Records); err != nil {
			return err
		}
	}
	if !first {
		fmt.Fprintf(e.stdout, "\nThen run: pier domains verify HOST --site %s\n", *site)
	}
	return nil
}

func runDomainsRemove(ctx context.Context, e *env, args []string) error {
	o, host, site, err := domainArgs(e, args, "remove",
		"Remove the custom hostname HOST from site S; it stops being served at once.",
		"the `site` (name or id) HOST belongs to", false)
	if err != nil {
		return err
	}
	if err := o.client(e).DeleteDomain(ctx, site, host); err != nil {
		return err
	}
	if h, err := tenants.NormalizeHostname(host); err == nil {
		host = h // as the server stores it (punycode, lower case)
	}
	fmt.Fprintf(e.stdout, "removed %s from site %s\n", host, site)
	return nil
}

func runDomainsBlock(ctx context.Context, e *env, args []string) error {
	return runDomainsOperator(ctx, e, args, "block",
		"Block site S's claim on HOST (admin token): it is never checked or served;\nan active one stops being served at once.",
		func(c *apiclient.Client, site, host string) (*apiclient.Domain, error) {
			return c.BlockDomain(ctx, site, host)
		})
}

func runDomainsUnblock(ctx context.Context, e *env, args []string) error {
	return runDomainsOperator(ctx, e, args, "unblock",
		"Put site S's blocked claim on HOST back to pending (admin token); it needs\na fresh proof to become active.",
		func(c *apiclient.Client, site, host string) (*apiclient.Domain, error) {
			return c.UnblockDomain(ctx, site, host)
		})
}

// runDomainsOperator runs an operator action on one claim and prints it.
func runDomainsOperator(ctx context.Context, e *env, args []string, name, help string, act func(c *apiclient.Client, site, host string) (*apiclient.Domain, error)) error {
	o, host, site, err := domainArgs(e, args, name, help, "the `site` (name or id) whose claim on HOST it is", true)
	if err != nil {
		return err
	}
	d, err := act(o.client(e), site, host)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, d)
	}
	fmt.Fprintf(e.stdout, "%s on site %s: %s\n", d.Hostname, site, d.Status)
	return nil
}
