package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pierhq/pier/internal/project"
)

// projectFile is the name of a project's configuration file.
const projectFile = project.File

// projectConfig is a parsed pier.toml (see project.Config).
type projectConfig = project.Config

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
		c, err := project.Parse(p, data)
		if err != nil {
			return nil, "", err
		}
		return c, p, nil
	}
	return &projectConfig{}, "", nil
}
