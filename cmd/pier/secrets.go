package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/pierhq/pier/tenants"
)

func secretCommands() []*command {
	return []*command{
		{name: "put", summary: "set a site's secret (the value from standard input or a prompt, never a flag)", run: runSecretsPut},
		{name: "list", summary: "list a site's secrets: names and update times, never values", run: runSecretsList},
		{name: "delete", summary: "delete a site's secret", run: runSecretsDelete},
		{name: "rekey", summary: "re-seal every secret under the server's primary key, after a key rotation (admin)", run: runSecretsRekey},
	}
}

func runSecretsPut(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("secrets put", "pier secrets put NAME --site S",
		`Create or replace a secret of a site. Its worker reads it like a var
(pier.get_var; a secret wins over a var of the same name) from its next
request on. The value is read from standard input when it is piped in
(one trailing newline is dropped: printf %s "$TOKEN" | pier secrets put
API_TOKEN --site blog), or asked for without echo on a terminal; never
from a flag, which other users see in ps and shells keep in history.
NAME is letters, digits and _ (not starting with a digit), at most 64;
the value at most 5 KiB; at most 100 secrets per site.`)
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "the `site` (name or id)")
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	if *site == "" {
		return usagef(fs.cmd, "--site is required")
	}
	if err := tenants.ValidSecretName(pos[0]); err != nil {
		return usagef(fs.cmd, "secret %s", trimInvalid(err))
	}
	value, err := readSecretValue(e, pos[0])
	if err != nil {
		return err
	}
	s, err := o.client(e).PutSecret(ctx, *site, pos[0], value)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, s)
	}
	fmt.Fprintf(e.stdout, "secret %s of site %s set; the site's next request reads it\n", s.Name, *site)
	return nil
}

// trimInvalid drops the "invalid: " prefix of a tenants validation error.
func trimInvalid(err error) string {
	s := err.Error()
	if p := tenants.ErrInvalid.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// readSecretValue reads a secret's value: from a no-echo prompt when
// standard input is a terminal, else all of standard input (one trailing
// newline dropped).
func readSecretValue(e *env, name string) (string, error) {
	if e.stdinTerminal && e.readPassword != nil {
		fmt.Fprintf(e.stderr, "Value of secret %s (not shown): ", name)
		b, err := e.readPassword()
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the value from the terminal: %w", err)
		}
		if len(b) == 0 {
			return "", errors.New("the value is empty: nothing was set")
		}
		if !utf8.Valid(b) {
			return "", errNotText
		}
		return string(b), nil
	}
	if e.stdin == nil {
		return "", errors.New("no value: pipe it into standard input (printf %s \"$VALUE\" | pier secrets put NAME --site S)")
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, tenants.MaxSecretValueBytes+3))
	if err != nil {
		return "", fmt.Errorf("reading the value from standard input: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	switch {
	case len(b) == 0:
		return "", errors.New("the value read from standard input is empty: nothing was set (pipe it in: printf %s \"$VALUE\" | pier secrets put NAME --site S)")
	case len(b) > tenants.MaxSecretValueBytes:
		return "", fmt.Errorf("the value is over the limit of %d bytes (5 KiB) per secret: nothing was set", tenants.MaxSecretValueBytes)
	case !utf8.Valid(b):
		return "", errNotText
	}
	return string(b), nil
}

// errNotText: a secret is a string; JSON would carry invalid bytes as
// U+FFFD, another value than the one read.
var errNotText = errors.New("the value is not valid UTF-8 text: nothing was set (a secret is text; encode a binary value first, e.g. base64 < key.bin | pier secrets put NAME --site S)")

func runSecretsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("secrets list", "pier secrets list --site S [--json]",
		"List a site's secrets: their names and when each was created and last set. Values are never shown.")
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "the `site` (name or id)")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	if *site == "" {
		return usagef(fs.cmd, "--site is required")
	}
	list, err := o.client(e).ListSecrets(ctx, *site)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, map[string]any{"secrets": nonNil(list)})
	}
	t := newTable(e.stdout, "NAME", "UPDATED", "CREATED")
	for _, s := range list {
		t.row(s.Name, formatTime(s.UpdatedAt), formatTime(s.CreatedAt))
	}
	return t.flush()
}

func runSecretsDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("secrets delete", "pier secrets delete NAME --site S",
		"Delete a site's secret; its worker stops seeing it from the site's next request on.")
	o := addClientFlags(fs, false)
	site := fs.String("site", "", "the `site` (name or id)")
	pos, err := parseArgs(fs, e, args, 1, 1)
	if err != nil {
		return err
	}
	if *site == "" {
		return usagef(fs.cmd, "--site is required")
	}
	if err := o.client(e).DeleteSecret(ctx, *site, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted secret %s of site %s\n", pos[0], *site)
	return nil
}

func runSecretsRekey(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("secrets rekey", "pier secrets rekey [--json]",
		`Re-seal every site's secrets under the primary key of the server's key
file (admin token). Rotation: put a new key on the first line of the key
file (pier serve --secrets-key-file, default <data>/secrets.key), keep the
old key on a line below it, restart pier serve (every node), run this,
then remove the old key's line and restart again. It fails, naming the
key ids, while secrets sealed under keys the server does not have remain.`)
	o := addClientFlags(fs, true)
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	r, err := o.client(e).RekeySecrets(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "rekeyed %d secrets; every secret is sealed under key %s now\n", r.Rekeyed, r.KeyID)
	if r.Skipped > 0 {
		fmt.Fprintf(e.stdout, "%d secrets were set or deleted meanwhile (already under the new key); run it again to be sure\n", r.Skipped)
	}
	return nil
}
