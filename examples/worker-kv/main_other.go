//go:build !wasip1

package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/pierhq/pier/sdk/go/pier"
)

// main serves the worker natively for local development; outside the
// Pier host the SDK's KV namespaces live in memory.
func main() {
	addr := flag.String("addr", "127.0.0.1:8788", "listen address")
	flag.Parse()
	log.Printf("worker-kv: listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, newHandler(pier.KV("STORE"))))
}
