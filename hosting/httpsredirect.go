package hosting

import (
	"net/http"
	"strings"
)

// RedirectToHTTPS wraps the plain-HTTP edge when TLS is on
// (docs/architecture.md §2): a request for a custom domain that isHTTPS says is served over TLS
// gets a 308 to the same URL on https (httpsPort is ":8443", or "" for
// 443); ownership and ACME challenge paths are exempt, and every other
// request goes to next unchanged.
func RedirectToHTTPS(next http.Handler, isHTTPS func(host string) bool, httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") || strings.HasPrefix(r.URL.Path, "/.well-known/pier-challenge/") {
			next.ServeHTTP(w, r)
			return
		}
		host, ok := normalizeHost(r.Host)
		if !ok || !isHTTPS(host) {
			next.ServeHTTP(w, r)
			return
		}
		target := "https://" + host + httpsPort + r.URL.RequestURI()
		w.Header().Set("Location", target)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusPermanentRedirect)
		if r.Method != http.MethodHead {
			w.Write([]byte("moved to " + target + "\n"))
		}
	})
}
