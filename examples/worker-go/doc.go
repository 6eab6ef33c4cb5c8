// Command worker-go is an example Pier worker written with the Go SDK
// (github.com/pierhq/pier/sdk/go/pier): a small JSON API under /api/ that
// falls through to the site's static assets (public/) for everything else.
//
// It is a module of its own, as a tenant's worker is: its go.mod requires
// only the SDK, taken from this checkout through a replace directive.
//
// Built for the Pier host (see README.md):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/worker.wasm .
//
// Built natively (go run . in this directory) it is a local development
// server: the same handler for /api/ and public/ for the rest.
package main
