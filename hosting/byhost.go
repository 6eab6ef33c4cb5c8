package hosting

import (
	"net/http"
	"time"

	"github.com/pierhq/pier/internal/dnsname"
)

// HostRoute sends the requests for one hostname to their own handler on
// the edge's listeners: the console host (pier serve --console-host),
// whose handler is the admin API and console. The edge's server limits
// are for visitors (small request bodies, 30 s to read one); a request
// for the host may take the handler's own ReadTimeout and WriteTimeout
// instead, so that an upload through the public console address is not
// cut off.
type HostRoute struct {
	Host         string        // normalised hostname (lowercase, punycode)
	Handler      http.Handler  // what serves it
	ReadTimeout  time.Duration // per request; 0 keeps the server's
	WriteTimeout time.Duration // per request; 0 keeps the server's
}

// RouteHost returns a handler that serves r's requests with r.Handler and
// every other request with next. A zero r.Host routes nothing.
func RouteHost(next http.Handler, r HostRoute) http.Handler {
	if r.Host == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host, ok := dnsname.NormalizeHost(req.Host)
		if !ok || host != r.Host {
			next.ServeHTTP(w, req)
			return
		}
		rc := http.NewResponseController(w)
		now := time.Now()
		if r.ReadTimeout > 0 {
			rc.SetReadDeadline(now.Add(r.ReadTimeout))
		}
		if r.WriteTimeout > 0 {
			rc.SetWriteDeadline(now.Add(r.WriteTimeout))
		}
		r.Handler.ServeHTTP(w, req)
	})
}
