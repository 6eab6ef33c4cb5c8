package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/internal/logstream"
)

func runLogs(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("logs", "pier logs --site S [--json]",
		`Print the live log of a site as it happens: one line per request (answered
by the site's worker or by its static files, redirects and 404s) and each
line the worker logged. Only what happens from now on is shown; if pier
cannot keep up, it says how many lines the server dropped. Ctrl-C stops. If the first connection fails (wrong --api,
server down, bad token, unknown site), pier says why and exits. If a stream
that worked is lost (the server restarts), pier reconnects, waiting a little
longer each time.`)
	o := addClientFlags(fs, true)
	site := fs.String("site", "", "`name` or id of the site")
	if _, err := parseArgs(fs, e, args, 0, 0); err != nil {
		return err
	}
	if *site == "" {
		return usagef("logs", "no site: pass --site S")
	}
	t := &logTail{client: o.client(e), out: e.stdout, notes: e.stderr, json: o.json}
	return t.run(ctx, *site)
}

// logTail follows a site's log stream, reconnecting when it breaks.
type logTail struct {
	client *apiclient.Client
	out    io.Writer // events
	notes  io.Writer // reconnection notes (stderr)
	json   bool      // print events as JSON lines
	// backoff: the first wait before reconnecting, doubled up to max;
	// defaults 500ms and 15s.
	base, max time.Duration
}

// run streams until ctx is done (a clean stop: nil) or the server refuses
// the stream for good (a 4xx answer, or no log stream on the server). A
// first connection that fails for any reason is an error at once
// (firstConnectError): only a stream that worked is worth waiting for.
func (t *logTail) run(ctx context.Context, site string) error {
	base, maxWait := t.base, t.max
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 15 * time.Second
	}
	wait := base
	worked := false // a stream was established once
	for {
		got := false
		err := t.client.StreamLogs(ctx, site, func(ev logstream.Event) error {
			got = true
			return t.print(ev)
		})
		if ctx.Err() != nil {
			return nil
		}
		up := got || errors.Is(err, apiclient.ErrStreamEnded)
		if !worked && !up {
			return firstConnectError(t.client.BaseURL(), site, err)
		}
		worked = true
		if !reconnectable(err) {
			return err
		}
		if up {
			wait = base // the stream was up: start again from a short wait
		}
		d := wait/2 + rand.N(wait/2+1)
		fmt.Fprintf(t.notes, "pier: log stream interrupted (%s); reconnecting in %s\n", describe(err), d.Round(time.Millisecond))
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		wait = min(wait*2, maxWait)
	}
}

// reconnectable says whether the stream may come back: it ended, a 5xx other than "no log stream here", or a transport failure. Not a
// 4xx answer (no such site, bad token), nor an answer that is no stream.
func reconnectable(err error) bool {
	var ae *apiclient.Error
	switch {
	case errors.Is(err, apiclient.ErrStreamEnded):
		return true
	case errors.As(err, &ae):
		return ae.Code != "logs_unavailable" && (ae.Status >= 500 || ae.Status == 429)
	}
	return apiclient.Retryable(err)
}

// firstConnectError says why the first connection to the log stream of
// site at api failed: the server cannot be reached, refused the token or
// the site, or is not a Pier admin API. It wraps err, so the hints of run
// (is the server running? which token?) still apply.
func firstConnectError(api, site string, err error) error {
	where := fmt.Sprintf("following the log of site %q at %s", site, api)
	var ae *apiclient.Error
	var ue *url.Error
	switch {
	case errors.As(err, &ae) && ae.Code == "":
		return fmt.Errorf("%s: %w (not a Pier admin API: does --api point at pier serve's admin listener?)", where, err)
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %w", where, err)
	case errors.Is(err, apiclient.ErrNotEventStream):
		return fmt.Errorf("%s: not a Pier admin API (%w): does --api point at pier serve's admin listener?", where, err)
	case errors.As(err, &ue):
		return fmt.Errorf("%s: %w", where, ue.Err) // the URL is said once
	}
	return fmt.Errorf("%s: %w", where, err)
}

func describe(err error) string {
	if err == apiclient.ErrStreamEnded {
		return "the server ended it"
	}
	return err.Error()
}

// print writes one event: a JSON line, or
//
//	2026-11-22T18:00:00Z GET /api/x 200 3.1ms cpu=0.4ms sub=1 ok
//	2026-11-22T18:00:00Z log: a line the worker logged
//	2026-11-22T18:00:00Z GET /logo.png 200 0.2ms 5120B static
//	2026-11-22T18:00:00Z … 12 lines dropped (reader too slow)
func (t *logTail) print(ev logstream.Event) error {
	if t.json {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = t.out.Write(append(b, '\n'))
		return err
	}
	_, err := io.WriteString(t.out, formatEvent(ev)+"\n")
	return err
}

func formatEvent(ev logstream.Event) string {
	ts := ev.Time.UTC().Format(time.RFC3339)
	switch ev.Kind {
	case logstream.KindLog:
		return ts + " log: " + oneLine(ev.Message)
	case logstream.KindInvocation:
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s %d %sms cpu=%sms sub=%d %s", ts, ev.Method, ev.Path, ev.Status,
			ms(ev.DurationMs), ms(ev.CPUMs), ev.SubRequests, firstNonEmpty(ev.Outcome, "ok"))
		if ev.KVReads+ev.KVWrites > 0 {
			fmt.Fprintf(&b, " kv=%dr/%dw/%dB", ev.KVReads, ev.KVWrites, ev.KVBytes)
		}
		if ev.Message != "" {
			b.WriteString(": " + oneLine(ev.Message))
		}
		return b.String()
	case logstream.KindSubrequest:
		return formatSubrequest(ts, ev)
	case logstream.KindRequest:
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s %d %sms %dB %s", ts, ev.Method, ev.Path, ev.Status, ms(ev.DurationMs), ev.BytesOut, ev.Outcome)
		if ev.Message != "" {
			b.WriteString(": " + oneLine(ev.Message))
		}
		return b.String()
	case logstream.KindDropped:
		if ev.Dropped == 1 {
			return ts + " … 1 line dropped (reader too slow)"
		}
		return fmt.Sprintf("%s … %d lines dropped (reader too slow)", ts, ev.Dropped)
	}
	return ts + " " + ev.Kind + ": " + oneLine(ev.Message)
}

// formatSubrequest writes a fetch and what the operator's outbound
// worker decided:
//
//	2026-11-22T18:00:00Z fetch GET https://api.example.com/x 403 1.2ms cpu=0.1ms answered
func formatSubrequest(ts string, ev logstream.Event) string {
	s := fmt.Sprintf("%s fetch %s %s %d %sms cpu=%sms %s", ts, ev.Method, ev.Path, ev.Status, ms(ev.DurationMs), ms(ev.CPUMs), ev.Outcome)
	if ev.Message != "" {
		s += ": " + oneLine(ev.Message)
	}
	return s
}

// ms formats milliseconds with one decimal.
func ms(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// oneLine keeps a guest's message on one terminal line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}
