//go:build wasip1

// Command worker-go is an example Pier worker written with the Go SDK: a
// small JSON API under /api/ in front of the site's static assets.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/worker.wasm .
package main

import "github.com/pierhq/pier/sdk/go/pier"

func init() {
	// main is not run in a c-shared build: register from init.
	pier.Handle(newHandler())
}

func main() {}
