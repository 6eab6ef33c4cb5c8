package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// projectFile is the name of a project's configuration file.
const projectFile = "pier.toml"

// projectConfig is a parsed pier.toml:
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
type projectConfig struct {
	Site             string            `json:"site,omitempty"`
	Directory        string            `json:"directory,omitempty"` // as written, relative to the file
	HTMLHandling     string            `json:"html_handling,omitempty"`
	NotFoundHandling string            `json:"not_found_handling,omitempty"`
	RunWorkerFirst   []string          `json:"run_worker_first,omitempty"`
	Vars             map[string]string `json:"vars,omitempty"`
	WorkerMain       string            `json:"worker_main,omitempty"`
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
}

// parseProjectConfig parses the contents of a pier.toml; name is used in
// error messages. Unknown keys are errors, so a typo is never ignored.
func parseProjectConfig(name string, data []byte) (*projectConfig, error) {
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
	c := &projectConfig{
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
	return c, nil
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

// findProjectConfig reads dir/pier.toml, else ./pier.toml. It returns the
// config (empty if there is no file) and the path of the file it read ("" if
// none).
func findProjectConfig(dir string) (*projectConfig, string, error) {
	candidates := []string{filepath.Join(dir, projectFile)}
	if filepath.Clean(dir) != "." {
		candidates = append(candidates, projectFile)
	}
	for _, p := range candidates {
		data, err := os.ReadFile(p)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", p, err)
		}
		c, err := parseProjectConfig(p, data)
		if err != nil {
			return nil, "", err
		}
		return c, p, nil
	}
	return &projectConfig{}, "", nil
}
