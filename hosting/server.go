package hosting

import (
	"net/http"
	"time"
)

// Server limits set by NewServer.
const (
	// ServerReadHeaderTimeout bounds reading a request's headers.
	ServerReadHeaderTimeout = 5 * time.Second
	// ServerReadTimeout bounds reading a whole request (the edge takes no
	// bodies beyond small ones).
	ServerReadTimeout = 30 * time.Second
	// ServerWriteTimeout bounds writing a response: 25 MiB, the largest
	// file, reaches a client reading at ~150 KiB/s (≈1.2 Mbit/s).
	ServerWriteTimeout = 3 * time.Minute
	// ServerIdleTimeout bounds a keep-alive connection between requests.
	ServerIdleTimeout = 60 * time.Second
	// ServerMaxHeaderBytes bounds the request line and headers.
	ServerMaxHeaderBytes = 16 << 10
)

// NewServer returns an http.Server for the edge on addr with every timeout
// and the header size limit set, so slow or abusive clients cannot hold
// connections open. The caller starts it (ListenAndServe) and shuts it
// down.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           CloseAfterChunked(h),
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		ReadTimeout:       ServerReadTimeout,
		WriteTimeout:      ServerWriteTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
	}
}

// CloseAfterChunked closes the connection after answering any HTTP/1.x
// request whose body is chunked (Transfer-Encoding). net/http honours
// Transfer-Encoding over Content-Length and drops the latter before a
// handler sees the request, so a request carrying both cannot be told
// apart from one carrying only Transfer-Encoding; RFC 9112 §6.1 requires
// closing the connection after such a request, because a proxy in front
// that framed it by Content-Length would otherwise have smuggled what
// follows the chunked body into a second request. Closing after every
// chunked request body covers that case; browsers send Content-Length, so
// keep-alive is lost only for streamed uploads, which cost one new
// connection each.
func CloseAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 && r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
