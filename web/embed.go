// Package web owns the Pier console: its TypeScript source (src/, built
// by Vite into dist/console) and the Go handler that serves the built
// files from the binary. Only cmd/ imports it; it imports nothing of
// Pier's. A binary built without the console (no Node, so no
// dist/console) serves dist/placeholder.html, which says how to build it.
package web

import (
	"embed"
	"io/fs"
)

// dist holds the committed placeholder and, after `make web`, the built
// console in dist/console (git-ignored).
//
//go:embed dist
var dist embed.FS

// Files returns the console's built files, rooted at its index.html, or
// nil when the binary was built without them.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist/console")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil
	}
	return sub
}

// placeholder is the page served when the console is not built.
func placeholder() []byte {
	b, err := dist.ReadFile("dist/placeholder.html")
	if err != nil {
		panic("web: the committed placeholder is missing: " + err.Error())
	}
	return b
}
