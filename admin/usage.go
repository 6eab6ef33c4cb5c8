package admin

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/pierhq/pier/tenants"
)

// Limits of the usage endpoints.
const (
	// MaxUsagePoints bounds the buckets of one usage answer.
	MaxUsagePoints = 1500
	// DefaultUsageRange is the window when from is not given.
	DefaultUsageRange = 24 * time.Hour
)

// usageCountersJSON is one bucket's (or the window's) usage.
type usageCountersJSON struct {
	Requests    map[string]int64 `json:"requests"` // by status class
	BytesOut    int64            `json:"bytes_out"`
	Invocations map[string]int64 `json:"invocations"` // by outcome
	Violations  map[string]int64 `json:"violations"`  // invocations by outcome, but ok
	CPUMillis   float64          `json:"cpu_ms"`
	SubRequests int64            `json:"subrequests"`
	KVReads     int64            `json:"kv_reads"`
	KVWrites    int64            `json:"kv_writes"`
	KVBytes     int64            `json:"kv_bytes"`
}

type usagePointJSON struct {
	Time time.Time `json:"time"`
	usageCountersJSON
}

type usageJSON struct {
	Site   string            `json:"site,omitempty"`
	Tenant string            `json:"tenant,omitempty"`
	From   time.Time         `json:"from"`
	To     time.Time         `json:"to"`
	Step   string            `json:"step"`
	Points []usagePointJSON  `json:"points"` // every bucket, oldest first
	Totals usageCountersJSON `json:"totals"`
}

func usageView(c *tenants.UsageCounters) usageCountersJSON {
	v := usageCountersJSON{
		Requests:    make(map[string]int64, len(c.Requests)),
		BytesOut:    c.BytesOut,
		Invocations: make(map[string]int64, len(c.Invocations)),
		Violations:  make(map[string]int64, len(c.Invocations)-1),
		CPUMillis:   float64(c.CPU.Microseconds()) / 1000,
		SubRequests: c.SubRequests,
		KVReads:     c.KVReads,
		KVWrites:    c.KVWrites,
		KVBytes:     c.KVBytes,
	}
	for i, n := range c.Requests {
		v.Requests[tenants.UsageClasses[i]] = n
	}
	for i, n := range c.Invocations {
		o := tenants.UsageOutcomes[i]
		v.Invocations[o] = n
		if o != "ok" {
			v.Violations[o] = n
		}
	}
	return v
}

// parseStep reads a step: a Go duration ("5m", "1h") or whole days ("1d").
func parseStep(s string) (time.Duration, bool) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 90 {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

func formatStep(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	default:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
}

// usageQuery reads from, to and step. Defaults: to now, from 24 h
// before to, step 1m up to a day's window, 1h up to 7 days, 1d beyond.
// Steps under an hour read minute rows (kept 7 days); steps of whole
// hours read hourly roll-ups (kept 90 days). from is aligned down to the
// step's unit (minute, hour or day, UTC).
func (a *API) usageQuery(r *http.Request) (tenants.UsageQuery, error) {
	q := r.URL.Query()
	now := a.cfg.Now().UTC()
	var qu tenants.UsageQuery
	qu.To = now
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return qu, &FieldError{Field: "to", Msg: "must be an RFC 3339 time (2026-01-02T15:04:05Z)"}
		}
		qu.To = t.UTC()
	}
	qu.From = qu.To.Add(-DefaultUsageRange)
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return qu, &FieldError{Field: "from", Msg: "must be an RFC 3339 time (2026-01-02T15:04:05Z)"}
		}
		qu.From = t.UTC()
	}
	if !qu.From.Before(qu.To) {
		return qu, &FieldError{Field: "from", Msg: "must be before to"}
	}
	switch span := qu.To.Sub(qu.From); {
	case span <= 24*time.Hour:
		qu.Step = time.Minute
	case span <= 7*24*time.Hour:
		qu.Step = time.Hour
	default:
		qu.Step = 24 * time.Hour
	}
	if s := q.Get("step"); s != "" {
		d, ok := parseStep(s)
		switch {
		case !ok:
			return qu, &FieldError{Field: "step", Msg: "must be a duration such as 1m, 5m, 1h or 1d"}
		case d < time.Minute || d%time.Minute != 0:
			return qu, &FieldError{Field: "step", Msg: "must be whole minutes, at least 1m"}
		case d > time.Hour && d%time.Hour != 0:
			return qu, &FieldError{Field: "step", Msg: "a step over an hour must be whole hours"}
		}
		qu.Step = d
	}
	align, keep := time.Minute, tenants.UsageMinuteRetention
	if qu.Step%time.Hour == 0 {
		align, keep = time.Hour, tenants.UsageHourRetention
		if qu.Step%(24*time.Hour) == 0 {
			align = 24 * time.Hour
		}
	}
	qu.From = qu.From.Truncate(align)
	if qu.From.Before(now.Add(-keep - align)) {
		if align == time.Minute {
			return qu, &FieldError{Field: "from", Msg: "minute steps reach back 7 days; use a step of 1h or more"}
		}
		return qu, &FieldError{Field: "from", Msg: "usage is kept 90 days"}
	}
	if n := (qu.To.Sub(qu.From) + qu.Step - 1) / qu.Step; n > MaxUsagePoints {
		return qu, &FieldError{Field: "step", Msg: "gives " + strconv.FormatInt(int64(n), 10) + " points; at most " + strconv.Itoa(MaxUsagePoints) + ": use a larger step or a shorter window"}
	}
	return qu, nil
}

// usageSeries answers q as every bucket from q.From to q.To, zeros
// included, and the window's totals.
func (a *API) usageSeries(ctx context.Context, q tenants.UsageQuery) (usageJSON, error) {
	ps, err := a.store.UsageSeries(ctx, q)
	if err != nil {
		return usageJSON{}, err
	}
	out := usageJSON{From: q.From, To: q.To, Step: formatStep(q.Step), Points: []usagePointJSON{}}
	var total tenants.UsageCounters
	i := 0
	for t := q.From; t.Before(q.To); t = t.Add(q.Step) {
		var c tenants.UsageCounters
		if i < len(ps) && ps[i].Start.Equal(t) {
			c = ps[i].UsageCounters
			i++
		}
		total.Add(&c)
		out.Points = append(out.Points, usagePointJSON{Time: t, usageCountersJSON: usageView(&c)})
	}
	out.Totals = usageView(&total)
	return out, nil
}

func (a *API) siteUsage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	q, err := a.usageQuery(r)
	if err != nil {
		return err
	}
	q.SiteID = s.ID
	out, err := a.usageSeries(ctx, q)
	if err != nil {
		return err
	}
	out.Site = s.Name
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) tenantUsage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, err := a.tenantFor(ctx, principalFrom(ctx), chi.URLParam(r, "tenant"))
	if err != nil {
		return err
	}
	q, err := a.usageQuery(r)
	if err != nil {
		return err
	}
	q.TenantID = t.ID
	out, err := a.usageSeries(ctx, q)
	if err != nil {
		return err
	}
	out.Tenant = t.Name
	writeJSON(w, http.StatusOK, out)
	return nil
}
