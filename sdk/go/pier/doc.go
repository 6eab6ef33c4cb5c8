// Package pier is the Go guest SDK for Pier workers: it lets a tenant write
// an ordinary [net/http.Handler], compile it to WebAssembly and run it on a
// Pier edge beside the site's static assets.
//
//	//go:build wasip1
//
//	package main
//
//	import (
//		"net/http"
//
//		"github.com/pierhq/pier/sdk/go/pier"
//	)
//
//	func init() {
//		pier.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			if r.URL.Path != "/hello" {
//				pier.Next(w) // fall through to the static assets
//				return
//			}
//			w.Write([]byte("hello\n"))
//		}))
//	}
//
//	func main() {}
//
// Build it as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o worker.wasm .
//
// The module exports handle_request and imports the http-wasm handler ABI
// (module http_handler) plus Pier's own functions (module pier), exactly as
// docs/workers.md in the Pier repository specifies. The host instantiates it
// once and calls handle_request for many requests, one at a time.
//
// What the package sets up when it is imported:
//
//   - [net/http.DefaultTransport] (and so [net/http.DefaultClient] and
//     [net/http.Get]) sends requests through the host's fetch, counted
//     against the plan's subrequest limit; see [Transport].
//   - [log/slog]'s default logger and the [log] package write one line per
//     record to the site's live log stream (pier logs --site S).
//
// Beside them: [Var] and [Secret] read the site's variables and secrets,
// [Asset] its static assets, and [KV] the KV namespaces its deployment
// binds (pier.toml's [[kv]]): get, put with a TTL, delete, list by prefix,
// compare-and-swap and [Namespace.Update].
//
// # Notes
//
//   - In a -buildmode=c-shared build main.main is never executed: register
//     the handler with [Handle] from an init function.
//   - Responses are buffered and handed to the host when the handler
//     returns; [net/http.Flusher], hijacking and trailers are not supported.
//   - The instance is reused: package-level state survives between requests
//     of the same instance, but instances come and go, so never rely on it
//     for anything but caches.
//   - Outside the Pier host (any GOOS other than wasip1) the package still
//     builds so handlers can be unit-tested natively: [Log] writes to
//     standard error, [Var] and [Secret] find nothing, [Asset] and
//     [Transport] return [ErrNoHost], and every [KV] binding is an
//     in-memory namespace of the process.
//
// # Module and versions
//
// The package is a module of its own, github.com/pierhq/pier/sdk/go/pier,
// nested in the Pier repository. It requires nothing but the standard
// library, so a worker that imports it adds only this module to its go.sum,
// never the platform's dependencies. Its go.mod names the same Go version
// as Pier's: the oldest toolchain that builds it.
//
// Its versions are tagged with the module's directory as a prefix, as Go
// does for a module nested in a repository: the tag sdk/go/pier/v0.1.0 is
// version v0.1.0 of this module. A worker pins one with
//
//	go get github.com/pierhq/pier/sdk/go/pier@v0.1.0
//
// and a worker developed inside a checkout of the repository (such as
// examples/worker-go) uses the working copy with a replace directive:
//
//	replace github.com/pierhq/pier/sdk/go/pier => ../../sdk/go/pier
//
// The package may import only the standard library; nothing in the platform
// imports it (the host side of the ABI is hosting/worker).
package pier
