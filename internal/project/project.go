// Package project owns the rules of a publishable project that every
// publisher shares: the pier.toml file (Parse), the .assetsignore file
// (ParseIgnore) and the names never published (AlwaysIgnored,
// SecretReason). The CLI's pier deploy and the git push publisher
// (gitserve) both use it, so a directory deploys the same either way.
// It imports nothing of Pier's.
package project

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// File is the name of a project's configuration file.
const File = "pier.toml"

// Config is a parsed pier.toml:
//
//	site = "blog"
//	[assets]
//	directory = "public"                 # relative to pier.toml; default: its directory, but
//	                                     # pier deploy without DIR needs it
//	html_handling = "auto-trailing-slash"
//	not_found_handling = "404-page"
//	run_worker_first = ["/api/*"]        # or true (= ["*"], every request)
//	[vars]
//	GREETING = "hello"
//	[worker]
//	main = "worker.wasm"
//	[[kv]]                               # one table per binding
//	binding = "STORE"                    # the name the worker uses
//	namespace = "blog-data"              # a KV namespace of the site's tenant
type Config struct {
	Site             string            `json:"site,omitempty"`
	Directory        string            `json:"directory,omitempty"` // as written, relative to the file
	HTMLHandling     string            `json:"html_handling,omitempty"`
	NotFoundHandling string            `json:"not_found_handling,omitempty"`
	RunWorkerFirst   []string          `json:"run_worker_first,omitempty"`
	Vars             map[string]string `json:"vars,omitempty"`
	WorkerMain       string            `json:"worker_main,omitempty"`
	KV               []KVBinding       `json:"kv,omitempty"`
}

// KVBinding is one [[kv]] table: the tenant's namespace Namespace, bound
// to the name Binding the worker uses. Bindings are unique in a file.
type KVBinding struct {
	Binding   string `json:"binding"`
	Namespace string `json:"namespace"`
}

// tomlProject mirrors the file's layout.
type tomlProject struct {
	Site   string `toml:"site"`
	Assets struct {
		Directory        string `toml:"directory"`
		HTMLHandling     string `toml:"html_handling"`
		NotFoundHandling string `toml:"not_found_handling"`
		RunWorkerFirst   any    `toml:"run_worker_first"`
	} `toml:"assets"`
	Vars   map[string]any `toml:"vars"`
	Worker struct {
		Main string `toml:"main"`
	} `toml:"worker"`
	KV []struct {
		Binding   string `toml:"binding"`
		Namespace string `toml:"namespace"`
	} `toml:"kv"`
}

// Parse parses the contents of a pier.toml; name is used in
// error messages. Unknown keys are errors, so a typo is never ignored.
func Parse(name string, data []byte) (*Config, error) {
	var t tomlProject
	md, err := toml.Decode(string(data), &t)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: line %d: %s", name, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key %s", name, strings.Join(keys, ", "))
	}
	c := &Config{
		Site:             t.Site,
		Directory:        t.Assets.Directory,
		HTMLHandling:     t.Assets.HTMLHandling,
		NotFoundHandling: t.Assets.NotFoundHandling,
		WorkerMain:       t.Worker.Main,
	}
	if c.RunWorkerFirst, err = parseRunWorkerFirst(name, t.Assets.RunWorkerFirst); err != nil {
		return nil, err
	}
	if c.Vars, err = parseVars(name, t.Vars); err != nil {
		return nil, err
	}
	for i, b := range t.KV {
		c.KV = append(c.KV, KVBinding{Binding: b.Binding, Namespace: b.Namespace})
		if err := checkKVBinding(c.KV, i); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return c, nil
}

var (
	kvBindingRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	kvNamespaceRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// checkKVBinding checks the i-th [[kv]] table of bs against the ones
// before it.
func checkKVBinding(bs []KVBinding, i int) error {
	b := bs[i]
	switch {
	case b.Binding == "":
		return fmt.Errorf("kv[%d].binding: missing (each [[kv]] needs binding = \"NAME\" and namespace = \"name\")", i)
	case !kvBindingRE.MatchString(b.Binding):
		return fmt.Errorf("kv[%d].binding: %q must match [A-Za-z_][A-Za-z0-9_]* and be at most 64 characters", i, b.Binding)
	case b.Namespace == "":
		return fmt.Errorf("kv[%d].namespace: missing (the name of a KV namespace of the site's tenant)", i)
	case !kvNamespaceRE.MatchString(b.Namespace) || strings.Contains(b.Namespace, "--"):
		return fmt.Errorf("kv[%d].namespace: %q must be a lowercase DNS label (a-z, 0-9, '-', 1-63 characters, no leading/trailing '-' and no '--')", i, b.Namespace)
	}
	for j := range i {
		if bs[j].Binding == b.Binding {
			return fmt.Errorf("kv[%d].binding: %q is already bound by kv[%d]", i, b.Binding, j)
		}
	}
	return nil
}

// parseRunWorkerFirst reads assets.run_worker_first: true (every path,
// "*"), false or absent (none), or a list of path patterns.
func parseRunWorkerFirst(name string, v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case bool:
		if v {
			return []string{"*"}, nil
		}
		return nil, nil
	case []any:
		var out []string
		for _, p := range v {
			s, ok := p.(string)
			if !ok || s != "*" && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "!/") {
				return nil, fmt.Errorf("%s: assets.run_worker_first: %v is not a path pattern (want strings like \"/api/*\", or \"*\")", name, p)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: assets.run_worker_first must be true, false or a list of path patterns", name)
}

// parseVars turns the [vars] table into strings (numbers and booleans
// as TOML writes them); nil when there is none. Errors name the first
// bad key in sorted order.
func parseVars(name string, vars map[string]any) (map[string]string, error) {
	if len(vars) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(vars))
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := vars[k].(type) {
		case string:
			out[k] = v
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case float64:
			out[k] = strconv.FormatFloat(v, 'g', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		default:
			return nil, fmt.Errorf("%s: vars.%s must be a string, number or boolean", name, k)
		}
	}
	return out, nil
}

// IgnoreFile is the name of the file listing what a deploy leaves out.
const IgnoreFile = ".assetsignore"

// alwaysIgnored are names a deploy never uploads, at any depth.
var alwaysIgnored = map[string]bool{
	".git":         true,
	".hg":          true,
	".svn":         true,
	"node_modules": true,
	".DS_Store":    true,
	File:           true, // may hold vars that are not meant to be public
	IgnoreFile:     true,
}

// secretNames are names (path.Match patterns, lower case, at any depth) a
// deploy never publishes, whatever .assetsignore says, with the reason it
// reports for skipping them. The list aims at files that are secret
// whatever project they are in; a file that is not secret but matches can
// be renamed.
var secretNames = []struct{ pattern, why string }{
	{".env", "an environment file, secret by convention"},
	{".env.*", "an environment file, secret by convention"},
	{"*.token", "a token file"},
	{".netrc", "a credentials file"},
	{".npmrc", "may hold a registry token"},
	{".pgpass", "a credentials file"},
	{".htpasswd", "a password file"},
	{"id_rsa", "a private key"},
	{"id_dsa", "a private key"},
	{"id_ecdsa", "a private key"},
	{"id_ed25519", "a private key"},
	{"*.pem", "a key or certificate file"},
	{"*.key", "a private key"},
	{"*.p12", "a key store"},
	{"*.pfx", "a key store"},
	{".ssh", "a directory of keys"},
	{".aws", "a directory of credentials"},
	{".gnupg", "a directory of keys"},
}

// SecretReason says why a file or directory with this name must never be
// published, or "" when nothing in its name says so. Names are compared
// ignoring case, as macOS and Windows file systems do: ADMIN.TOKEN is the
// same file as admin.token there.
func SecretReason(name string) string {
	name = strings.ToLower(name)
	for _, s := range secretNames {
		if ok, _ := path.Match(s.pattern, name); ok {
			return s.why
		}
	}
	return ""
}

// IgnoreRules is a parsed .assetsignore, with gitignore's syntax:
//
//   - blank lines and lines starting with # are skipped;
//   - a leading ! re-includes what an earlier pattern excluded;
//   - a trailing / matches only directories;
//   - a pattern with a / at its start or middle is anchored at the asset
//     directory, one without matches a name at any depth;
//   - * and ? match within one path segment, [a-z] a character class,
//     and ** any number of whole segments ("**/x", "x/**", "a/**/b").
//
// As in git, the last matching pattern wins, and a file inside an excluded
// directory cannot be re-included (the directory is not walked).
type IgnoreRules []ignoreRule

type ignoreRule struct {
	negate  bool
	dirOnly bool
	segs    []string // pattern split on "/", "**" kept as a segment
	line    int
}

// ParseIgnore parses the contents of an .assetsignore file.
func ParseIgnore(data []byte) (IgnoreRules, error) {
	var rules IgnoreRules
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{line: n}
		if strings.HasPrefix(line, "!") {
			r.negate = true
			line = line[1:]
		} else if strings.HasPrefix(line, `\`) {
			line = line[1:] // "\#file" or "\!file"
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly = true
			line = strings.TrimRight(line, "/")
		}
		anchored := strings.Contains(line, "/")
		line = strings.TrimPrefix(line, "/")
		if line == "" {
			continue
		}
		r.segs = strings.Split(line, "/")
		if !anchored && r.segs[0] != "**" {
			r.segs = append([]string{"**"}, r.segs...)
		}
		for _, s := range r.segs {
			if s == "**" {
				continue
			}
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("%s: line %d: bad pattern %q", IgnoreFile, n, sc.Text())
			}
		}
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", IgnoreFile, err)
	}
	return rules, nil
}

// Ignored reports whether rel (slash-separated, relative to the asset
// directory, no leading slash) is excluded.
func (rs IgnoreRules) Ignored(rel string, isDir bool) bool {
	out, _ := rs.IgnoredCost(rel, isDir)
	return out
}

// IgnoredCost is Ignored, and how much matching it took (pattern steps),
// for a caller that bounds the work of rules it does not trust (the git
// server applies a pushed .assetsignore to every path of a tree).
func (rs IgnoreRules) IgnoredCost(rel string, isDir bool) (ignored bool, cost int) {
	segs := strings.Split(rel, "/")
	for _, r := range rs {
		if r.dirOnly && !isDir {
			continue
		}
		if matchSegs(r.segs, segs, &cost) {
			ignored = !r.negate
		}
	}
	return ignored, cost
}

// matchSegs matches path segments against pattern segments where "**"
// stands for zero or more segments (one or more when it ends the pattern,
// so "dir/**" matches what is inside dir but not dir itself), adding the
// steps it took to *cost.
//
// It runs the pattern as a set of positions, one path segment at a time,
// so it takes at most len(name)·len(pat) steps whatever the pattern: a
// backtracking matcher takes time exponential in the number of "**".
func matchSegs(pat, name []string, cost *int) bool {
	n := len(pat)
	var buf [2 * 16]bool
	var cur, next []bool
	if 2*(n+1) <= len(buf) {
		cur, next = buf[:n+1], buf[n+1:2*(n+1)]
	} else {
		cur, next = make([]bool, n+1), make([]bool, n+1)
	}
	// closure adds, for every reachable "**" that does not end the
	// pattern, the position after it: it may match no segment.
	closure := func(set []bool) {
		for j := 0; j < n-1; j++ {
			if set[j] && pat[j] == "**" {
				set[j+1] = true
			}
		}
	}
	cur[0] = true
	closure(cur)
	for _, seg := range name {
		clear(next)
		live := false
		for j := 0; j < n; j++ {
			if !cur[j] {
				continue
			}
			*cost++
			switch {
			case pat[j] == "**":
				next[j] = true // it takes this segment and may take more
				if j == n-1 {
					next[n] = true // a final "**" has taken at least one
				}
				live = true
			default:
				if ok, _ := path.Match(pat[j], seg); ok {
					next[j+1] = true
					live = true
				}
			}
		}
		if !live {
			return false
		}
		closure(next)
		cur, next = next, cur
	}
	return cur[n]
}

// AlwaysIgnored reports whether a file or directory with this name is
// never published, at any depth: version control and dependency
// directories, and the project's own configuration files.
func AlwaysIgnored(name string) bool { return alwaysIgnored[name] }
