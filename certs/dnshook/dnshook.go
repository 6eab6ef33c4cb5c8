// Package dnshook is a DNS provider for ACME DNS-01 challenges that
// delegates record changes to an operator's webhook, so Pier does not link
// every DNS vendor's SDK. It speaks the protocol of lego's "httpreq"
// provider (default mode), so existing hooks work unchanged:
//
//	POST <url>/present  {"fqdn":"_acme-challenge.example.com.","value":"<TXT value>"}
//	POST <url>/cleanup  {"fqdn":"_acme-challenge.example.com.","value":"<TXT value>"}
//
// with Content-Type: application/json and, when configured, HTTP basic
// authentication. Any 2xx answer means done; anything else fails the
// challenge with the status and the start of the body in the error. The
// hook must support several TXT values on one name at once (a certificate
// for example.com and *.example.com presents two) and remove only the
// value it is asked to clean up.
//
// Provider implements the libdns interfaces certmagic's DNS01Solver needs
// (RecordAppender, RecordDeleter). Only TXT records are supported. certs
// and cmd/pier may import it.
package dnshook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/libdns/libdns"
)

// DefaultTimeout bounds one webhook call when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxErrorBody is how much of a failed answer's body an error quotes.
const maxErrorBody = 512

// Config configures a Provider. Zero fields take the defaults documented
// on them.
type Config struct {
	// URL is the hook's base URL (http or https); requests go to
	// URL/present and URL/cleanup. Required.
	URL string
	// Username and Password, when Username is set, are sent with HTTP
	// basic authentication.
	Username, Password string
	// Timeout bounds one call (connection, request and answer). Default:
	// DefaultTimeout.
	Timeout time.Duration
	// Client sends the requests. Default: a client with no other timeout
	// than Timeout, on a transport of its own (so that what closes
	// http.DefaultTransport's connections, such as an httptest server
	// shutting down, cannot break a call in flight).
	Client *http.Client
}

// Provider creates and removes ACME challenge TXT records through the
// webhook. It is safe for concurrent use.
type Provider struct {
	cfg  Config
	base string // URL without a trailing slash
}

// New checks cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dnshook: webhook URL %q is not an http(s) URL", redact(cfg.URL))
	}
	if u.User != nil {
		return nil, errors.New("dnshook: put the webhook's credentials in Username and Password, not in the URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dnshook: webhook URL %q must not have a query or fragment", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Provider{cfg: cfg, base: strings.TrimSuffix(cfg.URL, "/")}, nil
}

// message is the body of a present or cleanup call (lego httpreq).
type message struct {
	FQDN  string `json:"fqdn"`
	Value string `json:"value"`
}

// AppendRecords presents each TXT record (names relative to zone) through
// URL/present and returns the records presented. It stops at the first
// failure.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.each(ctx, "present", zone, recs)
}

// DeleteRecords removes each TXT record through URL/cleanup and returns
// the records removed. It stops at the first failure.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.each(ctx, "cleanup", zone, recs)
}

func (p *Provider) each(ctx context.Context, action, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	done := make([]libdns.Record, 0, len(recs))
	for _, rec := range recs {
		rr := rec.RR()
		if !strings.EqualFold(rr.Type, "TXT") {
			return done, fmt.Errorf("dnshook: %s %s: only TXT records are supported, not %s", action, rr.Name, rr.Type)
		}
		fqdn := libdns.AbsoluteName(rr.Name, zone)
		if !strings.HasSuffix(fqdn, ".") {
			fqdn += "."
		}
		if err := p.call(ctx, action, message{FQDN: fqdn, Value: rr.Data}); err != nil {
			return done, err
		}
		done = append(done, rec)
	}
	return done, nil
}

// call POSTs msg to URL/action and maps a non-2xx answer to an error
// quoting the status and the start of the body.
func (p *Provider) call(ctx context.Context, action string, msg message) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("dnshook: %s %s: %w", action, msg.FQDN, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	endpoint := p.base + "/" + action
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("dnshook: %s %s: %w", action, msg.FQDN, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/plain, */*")
	if p.cfg.Username != "" {
		req.SetBasicAuth(p.cfg.Username, p.cfg.Password)
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("dnshook: %s %s: POST %s: no answer within %s", action, msg.FQDN, endpoint, p.cfg.Timeout)
		}
		return fmt.Errorf("dnshook: %s %s: POST %s: %w", action, msg.FQDN, endpoint, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	text := strings.TrimSpace(string(snippet))
	if len(snippet) > maxErrorBody {
		text = strings.TrimSpace(string(snippet[:maxErrorBody])) + "…"
	}
	if text == "" {
		text = "(empty body)"
	}
	hint := ""
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		hint = " (check the webhook user and password)"
	}
	return fmt.Errorf("dnshook: %s %s: POST %s answered %s%s: %s", action, msg.FQDN, endpoint, resp.Status, hint, text)
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Interface guards.
var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)
