package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
)

// Defaults of the client flags.
const (
	defaultAPI       = "http://127.0.0.1:8081"
	defaultTokenFile = "data/admin.token"
)

// cmdFlags is a command's FlagSet with its usage text.
type cmdFlags struct {
	*flag.FlagSet
	cmd   string // "tenants create"
	usage string // "pier tenants create NAME [--plan P] [--tag k:v]…"
	about string
}

func newFlagSet(cmd, usage, about string) *cmdFlags {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by run; help by printHelp
	return &cmdFlags{FlagSet: fs, cmd: cmd, usage: usage, about: about}
}

func (f *cmdFlags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s\n", f.usage, f.about)
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	f.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	})
}

// parseArgs parses args with fs, allowing flags before, between and after
// positional arguments (`pier deploy ./site --site blog`); everything after
// a "--" is positional. It checks the number of positional arguments is
// within [minPos, maxPos] (maxPos < 0: no upper bound). -h and --help print
// the command's help to stdout and return flag.ErrHelp.
func parseArgs(fs *cmdFlags, e *env, args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.printHelp(e.stdout)
				return nil, err
			}
			return nil, usagef(fs.cmd, "%s", err)
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < minPos:
		return nil, usagef(fs.cmd, "missing argument; usage: %s", fs.usage)
	case maxPos >= 0 && len(pos) > maxPos:
		return nil, usagef(fs.cmd, "unexpected argument %q; usage: %s", pos[maxPos], fs.usage)
	}
	return pos, nil
}

// listFlag is a repeatable string flag (--tag a:b --tag c:d).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// clientOpts are the flags every client command takes.
type clientOpts struct {
	api   string
	token string
	json  bool
}

// addClientFlags registers --api and --token, and --json when withJSON.
func addClientFlags(fs *cmdFlags, withJSON bool) *clientOpts {
	o := &clientOpts{}
	fs.StringVar(&o.api, "api", "", "admin API `URL` (env PIER_API, default "+defaultAPI+")")
	fs.StringVar(&o.token, "token", "", "API `token` (env PIER_TOKEN, default the contents of ./"+defaultTokenFile+")")
	if withJSON {
		fs.BoolVar(&o.json, "json", false, "print JSON for scripts instead of text")
	}
	return o
}

// client resolves the API URL and token (flag, then environment, then the
// default) and returns a client of the API.
func (o *clientOpts) client(e *env) *apiclient.Client {
	api := firstNonEmpty(o.api, e.getenv("PIER_API"), defaultAPI)
	token := firstNonEmpty(o.token, e.getenv("PIER_TOKEN"))
	if token == "" {
		if b, err := e.readFile(defaultTokenFile); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	c := apiclient.New(api, token, e.http)
	c.UserAgent = "pier/" + strings.ReplaceAll(buildVersion(), " ", "-")
	return c
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// printJSON writes v as indented JSON followed by a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns; call flush when done.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		io.WriteString(t.tw, strings.Join(header, "\t")+"\n")
	}
	return t
}

func (t *table) row(cols ...any) {
	for i, c := range cols {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		s := fmt.Sprint(c)
		if s == "" {
			s = "-" // say "none" rather than leave a hole in the table
		}
		// A tab or newline in a value would break the columns.
		io.WriteString(t.tw, strings.NewReplacer("\t", " ", "\n", " ").Replace(s))
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

// formatTime shows a server timestamp in UTC, to the second.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// formatBytes renders a byte count with binary units (1.5 MiB).
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// isNotExist reports whether err says a file does not exist.
func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
