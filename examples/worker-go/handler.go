package main

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pierhq/pier/sdk/go/pier"
)

// maxEcho is the largest JSON body /api/echo accepts.
const maxEcho = 64 << 10

func newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/ping", ping)
	mux.HandleFunc("GET /api/hello", hello)
	mux.HandleFunc("GET /api/time", now)
	mux.HandleFunc("POST /api/echo", echo)
	mux.HandleFunc("GET /api/fetch", fetch)
	mux.HandleFunc("GET /api/asset", asset)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody("not_found", "no such API endpoint"))
	})
	// Everything else is the site's static assets.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { pier.Next(w) })
	return mux
}

// ping is the smallest possible answer: the hello-world of the dispatch
// benchmark (make bench-worker).
func ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("pong\n"))
}

func hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name, _ = pier.Var("GREETING_NAME")
	}
	if name == "" {
		name = "world"
	}
	slog.Info("hello", "name", name)
	writeJSON(w, http.StatusOK, map[string]string{"hello": name})
}

func now(w http.ResponseWriter, r *http.Request) {
	t := time.Now().UTC()
	writeJSON(w, http.StatusOK, map[string]any{"time": t.Format(time.RFC3339Nano), "unix": t.Unix()})
}

func echo(w http.ResponseWriter, r *http.Request) {
	var v any
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEcho))
	if err := dec.Decode(&v); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("too_large", "the body is over "+strconv.Itoa(maxEcho)+" bytes"))
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody("bad_json", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"echo": v})
}

// maxRepeat caps /api/fetch's n.
const maxRepeat = 100

// fetch fetches ?url= through the host, n times (default 1) to show the
// plan's subrequest limit: the egress policy and the limit apply, and their
// refusals are ordinary Go errors.
func fetch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	target := q.Get("url")
	if target == "" {
		writeJSON(w, http.StatusBadRequest, errorBody("missing_url", "pass ?url=https://…"))
		return
	}
	repeat := 1
	if s := q.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRepeat {
			writeJSON(w, http.StatusBadRequest, errorBody("bad_n", "n is 1 to "+strconv.Itoa(maxRepeat)))
			return
		}
		repeat = n
	}
	start := time.Now()
	var status int
	var contentType string
	var bytes int64
	for i := range repeat {
		resp, err := http.Get(target)
		if err != nil {
			code, ecode := http.StatusBadGateway, "fetch_failed"
			switch {
			case errors.Is(err, pier.ErrEgressDenied):
				code, ecode = http.StatusForbidden, "egress_denied"
			case errors.Is(err, pier.ErrSubrequestLimit):
				code, ecode = http.StatusTooManyRequests, "subrequest_limit"
			case errors.Is(err, pier.ErrInvalidRequest):
				code, ecode = http.StatusBadRequest, "invalid_url"
			}
			slog.Warn("fetch failed", "url", target, "attempt", i+1, "err", err)
			body := errorBody(ecode, err.Error())
			body["fetched"] = i
			writeJSON(w, code, body)
			return
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			writeJSON(w, http.StatusBadGateway, errorBody("fetch_failed", err.Error()))
			return
		}
		status, contentType, bytes = resp.StatusCode, resp.Header.Get("Content-Type"), n
	}
	slog.Info("fetched", "url", target, "n", repeat, "status", status, "bytes", bytes)
	writeJSON(w, http.StatusOK, map[string]any{
		"url":         target,
		"fetched":     repeat,
		"status":      status,
		"contentType": contentType,
		"bytes":       bytes,
		"ms":          time.Since(start).Milliseconds(),
	})
}

// asset reads one of the deployment's own static assets through the ASSETS
// binding: no subrequest, no network.
func asset(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	if path == "" {
		path = "/" // the home page (/index.html answers a redirect to /)
	}
	resp, err := pier.Asset(path)
	if errors.Is(err, pier.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, errorBody("asset_not_found", path))
		return
	}
	if errors.Is(err, pier.ErrInvalidRequest) {
		writeJSON(w, http.StatusBadRequest, errorBody("invalid_path", "path must be an absolute path of the site, like /style.css"))
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody("asset_failed", err.Error()))
		return
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody("asset_failed", err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"path":        path,
		"status":      resp.StatusCode,
		"contentType": resp.Header.Get("Content-Type"),
		"bytes":       n,
	})
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
