package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/pierhq/pier/internal/logstream"
)

// ErrStreamEnded is returned (possibly wrapped) by StreamLogs when a
// stream that was established ends, cleanly (the server shuts down) or not
// (the connection broke): the caller may reconnect.
var ErrStreamEnded = errors.New("apiclient: the log stream ended")

// ErrNotEventStream is returned (wrapped) by StreamLogs when the server
// answered 200 with something other than an event stream: the URL is
// probably not a Pier admin API.
var ErrNotEventStream = errors.New("not an event stream")

// maxEventLine bounds one line of the event stream.
const maxEventLine = 1 << 20

// StreamLogs follows the live log of site (GET /sites/{site}/logs,
// Server-Sent Events) and calls fn with each event as it arrives, until ctx
// is done (then it returns ctx.Err()), fn returns an error (returned as
// is), or the stream ends: an error wrapping ErrStreamEnded. A request
// that fails returns a transport error (Retryable says whether to try
// again), an *Error for an error answer, or an error wrapping
// ErrNotEventStream for a 200 answer that is no event stream. Comments
// (keepalives) and the id and retry fields are ignored. An event named
// "dropped" (the reader was too slow and the server lost events) is
// handed to fn as an Event of kind logstream.KindDropped with the count
// in Dropped; other event names are ignored.
//
// The client's http.Client must not have a Timeout: the stream has no end.
func (c *Client) StreamLogs(ctx context.Context, site string, fn func(logstream.Event) error) error {
	path := "/sites/" + esc(site) + "/logs"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1"+path, nil)
	if err != nil {
		return fmt.Errorf("apiclient: GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err // *url.Error naming the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return parseError(resp)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("apiclient: GET %s: answer is %q, %w", path, ct, ErrNotEventStream)
	}
	err = readEvents(resp.Body, fn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readEvents parses an SSE stream (https://html.spec.whatwg.org/#event-stream-interpretation):
// data lines accumulate until a blank line dispatches the event.
func readEvents(r io.Reader, fn func(logstream.Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	sc.Split(scanSSELines)
	var data []byte
	name := ""
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if data == nil {
				name = ""
				continue
			}
			var e logstream.Event
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("apiclient: decoding log event %.100q: %w", data, err)
			}
			if name == logstream.KindDropped {
				e.Kind = logstream.KindDropped
			}
			data, name = nil, ""
			if err := fn(e); err != nil {
				return err
			}
			continue
		}
		if line[0] == ':' {
			continue // a comment
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			name = string(value)
			continue
		case "data":
		default:
			continue // id, retry: not used by Pier
		}
		if data == nil {
			data = []byte{}
		} else {
			data = append(data, '\n')
		}
		data = append(data, value...)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStreamEnded, err)
	}
	return ErrStreamEnded
}

// scanSSELines splits on LF, CRLF or a lone CR, as SSE allows.
func scanSSELines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	for i, b := range data {
		switch b {
		case '\n':
			return i + 1, data[:i], nil
		case '\r':
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if atEOF {
				return i + 1, data[:i], nil
			}
			return 0, nil, nil // need the next byte to know if it is CRLF
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
