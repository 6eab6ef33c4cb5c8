package tenants

import (
	"fmt"
	"time"
)

// Usage retention: minute rows are kept UsageMinuteRetention, hourly
// roll-ups UsageHourRetention (Store.CompactUsage deletes older rows).
const (
	UsageMinuteRetention = 7 * 24 * time.Hour
	UsageHourRetention   = 90 * 24 * time.Hour
)

// UsageClasses names the status classes of UsageCounters.Requests.
var UsageClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// UsageOutcomes names the worker invocation outcomes of
// UsageCounters.Invocations, in column order. They are the runtime's
// outcome names (hosting/worker); "other" counts outcomes an edge does
// not know. Every outcome but "ok" is a limit violation or failure.
var UsageOutcomes = [...]string{
	"ok", "exception", "exceededCpu", "exceededSubrequests", "exceededMemory",
	"responseTooLarge", "requestTooLarge", "canceled", "exceededKvOps", "other",
}

// UsageCounters are one site's usage over some period.
type UsageCounters struct {
	Requests    [len(UsageClasses)]int64  // answered requests by status class
	BytesOut    int64                     // response body bytes
	Invocations [len(UsageOutcomes)]int64 // worker invocations by outcome
	CPU         time.Duration             // guest CPU time (stored in microseconds)
	SubRequests int64                     // workers' fetch calls
	KVReads     int64                     // workers' KV gets and listings
	KVWrites    int64                     // workers' KV puts, deletes and compare-and-swaps
	KVBytes     int64                     // bytes those KV operations read and wrote
}

// Add adds o to c.
func (c *UsageCounters) Add(o *UsageCounters) {
	for i := range c.Requests {
		c.Requests[i] += o.Requests[i]
	}
	c.BytesOut += o.BytesOut
	for i := range c.Invocations {
		c.Invocations[i] += o.Invocations[i]
	}
	c.CPU += o.CPU
	c.SubRequests += o.SubRequests
	c.KVReads += o.KVReads
	c.KVWrites += o.KVWrites
	c.KVBytes += o.KVBytes
}

// IsZero reports whether every counter is zero.
func (c *UsageCounters) IsZero() bool { return *c == UsageCounters{} }

// UsageRow is one node's usage of one site during one minute.
type UsageRow struct {
	SiteID   string
	TenantID string
	Minute   time.Time // truncated to the minute
	UsageCounters
}

// UsageQuery selects a usage time series: one site's (SiteID) or all of
// a tenant's sites' (TenantID, when SiteID is empty), in buckets of Step
// starting at From, up to To (exclusive). Step is a positive multiple of
// a minute; a multiple of an hour reads the hourly roll-ups, anything
// else the minute rows.
type UsageQuery struct {
	SiteID   string
	TenantID string
	From, To time.Time
	Step     time.Duration
}

// Validate checks the query's shape.
func (q UsageQuery) Validate() error {
	switch {
	case q.SiteID == "" && q.TenantID == "":
		return fmt.Errorf("%w: usage query names no site or tenant", ErrInvalid)
	case q.Step < time.Minute || q.Step%time.Minute != 0:
		return fmt.Errorf("%w: step must be a positive multiple of 1m", ErrInvalid)
	case !q.From.Before(q.To):
		return fmt.Errorf("%w: from must be before to", ErrInvalid)
	}
	return nil
}

// UsagePoint is the usage summed over one bucket of a UsageQuery.
type UsagePoint struct {
	Start time.Time // the bucket's start: From + k·Step
	UsageCounters
}
