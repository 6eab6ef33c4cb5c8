// Command worker-go is an example Pier worker written with the Go SDK
// (github.com/pierhq/pier/hosting/worker/sdk): a small JSON API under /api/
// that falls through to the site's static assets (public/) for everything
// else.
//
// Built for the Pier host (see README.md):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/worker.wasm .
//
// Built natively (go run ./examples/worker-go) it is a local development
// server: the same handler for /api/ and public/ for the rest.
package main
