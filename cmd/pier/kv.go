package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/internal/project"
	"github.com/pierhq/pier/tenants"
)

func kvCommands() []*command {
	return []*command{
		{name: "create", summary: "create a KV namespace of a tenant", run: runKVCreate},
		{name: "list", summary: "list a tenant's KV namespaces", run: runKVList},
		{name: "delete", summary: "delete a KV namespace and all its keys", run: runKVDelete},
		{name: "keys", summary: "list a namespace's keys, optionally by prefix", run: runKVKeys},
		{name: "get", summary: "print a key's value (raw bytes) on stdout", run: runKVGet},
		{name: "put", summary: "write a key from an argument, a file or stdin", run: runKVPut},
		{name: "delete-key", summary: "delete a key", run: runKVDeleteKey},
		{name: "bulk", summary: "write many keys from a JSON file, all or none", run: runKVBulk},
	}
}

// kvBindings are pier.toml's [[kv]] tables as the deployment config's
// bindings; the server resolves their namespaces in the site's tenant.
func kvBindings(kv []project.KVBinding) []tenants.KVBinding {
	var out []tenants.KVBinding
	for _, b := range kv {
		out = append(out, tenants.KVBinding{Binding: b.Binding, Namespace: b.Namespace})
	}
	return out
}

// kvTenantFlag adds --tenant to a kv command.
func kvTenantFlag(fs *cmdFlags) *string {
	return fs.String("tenant", "", "the `tenant` (name or id); default: the token's own")
}

// kvTenant is the tenant a kv command acts on: --tenant, else the
// token's own (an admin token must say).
func kvTenant(ctx context.Context, c *apiclient.Client, cmd, tenant string) (string, error) {
	if tenant != "" {
		return tenant, nil
	}
	w, err := c.Whoami(ctx)
	if err != nil {
		return "", err
	}
	if w.Tenant == nil {
		return "", usagef(cmd, "--tenant is required with an admin token")
	}
	return w.Tenant.ID, nil
}

// kvNamespace is how the keys endpoints name namespace ns: with --tenant
// its ID (so an admin token can name it), else as given (a tenant
// token's namespace name or any ID).
func kvNamespace(ctx context.Context, c *apiclient.Client, cmd, tenant, ns string) (string, error) {
	if tenant == "" {
		if !strings.HasPrefix(ns, "kv_") {
			// A name: only a tenant token's own namespaces answer to one.
			w, err := c.Whoami(ctx)
			if err != nil {
				return "", err
			}
			if w.Tenant == nil {
				return "", usagef(cmd, "--tenant is required with an admin token to name namespace %q (or give its id, kv_…)", ns)
			}
		}
		return ns, nil
	}
	n, err := c.GetKVNamespace(ctx, tenant, ns)
	if err != nil {
		return "", err
	}
	return n.ID, nil
}

func runKVCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv create", "pier kv create NAME [--tenant T] [--json]",
		"Create a KV namespace. Sites of the tenant bind it in pier.toml:\n\n"+
			"  [[kv]]\n  binding = \"STORE\"\n  namespace = \"NAME\"")
	o := addClientFlags(fs, true)
	tenant := kvTenantFlag(fs)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	c := o.client(e)
	t, err := kvTenant(ctx, c, fs.cmd, *tenant)
	if err != nil {
		return err
	}
	n, err := c.CreateKVNamespace(ctx, t, pos[0])
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, n)
	}
	fmt.Fprintf(e.stdout, "Created KV namespace %s (%s).\n", n.Name, n.ID)
	return nil
}

func runKVList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv list", "pier kv list [--tenant T] [--json]", "List a tenant's KV namespaces.")
	o := addClientFlags(fs, true)
	tenant := kvTenantFlag(fs)
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	c := o.client(e)
	t, err := kvTenant(ctx, c, fs.cmd, *tenant)
	if err != nil {
		return err
	}
	list, err := c.ListKVNamespaces(ctx, t)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"namespaces": list})
	}
	tw := newTable(e.stdout, "NAME", "ID", "CREATED")
	for _, n := range list {
		tw.row(n.Name, n.ID, formatTime(n.Created))
	}
	return tw.flush()
}

func runKVDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv delete", "pier kv delete NAME [--tenant T]",
		"Delete a KV namespace and every key in it. Deployments that bind it keep\n"+
			"running; their operations on it fail (kv_unbound).")
	o := addClientFlags(fs, false)
	tenant := kvTenantFlag(fs)
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	c := o.client(e)
	t, err := kvTenant(ctx, c, fs.cmd, *tenant)
	if err != nil {
		return err
	}
	if err := c.DeleteKVNamespace(ctx, t, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Deleted KV namespace %s.\n", pos[0])
	return nil
}

func runKVKeys(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv keys", "pier kv keys NAMESPACE [--prefix P] [--tenant T] [--json]",
		"List a namespace's keys in byte order (all pages), with their sizes and expiries.")
	o := addClientFlags(fs, true)
	tenant := kvTenantFlag(fs)
	prefix := fs.String("prefix", "", "only the keys starting with `P`")
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	c := o.client(e)
	ns, err := kvNamespace(ctx, c, fs.cmd, *tenant, pos[0])
	if err != nil {
		return err
	}
	if o.json {
		keys, err := c.ListKVKeys(ctx, ns, *prefix)
		if err != nil {
			return err
		}
		return printJSON(e.stdout, map[string]any{"keys": keys})
	}
	tw := newTable(e.stdout, "KEY", "SIZE", "EXPIRES", "UPDATED")
	for cursor := ""; ; {
		page, err := c.KVKeysPage(ctx, ns, *prefix, cursor, tenants.MaxPageLimit)
		if err != nil {
			return err
		}
		for _, k := range page.Keys {
			tw.row(strconv.Quote(k.Key), formatBytes(int64(k.Size)), kvExpires(k.Expires), formatTime(k.Updated))
		}
		if page.NextCursor == "" || page.NextCursor == cursor {
			return tw.flush()
		}
		cursor = page.NextCursor
	}
}

func kvExpires(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return formatTime(t)
}

func runKVGet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv get", "pier kv get NAMESPACE KEY [--tenant T]",
		"Print a key's value on stdout, byte for byte (no newline added).")
	o := addClientFlags(fs, false)
	tenant := kvTenantFlag(fs)
	pos, err := parseArgs(fs, e, args, 2, 2)
	if err != nil {
		return err
	}
	c := o.client(e)
	ns, err := kvNamespace(ctx, c, fs.cmd, *tenant, pos[0])
	if err != nil {
		return err
	}
	v, err := c.GetKVValue(ctx, ns, pos[1])
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(v.Value)
	return err
}

func runKVPut(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv put", "pier kv put NAMESPACE KEY [VALUE | --file F | < stdin] [--ttl 60s] [--tenant T]",
		"Write a key. The value is VALUE, the contents of --file, or else standard input.")
	o := addClientFlags(fs, false)
	tenant := kvTenantFlag(fs)
	file := fs.String("file", "", "read the value from `F`")
	ttl := fs.Duration("ttl", 0, "expire the key after `D` (e.g. 60s, 24h; rounded up to seconds); default never")
	pos, err := parseArgs(fs, e, args, 2, 3)
	if err != nil {
		return err
	}
	if *ttl < 0 {
		return usagef(fs.cmd, "--ttl must not be negative")
	}
	value, err := kvPutValue(e, fs.cmd, pos[2:], *file)
	if err != nil {
		return err
	}
	c := o.client(e)
	ns, err := kvNamespace(ctx, c, fs.cmd, *tenant, pos[0])
	if err != nil {
		return err
	}
	return c.PutKVValue(ctx, ns, pos[1], value, *ttl)
}

// kvPutValue is the value of pier kv put: the argument, the file or
// standard input, exactly one.
func kvPutValue(e *env, cmd string, arg []string, file string) ([]byte, error) {
	switch {
	case len(arg) == 1 && file != "":
		return nil, usagef(cmd, "pass VALUE or --file, not both")
	case len(arg) == 1:
		return []byte(arg[0]), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the value: %w", err)
		}
		return b, nil
	case e.stdin == nil:
		return nil, usagef(cmd, "no value: pass VALUE, --file F, or pipe it on stdin")
	}
	b, err := io.ReadAll(e.stdin)
	if err != nil {
		return nil, fmt.Errorf("reading the value from stdin: %w", err)
	}
	return b, nil
}

func runKVDeleteKey(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv delete-key", "pier kv delete-key NAMESPACE KEY [--tenant T]",
		"Delete a key (an absent key is no error).")
	o := addClientFlags(fs, false)
	tenant := kvTenantFlag(fs)
	pos, err := parseArgs(fs, e, args, 2, 2)
	if err != nil {
		return err
	}
	c := o.client(e)
	ns, err := kvNamespace(ctx, c, fs.cmd, *tenant, pos[0])
	if err != nil {
		return err
	}
	return c.DeleteKVKey(ctx, ns, pos[1])
}

func runKVBulk(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("kv bulk", "pier kv bulk NAMESPACE FILE.json [--tenant T]",
		"Write many keys at once, all or none. FILE.json is an array of\n"+
			`{"key": "k", "value": "text"}, with "base64": true when value is base64 of the bytes,`+"\n"+
			`and "ttl": SECONDS for a key that expires.`)
	o := addClientFlags(fs, false)
	tenant := kvTenantFlag(fs)
	pos, err := parseArgs(fs, e, args, 2, 2)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[1])
	if err != nil {
		return err
	}
	var items []apiclient.KVBulkItem
	if err := json.Unmarshal(data, &items); err != nil {
		return fmt.Errorf("%s: %w", pos[1], err)
	}
	c := o.client(e)
	ns, err := kvNamespace(ctx, c, fs.cmd, *tenant, pos[0])
	if err != nil {
		return err
	}
	n, err := c.BulkPutKV(ctx, ns, items)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Wrote %d keys.\n", n)
	return nil
}
