//go:build wasip1

// Command cgiguest is a WAGI worker written with Go's own net/http/cgi,
// built with GOOS=wasip1 at test time: it answers with what it received.
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
)

func main() {
	err := cgi.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintln(os.Stderr, "serving", r.URL.Path)
		w.Header().Set("X-Go-Cgi", "1")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "%s %s?%s host=%s x=%s greeting=%s body=%s",
			r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Get("X-Test"), os.Getenv("GREETING"), body)
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
