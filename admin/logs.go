package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/internal/logstream"
)

// streamLogs serves GET /api/v1/sites/{site}/logs: the site's live log
// events as Server-Sent Events, one "data: <JSON logstream.Event>" per
// event, a ": keepalive" comment every Config.LogKeepalive while idle.
// When the client fell so far behind that events were dropped, the next
// event is preceded by "event: dropped" with data {"kind":"dropped",
// "dropped":N,…}. It ends when the client goes away or CloseStreams is
// called.
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
	sub := a.cfg.Logs.Subscribe(site.Name)
	defer sub.Close()

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
		case <-sub.Ready():
			buf = buf[:0]
			for {
				e, dropped, ok := sub.Next()
				if !ok {
					break
				}
				if dropped > 0 {
					if buf, err = appendEvent(buf, "dropped", logstream.Event{
						Time: a.cfg.Now(), Site: site.Name, Kind: logstream.KindDropped, Dropped: dropped,
					}); err != nil {
						return err
					}
				}
				if buf, err = appendEvent(buf, "", e); err != nil {
					return err
				}
			}
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

// appendEvent appends one SSE frame of e to buf, named name unless "".
func appendEvent(buf []byte, name string, e logstream.Event) ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return buf, fmt.Errorf("admin: encoding log event: %w", err)
	}
	if name != "" {
		buf = append(append(append(buf, "event: "...), name...), '\n')
	}
	return append(append(append(buf, "data: "...), data...), "\n\n"...), nil
}

// CloseStreams ends every open log stream, now and from now on: http.Server
// Shutdown waits for active requests, so cmd/pier registers it with
// RegisterOnShutdown. Safe to call more than once.
func (a *API) CloseStreams() {
	a.closeStreams.Do(func() { close(a.streamsDone) })
}
