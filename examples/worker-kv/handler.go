package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/pierhq/pier/sdk/go/pier"
)

// counterKey is the key of the counter in the namespace.
const counterKey = "count"

func newHandler(kv pier.Namespace) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		v, err := kv.Get(counterKey)
		switch {
		case errors.Is(err, pier.ErrKeyNotFound):
			writeCount(w, 0)
		case err != nil:
			kvFailed(w, err)
		default:
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				kvFailed(w, err)
				return
			}
			writeCount(w, n)
		}
	})
	mux.HandleFunc("POST /count", func(w http.ResponseWriter, r *http.Request) {
		var n int64
		_, err := kv.Update(counterKey, func(old []byte, exists bool) ([]byte, error) {
			n = 0
			if exists {
				var err error
				if n, err = strconv.ParseInt(string(old), 10, 64); err != nil {
					return nil, err
				}
			}
			n++
			return strconv.AppendInt(nil, n, 10), nil
		})
		if err != nil {
			kvFailed(w, err)
			return
		}
		writeCount(w, n)
	})
	// Everything else is the site's static assets.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { pier.Next(w) })
	return mux
}

func writeCount(w http.ResponseWriter, n int64) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]int64{"count": n})
}

// kvFailed answers a KV error: 503 when a retry may succeed (the store was
// unavailable, or the request's KV operations ran out under contention),
// 500 otherwise (no STORE binding, a corrupt value).
func kvFailed(w http.ResponseWriter, err error) {
	slog.Error("count", "err", err)
	status, code := http.StatusInternalServerError, "kv_error"
	switch {
	case errors.Is(err, pier.ErrKVUnavailable), errors.Is(err, pier.ErrKVOpLimit):
		status, code = http.StatusServiceUnavailable, "kv_unavailable"
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, pier.ErrKVUnbound):
		code = "kv_unbound"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": err.Error()}})
}
