package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/apiclient"
)

func TestParseArgsInterspersed(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		min, max int
		wantPos  []string
		wantSite string
		wantJSON bool
		wantErr  string
	}{
		{name: "flags after positional", args: []string{"./site", "--site", "blog"}, min: 0, max: 1, wantPos: []string{"./site"}, wantSite: "blog"},
		{name: "flags before positional", args: []string{"--site=blog", "./site"}, min: 0, max: 1, wantPos: []string{"./site"}, wantSite: "blog"},
		{name: "flags around positionals", args: []string{"--json", "a", "-site", "blog", "b"}, min: 2, max: 2, wantPos: []string{"a", "b"}, wantSite: "blog", wantJSON: true},
		{name: "double dash ends flags", args: []string{"--site", "blog", "--", "--json"}, min: 1, max: 1, wantPos: []string{"--json"}, wantSite: "blog"},
		{name: "lone dash is positional", args: []string{"-", "--json"}, min: 1, max: 1, wantPos: []string{"-"}, wantJSON: true},
		{name: "no arguments", args: nil, min: 0, max: 1, wantPos: nil},
		{name: "too few", args: []string{"--site", "blog"}, min: 1, max: 1, wantErr: "missing argument"},
		{name: "too many", args: []string{"a", "b", "--site", "blog"}, min: 1, max: 1, wantErr: `unexpected argument "b"`},
		{name: "unknown flag", args: []string{"a", "--sight", "blog"}, min: 1, max: 1, wantErr: "flag provided but not defined: -sight"},
		{name: "flag without value", args: []string{"a", "--site"}, min: 1, max: 1, wantErr: "flag needs an argument: -site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("test", "pier test", "")
			site := fs.String("site", "", "")
			js := fs.Bool("json", false, "")
			e := &env{stdout: &bytes.Buffer{}}
			pos, err := parseArgs(fs, e, tt.args, tt.min, tt.max)
			if tt.wantErr != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pos, tt.wantPos) || *site != tt.wantSite || *js != tt.wantJSON {
				t.Errorf("got pos %q site %q json %v, want %q %q %v", pos, *site, *js, tt.wantPos, tt.wantSite, tt.wantJSON)
			}
		})
	}
}

func TestParseArgsHelp(t *testing.T) {
	fs := newFlagSet("test", "pier test THING", "Does a test.")
	fs.String("site", "", "the `site`")
	var out bytes.Buffer
	_, err := parseArgs(fs, &env{stdout: &out}, []string{"x", "--help"}, 1, 1)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"pier test THING", "Does a test.", "  --site site\n      the site\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "no command", args: nil, wantCode: exitUsage, wantStderr: "pier: missing command"},
		{name: "unknown command", args: []string{"deplyo"}, wantCode: exitUsage, wantStderr: `pier: unknown command "deplyo"`},
		{name: "help", args: []string{"help"}, wantCode: exitOK, wantStdout: "deployments  list and inspect"},
		{name: "help of a command", args: []string{"help", "deploy"}, wantCode: exitOK, wantStdout: "pier deploy [DIR] --site S"},
		{name: "help of a subcommand", args: []string{"help", "tenants", "create"}, wantCode: exitOK, wantStdout: "pier tenants create NAME"},
		{name: "help of a group", args: []string{"tenants", "--help"}, wantCode: exitOK, wantStdout: "set-plan"},
		{name: "unknown help topic", args: []string{"help", "nope"}, wantCode: exitUsage, wantStderr: `unknown help topic "nope"`},
		{name: "missing subcommand", args: []string{"sites"}, wantCode: exitUsage, wantStderr: "missing subcommand of sites"},
		{name: "unknown subcommand", args: []string{"sites", "rename"}, wantCode: exitUsage, wantStderr: `unknown subcommand "rename" of sites`},
		{name: "version", args: []string{"version"}, wantCode: exitOK, wantStdout: "pier "},
		{name: "flag help", args: []string{"deploy", "-h"}, wantCode: exitOK, wantStdout: "--no-activate"},
		{name: "missing argument", args: []string{"tenants", "create"}, wantCode: exitUsage, wantStderr: "Run 'pier help tenants create' for usage."},
		{name: "tokens need an owner", args: []string{"tokens", "create", "--name", "ci"}, wantCode: exitUsage, wantStderr: "--tenant T or --admin"},
		{name: "deployments need a site", args: []string{"deployments", "list"}, wantCode: exitUsage, wantStderr: "--site is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, nil, false, tt.args...)
			if res.code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", res.code, tt.wantCode, res.stderr)
			}
			if !strings.Contains(res.stdout, tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, res.stdout)
			}
			if !strings.Contains(res.stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, res.stderr)
			}
		})
	}
}

func TestClientSettings(t *testing.T) {
	tests := []struct {
		name      string
		flags     clientOpts
		env       map[string]string
		tokenFile string // contents of ./data/admin.token; "" means absent
		wantAPI   string
		wantToken string
	}{
		{name: "defaults", wantAPI: defaultAPI},
		{name: "token file", tokenFile: "pier_file\n", wantAPI: defaultAPI, wantToken: "pier_file"},
		{name: "env over file", env: map[string]string{"PIER_API": "http://env:1", "PIER_TOKEN": "pier_env"}, tokenFile: "pier_file", wantAPI: "http://env:1", wantToken: "pier_env"},
		{name: "flags over env", flags: clientOpts{api: "http://flag:1", token: "pier_flag"}, env: map[string]string{"PIER_API": "http://env:1", "PIER_TOKEN": "pier_env"}, wantAPI: "http://flag:1", wantToken: "pier_flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth, gotHost string
			e := &env{
				getenv: func(k string) string { return tt.env[k] },
				readFile: func(name string) ([]byte, error) {
					if name != defaultTokenFile || tt.tokenFile == "" {
						return nil, os.ErrNotExist
					}
					return []byte(tt.tokenFile), nil
				},
				http: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					gotAuth, gotHost = r.Header.Get("Authorization"), r.URL.Host
					return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}}, nil
				})},
			}
			c := tt.flags.client(e)
			if err := c.DeleteSite(t.Context(), "x"); err != nil {
				t.Fatal(err)
			}
			if want := "http://" + gotHost; want != tt.wantAPI {
				t.Errorf("API = %s, want %s", want, tt.wantAPI)
			}
			wantAuth := ""
			if tt.wantToken != "" {
				wantAuth = "Bearer " + tt.wantToken
			}
			if gotAuth != wantAuth {
				t.Errorf("Authorization = %q, want %q", gotAuth, wantAuth)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestErrorDetails(t *testing.T) {
	tests := []struct {
		name string
		err  apiclient.Error
		want string
	}{
		{name: "none", err: apiclient.Error{Message: "bad"}, want: ""},
		{name: "already in the message", err: apiclient.Error{Message: "_redirects line 2: bad status", Fields: map[string]any{"file": "_redirects", "line": float64(2)}}, want: ""},
		{name: "not in the message", err: apiclient.Error{Message: "file too large", Fields: map[string]any{"path": "/big.bin", "limit": float64(26214400)}}, want: "path /big.bin, limit 26214400"},
		{name: "lists are left out", err: apiclient.Error{Message: "2 blobs missing", Fields: map[string]any{"missing": []any{"a", "b"}}}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorDetails(&tt.err); got != tt.want {
				t.Errorf("errorDetails = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "x"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came before the first request
	var stdout, stderr bytes.Buffer
	e := &env{
		stdout: &stdout, stderr: &stderr,
		getenv:   func(k string) string { return map[string]string{"PIER_API": api.srv.URL, "PIER_TOKEN": fakeToken}[k] },
		readFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
		http:     api.srv.Client(),
	}
	if code := run(ctx, e, []string{"deploy", dir, "--site", "blog"}); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if stderr.String() != "pier: interrupted\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
	if n := api.callCount("POST /api/v1/sites/{site}/deployments"); n != 0 {
		t.Errorf("%d deployments created after the interrupt", n)
	}
}
