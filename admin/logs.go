package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// streamLogs serves GET /api/v1/sites/{site}/logs: the site's live log
// events as Server-Sent Events, one "data: <JSON logstream.Event>" per
// event, a ": keepalive" comment every Config.LogKeepalive while idle. It
// ends when the client goes away or CloseStreams is called.
func (a *API) streamLogs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	site, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	if a.cfg.Logs == nil {
		return errLogsDisabled
	}
	// The server's WriteTimeout is meant for ordinary answers; a stream
	// lives as long as its client.
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("admin: clearing the write deadline of a log stream: %w", err)
	}
	events, cancel := a.cfg.Logs.Subscribe(site.Name)
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell nginx-like proxies not to buffer
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil // the client left
	}

	keepalive := time.NewTicker(a.cfg.LogKeepalive)
	defer keepalive.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.streamsDone:
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			data, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("admin: encoding log event: %w", err)
			}
			buf = append(append(append(buf[:0], "data: "...), data...), "\n\n"...)
			if _, err := w.Write(buf); err != nil {
				return nil
			}
		case <-keepalive.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// CloseStreams ends every open log stream, now and from now on: http.Server
// Shutdown waits for active requests, so cmd/pier registers it with
// RegisterOnShutdown. Safe to call more than once.
func (a *API) CloseStreams() {
	a.closeStreams.Do(func() { close(a.streamsDone) })
}
