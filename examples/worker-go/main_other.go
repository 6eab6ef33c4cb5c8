//go:build !wasip1

package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
)

// main serves the worker natively for local development: /api/ from the
// worker's handler, everything else from the public directory, standing in
// for pier.Next's fall-through to the static assets.
func main() {
	addr := flag.String("addr", "127.0.0.1:8787", "listen address")
	public := flag.String("public", "public", "static assets directory")
	flag.Parse()
	api, static := newHandler(), http.FileServer(http.Dir(*public))
	log.Printf("worker-go: listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
			return
		}
		static.ServeHTTP(w, r)
	})))
}
