package hosting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/hosting/egress"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/logstream"
)

// The operator's outbound worker (docs/workers.md, "The outbound
// worker"): an http-wasm guest the operator runs for every fetch of
// every site's worker, before the egress policy. It sees the outgoing
// request as its own request, and the tenant, site and URL as variables.
// It answers the fetch itself (handle_request returns next=0: a refusal,
// a mock, a cached copy) or lets it continue (next=1): the request as it
// left it goes through the egress transport of the tenant's plan, so the
// static policy still applies. Its failures fail that fetch only, with
// the guest's network error, and are never the tenant's invocation.

// OutboundWorker runs the operator's outbound worker; *worker.Worker
// satisfies it (created with OutboundLimits). Serve is called once per
// fetch, concurrently.
type OutboundWorker interface {
	Serve(rw http.ResponseWriter, r *http.Request, host worker.Host, next http.Handler) worker.Result
}

// The variables the outbound worker sees for each fetch, through
// pier.get_var and http_handler.get_config, over its own.
const (
	OutboundVarTenant   = "PIER_TENANT"    // the tenant's name
	OutboundVarTenantID = "PIER_TENANT_ID" // the tenant's id
	OutboundVarSite     = "PIER_SITE"      // the site's name
	OutboundVarPlan     = "PIER_PLAN"      // the tenant's plan
	OutboundVarURL      = "PIER_URL"       // the fetch's absolute URL, as the site's worker asked for it
)

// DefaultOutboundCPU is the outbound worker's CPU budget per fetch when
// the operator sets none.
const DefaultOutboundCPU = 50 * time.Millisecond

// outboundMaxBody bounds the request body the outbound worker may pass
// on: the size of a fetch's own body (worker.Limits.MaxRequestBody's
// default).
const outboundMaxBody = 16 << 20

// OutboundLimits are the limits of an outbound worker with cpu of CPU
// time per fetch (0: DefaultOutboundCPU): no fetches of its own, and an
// answer no larger than a fetched response may be
// (egress.DefaultMaxResponseBytes). The other limits are the runtime's
// defaults.
func OutboundLimits(cpu time.Duration) worker.Limits {
	if cpu <= 0 {
		cpu = DefaultOutboundCPU
	}
	return worker.Limits{
		CPU:             cpu,
		SubRequests:     -1,
		MaxRequestBody:  outboundMaxBody,
		MaxResponseBody: egress.DefaultMaxResponseBytes,
	}
}

// errOutboundFailed: the outbound worker trapped, ran out of CPU or
// answered nothing valid. The runtime reports it to the site's worker as
// a network error.
var errOutboundFailed = errors.New("hosting: the outbound worker failed")

// outboundFor is the outbound worker of plan's tenants: the plan's own
// (Config.OutboundByPlan, nil if it has none), else the node's; nil: none.
func (e *Edge) outboundFor(plan string) OutboundWorker {
	if ow, ok := e.outbounds[plan]; ok {
		return ow
	}
	return e.outbound
}

// fetchOutbound runs req through ow, the outbound worker of the tenant's
// plan, and, if it lets the request continue, through the plan's egress
// transport.
func (h *requestHost) fetchOutbound(ow OutboundWorker, req *http.Request) (*http.Response, error) {
	e := h.e
	start := e.now()
	oc := &outboundCall{h: h, url: req.URL.String()}
	rec := newRecorder()
	res := ow.Serve(rec, req, oc, oc)

	var (
		resp    *http.Response
		err     error
		outcome string
		status  int
		msg     string
	)
	switch {
	case res.Code != "" || res.Detail != "" && res.Outcome != worker.OutcomeExceededMemory:
		// Failed before answering (Code), or in handle_response after
		// it let the request continue (Detail, no Code): nothing is sent.
		outcome, msg = logstream.OutcomeFailed, "outbound "+res.Detail
		err = fmt.Errorf("%w: %s", errOutboundFailed, res.Detail)
		// The operator's code, not the tenant's: the platform's log.
		e.log.Warn("hosting: outbound worker failed", "site", h.site, "outcome", res.Outcome, "detail", res.Detail)
	case oc.continued:
		// Sent once the outbound worker's instance is back in its pool:
		// a slow upstream holds none.
		outcome = logstream.OutcomeContinued
		err = oc.err
		if err == nil {
			if sent := oc.out.URL.String(); sent != oc.url {
				msg = "continued to " + sent
			}
			resp, err = e.transport(h.plan).RoundTrip(oc.out)
		}
		if err != nil {
			msg = err.Error()
		} else {
			status = resp.StatusCode
		}
	default:
		outcome = logstream.OutcomeAnswered
		resp = rec.response(req)
		status = resp.StatusCode
	}
	if e.logs != nil && e.logs.HasSubscribers(h.site) {
		end := e.now()
		e.logs.Publish(h.site, logstream.Event{
			Time:       end,
			Site:       h.site,
			Kind:       logstream.KindSubrequest,
			Method:     req.Method,
			Path:       oc.url,
			Status:     status,
			DurationMs: float64(end.Sub(start)) / float64(time.Millisecond),
			CPUMs:      float64(res.CPU) / float64(time.Millisecond),
			Outcome:    outcome,
			Message:    msg,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("hosting: fetch of site %q: %w", h.site, err)
	}
	return resp, nil
}

// outboundCall is one fetch through the outbound worker: its worker.Host
// (log lines to the site's stream, no fetches, no assets, the fetch's
// variables) and its next handler, which sends the request on.
type outboundCall struct {
	h    *requestHost
	url  string // the fetch's URL as the site's worker asked for it
	vars map[string]string

	// Set by ServeHTTP when the outbound worker lets the request
	// continue: the request to send, or why there is none.
	continued bool
	out       *http.Request
	err       error
}

// RequestVars gives the outbound worker the fetch's tenant, site, plan
// and URL (worker.RequestVars).
func (oc *outboundCall) RequestVars() map[string]string {
	if oc.vars == nil {
		h := oc.h
		oc.vars = map[string]string{
			OutboundVarTenant:   h.tenant,
			OutboundVarTenantID: h.d.tenantID,
			OutboundVarSite:     h.site,
			OutboundVarPlan:     h.plan,
			OutboundVarURL:      oc.url,
		}
	}
	return oc.vars
}

// Fetch refuses: the outbound worker makes no fetches of its own (its
// limits allow none, so the runtime does not even ask).
func (oc *outboundCall) Fetch(context.Context, *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("hosting: the outbound worker may not fetch: %w", worker.ErrEgressDenied)
}

// Asset finds nothing: the outbound worker has no deployment.
func (oc *outboundCall) Asset(_ context.Context, path string) (*http.Response, error) {
	return nil, fmt.Errorf("hosting: the outbound worker has no asset %q: %w", path, worker.ErrAssetNotFound)
}

// Log publishes the outbound worker's line to the stream of the site
// whose fetch it is handling, marked as its own.
func (oc *outboundCall) Log(line string) {
	oc.h.Log("outbound: " + line)
}

// ServeHTTP is the outbound worker's next handler: it takes the request
// as the guest left it (method, headers, URI, body; a changed Host header
// changes the destination), which fetchOutbound sends through the egress
// transport of the tenant's plan once the guest is done. It writes no
// response: a handle_response the guest exports runs before the request
// is sent and sees none.
func (oc *outboundCall) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	oc.continued = true
	oc.out, oc.err = outgoing(r)
}

// outgoing builds the client request the outbound worker let continue:
// its scheme is the fetch's; its host is the Host header when the guest
// set one, else the fetch's; its body is read whole (it is small: a
// fetch's body is bounded), so the transport never reads what the
// runtime owns.
func outgoing(r *http.Request) (*http.Request, error) {
	if r.URL == nil || r.URL.Host == "" {
		return nil, fmt.Errorf("%w: no destination", errOutboundFailed)
	}
	u := *r.URL
	if r.Host != "" {
		u.Host = r.Host
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, outboundMaxBody+1))
		if err != nil {
			return nil, fmt.Errorf("%w: reading the request body: %w", errOutboundFailed, err)
		}
		if len(b) > outboundMaxBody {
			return nil, fmt.Errorf("%w: the request body exceeds %d bytes", errOutboundFailed, outboundMaxBody)
		}
		body = b
	}
	target := u.String()
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
	if err != nil || out.URL.Host != u.Host || !strings.HasPrefix(target, u.Scheme+"://") {
		return nil, fmt.Errorf("%w: invalid destination %q", errOutboundFailed, u.Host)
	}
	if len(body) == 0 {
		out.Body, out.GetBody, out.ContentLength = http.NoBody, nil, 0
	}
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	delete(out.Header, "Host")
	return out, nil
}

var (
	_ worker.Host        = (*outboundCall)(nil)
	_ worker.RequestVars = (*outboundCall)(nil)
	_ http.Handler       = (*outboundCall)(nil)
	_ OutboundWorker     = (*worker.Worker)(nil)
)
