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
		Handler:           h,
		ReadHeaderTimeout: ServerReadHeaderTimeout,
		ReadTimeout:       ServerReadTimeout,
		WriteTimeout:      ServerWriteTimeout,
		IdleTimeout:       ServerIdleTimeout,
		MaxHeaderBytes:    ServerMaxHeaderBytes,
	}
}
