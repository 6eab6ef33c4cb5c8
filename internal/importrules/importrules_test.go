// Package importrules holds the test that enforces the import rules of
// docs/architecture.md (§1, which renders the allowed map): imports
// point down only, hosting and admin never import each other, certs never
// imports tenants, and only cmd/ reads flags or the environment; and the
// test that keeps cmd/pier's functions short (cmdsize_test.go).
package importrules

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/pierhq/pier"

// allowed maps a package prefix to the Pier packages it may import (by
// prefix). A package not listed may import nothing of Pier's but what its
// own tree holds. The most specific prefix wins.
var allowed = map[string][]string{
	"assets":                {"assets"},
	"tenants":               {"tenants", "assets", "internal/dnsname", "internal/cgimeta"},
	"hosting":               {"hosting", "tenants", "assets", "internal/dnsname", "internal/siterules", "internal/logstream"},
	"hosting/worker":        {"hosting/worker", "internal/cgimeta"},
	"admin":                 {"admin", "tenants", "assets", "internal/dnsname", "internal/siterules", "internal/httperr", "internal/logstream", "internal/domainverify", "internal/ratelimit"},
	"certs":                 {"certs", "internal/dnsname", "internal/httperr"},
	"web":                   {"web"}, // the console: embedded built files and their handler; only cmd/ imports it
	"internal/dnsname":      {},
	"internal/cgimeta":      {}, // the CGI meta-variables a WAGI request sets; tenants and hosting/worker use it
	"internal/httperr":      {},
	"internal/logstream":    {},
	"internal/project":      {},
	"internal/gitserve":     {"admin", "tenants", "assets", "internal/dnsname", "internal/project", "internal/httperr"},
	"internal/siterules":    {},
	"internal/domainverify": {},
	"internal/ratelimit":    {},
	"internal/datadir":      {},
	"internal/lazydeadline": {}, // the listeners' far deadlines without a timer each; only cmd/ uses it
	"internal/secretbox":    {}, // sites' secrets at rest (AES-256-GCM keyring); admin and cmd/ use it
	"internal/tlspolicy":    {"internal/tlspolicy", "certs", "tenants", "internal/dnsname", "internal/ratelimit"},
	"internal/apiclient":    {"assets", "tenants", "internal/logstream"},
	"internal/lifecycle":    {"tenants", "assets"}, // retention and blob garbage collection; only cmd/ imports it
	"internal/testenv":      {"internal/pebbleconf"},
	"internal/pebbleconf":   {},
	"sdk":                   {}, // guest SDKs (sdk/go/pier is a module of its own): the standard library only
	"internal/trydomains":   {"internal/pebbleconf"},
	"cmd":                   {""}, // the wiring: may import everything
	"internal/bench":        {""},
	"internal/e2e":          {""},
	"examples":              {""},
}

// envReaders may read flags and environment variables.
var envReaders = []string{"cmd", "internal/testenv", "internal/bench", "internal/e2e", "internal/trydomains", "examples"}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "bin" || name == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "flag" && !under(pkg, envReaders) {
				t.Errorf("%s imports flag: only cmd/ reads flags", rel)
			}
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := strings.TrimPrefix(p, module+"/")
			if under(target, []string{"cmd"}) {
				t.Errorf("%s imports %s: nothing imports cmd/", pkg, target)
				continue
			}
			if !under(target, rules(pkg)) {
				t.Errorf("%s imports %s, which the allowed map (docs/architecture.md §1) forbids (allowed: %v)", pkg, target, rules(pkg))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go files checked")
	}
}

func TestNoEnvOutsideCmd(t *testing.T) {
	root, _ := filepath.Abs("../..")
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			// Test fixtures (guest programs built for tests) and hidden
			// directories are not Pier packages.
			if d != nil && d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if under(pkg, envReaders) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, bad := range []string{"os.Getenv(", "os.LookupEnv(", "os.Environ("} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s calls %s: only cmd/ reads the environment; take a Config field instead", path, strings.TrimSuffix(bad, "("))
			}
		}
		return nil
	})
}

// rules returns the allowed import prefixes of pkg: the most specific entry.
func rules(pkg string) []string {
	best, bestLen := []string(nil), -1
	for prefix, allow := range allowed {
		if under(pkg, []string{prefix}) && len(prefix) > bestLen {
			best, bestLen = allow, len(prefix)
		}
	}
	if bestLen < 0 {
		// Unlisted: only its own tree.
		return []string{pkg}
	}
	return best
}

// under reports whether pkg is one of prefixes or below one ("" matches all).
func under(pkg string, prefixes []string) bool {
	for _, p := range prefixes {
		if p == "" || pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}
