package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// UsageCounters is one bucket's (or a window's) usage: requests by status
// class ("1xx"…"5xx"), response body bytes, worker invocations by outcome
// ("ok", "exception", "exceededCpu"…), the same without "ok" as
// violations, the workers' CPU time in milliseconds, their subrequests and
// their KV reads, writes and bytes.
type UsageCounters struct {
	Requests    map[string]int64 `json:"requests"`
	BytesOut    int64            `json:"bytes_out"`
	Invocations map[string]int64 `json:"invocations"`
	Violations  map[string]int64 `json:"violations"`
	CPUMillis   float64          `json:"cpu_ms"`
	SubRequests int64            `json:"subrequests"`
	KVReads     int64            `json:"kv_reads"`
	KVWrites    int64            `json:"kv_writes"`
	KVBytes     int64            `json:"kv_bytes"`
}

// UsagePoint is one bucket of a usage series; Time is its start.
type UsagePoint struct {
	Time time.Time `json:"time"`
	UsageCounters
}

// Usage is the answer of the usage endpoints: every bucket from From to
// To (zeros included, oldest first) and the window's totals. Site or
// Tenant names what it is about.
type Usage struct {
	Site   string        `json:"site,omitempty"`
	Tenant string        `json:"tenant,omitempty"`
	From   time.Time     `json:"from"`
	To     time.Time     `json:"to"`
	Step   string        `json:"step"`
	Points []UsagePoint  `json:"points"`
	Totals UsageCounters `json:"totals"`
}

// UsageQuery selects a usage series. Zero fields take the server's
// defaults: To now, From 24 h before To, Step by the window's length.
type UsageQuery struct {
	From, To time.Time
	Step     string // "1m", "5m", "1h", "1d"…
}

func (q UsageQuery) values() url.Values {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.Step != "" {
		v.Set("step", q.Step)
	}
	return v
}

// SiteUsage returns the usage series of a site (id or name).
func (c *Client) SiteUsage(ctx context.Context, site string, q UsageQuery) (*Usage, error) {
	var u Usage
	err := c.do(ctx, request{method: http.MethodGet, path: "/sites/" + esc(site) + "/usage", query: q.values(), out: &u})
	return ret(&u, err)
}

// TenantUsage returns the usage series of a tenant (id or name): the sum
// of its sites.
func (c *Client) TenantUsage(ctx context.Context, tenant string, q UsageQuery) (*Usage, error) {
	var u Usage
	err := c.do(ctx, request{method: http.MethodGet, path: "/tenants/" + esc(tenant) + "/usage", query: q.values(), out: &u})
	return ret(&u, err)
}
