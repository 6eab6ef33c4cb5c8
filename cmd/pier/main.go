// Command pier runs the Pier platform (`pier serve`) and is the client of
// its admin API: tenants, sites, custom domains, tokens, deploys,
// deployments, rollbacks and live logs.
//
// Client commands find the API with --api (env PIER_API, default
// http://127.0.0.1:8081) and authenticate with --token (env PIER_TOKEN,
// default the contents of ./data/admin.token). On any failure pier exits
// with a non-zero status and prints the server's message and error code.
//
// This is the only package that reads flags and environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/internal/gitserve"
)

// version is set at build time with -ldflags "-X main.version=…".
var version string

func main() {
	if len(os.Args) > 1 && os.Args[1] == "git-hook" {
		// git's pre-receive hook under pier serve (see gitserve.RunHook);
		// not a command for people, so not in the help.
		os.Exit(gitserve.RunHook(os.Stdin, os.Stderr, os.Getenv))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C cancels gracefully; restore the default so a
		// second one kills at once.
		<-ctx.Done()
		stop()
	}()
	e := &env{
		stdin:    os.Stdin,
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		getenv:   os.Getenv,
		readFile: os.ReadFile,
		terminal: term.IsTerminal(int(os.Stderr.Fd())),
		http:     newHTTPClient(),
		// pier secrets put: a no-echo prompt on a terminal.
		stdinTerminal: term.IsTerminal(int(os.Stdin.Fd())),
		readPassword:  func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) },
	}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// newHTTPClient returns the client of the admin API: connections are kept
// for the parallel blob uploads, and a server that accepted a request but
// never answers is given up on, eventually (creating a deployment of a big
// site compresses its text files first, so "eventually" is generous).
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 2 * uploadParallelism
	t.ResponseHeaderTimeout = 10 * time.Minute
	return &http.Client{Transport: t}
}

// env is everything a command may use from the outside world, so tests can
// run commands in-process.
type env struct {
	stdin          io.Reader // nil: no standard input (pier kv put asks for a value)
	stdout, stderr io.Writer
	getenv         func(string) string
	readFile       func(string) ([]byte, error)
	terminal       bool // stderr is a terminal: progress bars may be drawn
	http           *http.Client
	// When stdinTerminal, readPassword reads a line from stdin without
	// echo (pier secrets put).
	stdinTerminal bool
	readPassword  func() ([]byte, error)
}

// command is one subcommand. run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
	// sub lists the subcommands of a command group (tenants, sites…).
	sub []*command
	// aliases are other names of the command, accepted but not listed.
	aliases []string
}

// is reports whether name names c.
func (c *command) is(name string) bool { return c.name == name || slices.Contains(c.aliases, name) }

func commands() []*command {
	return []*command{
		{name: "serve", summary: "run the platform (the edge and the admin API)", run: func(ctx context.Context, e *env, args []string) error {
			if err := runServe(ctx, args, e.stdout, e.stderr); err != nil {
				return serveError{err}
			}
			return nil
		}},
		{name: "tenants", summary: "create, list, inspect, re-plan and delete tenants", sub: tenantCommands()},
		{name: "sites", summary: "create, list, inspect and delete sites", sub: siteCommands()},
		{name: "domains", summary: "add, verify, list and remove sites' custom domains", sub: domainCommands()},
		{name: "tokens", summary: "create, list and revoke API tokens", sub: tokenCommands()},
		{name: "kv", summary: "create and delete KV namespaces; read, write and list their keys", sub: kvCommands()},
		{name: "secrets", summary: "set, list and delete sites' secrets; rekey them after a key rotation", sub: secretCommands()},
		{name: "deploy", summary: "publish a directory to a site", run: runDeploy},
		{name: "deployments", summary: "list and inspect a site's deployments", sub: deploymentCommands()},
		{name: "rollback", summary: "make an earlier deployment live again", run: runRollback},
		{name: "logs", summary: "follow a site's live worker log", run: runLogs},
		{name: "usage", summary: "show a site's or a tenant's traffic over time", run: runUsage},
		{name: "gc", summary: "delete old deployments and unused blobs now, or say what would go (--dry-run)", run: runGC},
		{name: "version", summary: "print the version", run: runVersion},
	}
}

// exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError is a mistake in the command line; it exits with status 2 and
// points at the help.
type usageError struct {
	cmd string // "tenants create"
	msg string
}

func (u *usageError) Error() string { return u.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	err := dispatch(ctx, e, commands(), nil, args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "pier: %s\n", ue.msg)
		fmt.Fprintf(e.stderr, "Run '%s' for usage.\n", strings.TrimSpace("pier help "+ue.cmd))
		return exitUsage
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stderr, "pier: interrupted")
		return exitError
	}
	fmt.Fprintf(e.stderr, "pier: %s\n", err)
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		if d := errorDetails(ae); d != "" {
			fmt.Fprintf(e.stderr, "pier: (%s)\n", d)
		}
	}
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		fmt.Fprintln(e.stderr, "pier: pass a token with --token or PIER_TOKEN, or run pier where data/admin.token is readable")
	}
	var oe *net.OpError
	var se serveError
	if errors.As(err, &oe) && oe.Op == "dial" && !errors.As(err, &se) {
		fmt.Fprintln(e.stderr, "pier: is 'pier serve' running, and do --api or PIER_API point at its admin listener?")
	}
	return exitError
}

// serveError marks a failure of `pier serve` itself, so the client hints
// (is the server running? which token?) are not printed for it.
type serveError struct{ error }

func (e serveError) Unwrap() error { return e.error }

// dispatch finds the command named by args[0] in cmds (path holds the
// names of the enclosing groups) and runs it.
func dispatch(ctx context.Context, e *env, cmds []*command, path []string, args []string) error {
	full := strings.Join(path, " ")
	if len(args) == 0 {
		printUsage(e.stderr, cmds, path)
		if len(path) == 0 {
			return usagef("", "missing command")
		}
		return usagef(full, "missing subcommand of %s", full)
	}
	name := args[0]
	if len(path) == 0 && (name == "help" || name == "-h" || name == "--help" || name == "-help") {
		return runHelp(e, cmds, args[1:])
	}
	if len(path) == 0 && (name == "--version" || name == "-version") {
		return runVersion(ctx, e, nil)
	}
	if len(path) > 0 && (name == "help" || name == "-h" || name == "--help" || name == "-help") {
		printUsage(e.stdout, cmds, path)
		return nil
	}
	for _, c := range cmds {
		if !c.is(name) {
			continue
		}
		if c.sub != nil {
			return dispatch(ctx, e, c.sub, append(path, c.name), args[1:])
		}
		return c.run(ctx, e, args[1:])
	}
	if len(path) == 0 {
		return usagef("", "unknown command %q", name)
	}
	return usagef(full, "unknown subcommand %q of %s", name, full)
}

// runHelp prints the overview, or a command's own usage: `pier help deploy`
// is `pier deploy --help`.
func runHelp(e *env, cmds []*command, args []string) error {
	var path []string
	for _, name := range args {
		var found *command
		for _, c := range cmds {
			if c.is(name) {
				found = c
			}
		}
		if found == nil {
			return usagef("", "unknown help topic %q", strings.Join(append(path, name), " "))
		}
		path = append(path, name)
		if found.sub == nil {
			if found.name == "serve" {
				return runServe(context.Background(), []string{"-h"}, e.stdout, e.stderr)
			}
			return found.run(context.Background(), e, []string{"-h"})
		}
		cmds = found.sub
	}
	printUsage(e.stdout, cmds, path)
	return nil
}

func printUsage(w io.Writer, cmds []*command, path []string) {
	prefix := strings.Join(append([]string{"pier"}, path...), " ")
	if len(path) == 0 {
		fmt.Fprintln(w, "pier runs the Pier hosting platform and is the client of its admin API.")
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Usage:\n  %s <command> [arguments] [flags]\n\nCommands:\n", prefix)
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	if len(path) == 0 {
		fmt.Fprintln(w, `
Client commands take --api URL (env PIER_API, default http://127.0.0.1:8081)
and --token T (env PIER_TOKEN, default the contents of ./data/admin.token).

Run 'pier help <command>' for a command's flags.`)
	} else {
		fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", prefix)
	}
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("version", "pier version", "Print pier's version.")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "pier %s\n", buildVersion())
	return nil
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// detailKeys are the extra fields of an API error worth showing, in order.
var detailKeys = []string{"file", "line", "path", "field", "quota", "used", "requested", "limit", "hash", "computed", "size"}

// errorDetails lists the extra fields of an API error that its message
// does not already mention: "file _redirects, line 2".
func errorDetails(e *apiclient.Error) string {
	var parts []string
	for _, k := range detailKeys {
		v, ok := e.Fields[k]
		if !ok {
			continue
		}
		var s string
		switch v := v.(type) {
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case string:
			s = v
		default:
			continue
		}
		if s == "" || strings.Contains(e.Message, s) {
			continue
		}
		parts = append(parts, k+" "+s)
	}
	return strings.Join(parts, ", ")
}
