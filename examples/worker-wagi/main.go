// Command worker-wagi is an example Pier worker that uses no Pier SDK at
// all: a standard Go program serving one request CGI-style with the
// standard library's net/http/cgi. Pier runs a WASI command like this one
// as a WAGI worker (docs/workers.md §3): a fresh instance per request, the
// CGI variables and the deployment's vars in the environment, the body on
// stdin, the response on stdout and stderr to the site's log stream.
//
//	GOOS=wasip1 GOARCH=wasm go build -o build/worker.wasm .
//
// Nothing in it is specific to WebAssembly: built natively, it is an
// ordinary CGI program.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"sort"
	"strings"
)

// maxEcho is the largest body /wagi/echo returns.
const maxEcho = 1 << 20

func main() {
	log.SetFlags(0)
	if err := cgi.Serve(newHandler()); err != nil {
		log.Printf("worker-wagi: %v", err)
		os.Exit(1)
	}
}

func newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /wagi/hello", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			name = os.Getenv("GREETING_NAME") // a deployment var
		}
		if name == "" {
			name = "world"
		}
		log.Printf("hello %s", name) // stderr: the site's log stream
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello, %s from WAGI\n", name)
	})
	mux.HandleFunc("POST /wagi/echo", func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		if _, err := io.Copy(w, http.MaxBytesReader(w, r.Body, maxEcho)); err != nil {
			log.Printf("echo: %v", err)
		}
	})
	mux.HandleFunc("GET /wagi/env", func(w http.ResponseWriter, r *http.Request) {
		// The CGI meta-variables Pier set for this request.
		var keys []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if isCGIVar(k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, k := range keys {
			fmt.Fprintf(w, "%s=%s\n", k, os.Getenv(k))
		}
	})
	return mux
}

// isCGIVar reports whether k is an RFC 3875 meta-variable or a request
// header passed as one.
func isCGIVar(k string) bool {
	switch k {
	case "REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
		"SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "REMOTE_ADDR",
		"REMOTE_HOST", "SCRIPT_NAME", "GATEWAY_INTERFACE", "REQUEST_URI":
		return true
	}
	return strings.HasPrefix(k, "HTTP_") && k != "HTTP_AUTHORIZATION" && k != "HTTP_COOKIE"
}
