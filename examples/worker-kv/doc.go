// Command worker-kv is an example Pier worker that keeps state in KV: a
// counter in the namespace bound as STORE (pier.toml's [[kv]]). POST /count
// increments it, exactly once per request however many run at once
// (pier.Namespace.Update: get, then compare-and-swap, again on a
// conflict), and answers the new value; GET /count answers it.
//
// It is a module of its own, as a tenant's worker is: its go.mod requires
// only the SDK, taken from this checkout through a replace directive.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/worker.wasm .
//
// Built natively (go run . in this directory) it is a local development
// server whose STORE is in memory.
package main
