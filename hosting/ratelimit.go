package hosting

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/tenants"
)

// Per-site request rate limits (docs/architecture.md §2, edge step 5 of
// the design): every site has one token bucket per node, sized by its
// tenant's effective RequestBurst and refilled at RequestsPerSecond. It is
// checked once a request's route is known, before anything is served or
// a worker dispatched; a request over the rate is answered 429
// rate_limited with Retry-After, counted (siteUsage.rateLimited and the 4xx
// class) and published to the live log as logstream.OutcomeRateLimited.
//
// The bucket is keyed by site, not by host: the production host, every
// preview and branch alias and every custom domain of a site share one
// bucket. It is per node: with N nodes behind a load balancer a site may
// get up to N times its rate.
//
// The bucket is a GCRA (generic cell rate algorithm, equivalent to a
// token bucket): one int64, the theoretical arrival time of the site's
// next request, kept in the site's counters (siteUsage.rateTAT) on the
// cache line the request counters already write. A check is one atomic
// load and one compare-and-swap: no lock, no map, no allocation. There is
// nothing to evict: an idle site's state is a time in the past, which
// means a full bucket, and it costs no memory beyond the site's counters,
// which exist anyway (one per site routed on this node, in the padding of
// their 192 bytes). Hostnames that name no site get a negative route and
// no bucket, so an attacker touching many hostnames costs only the
// negative-route cache (Config.MaxUnknownHosts); touching many real sites
// costs nothing the usage counters did not already.

// rateLimit is a site's rate in GCRA terms: a request is allowed when the
// site's theoretical arrival time is at most tolerance past now, and
// moves it interval later. The zero value allows everything.
type rateLimit struct {
	interval  int64 // ns between requests once the burst is spent; 0: no limit
	tolerance int64 // ns: (burst - 1) × interval
}

// maxRateTolerance caps a burst's span so that the arithmetic cannot
// overflow, whatever a tenant's override says (about 146 years).
const maxRateTolerance = math.MaxInt64 / 2

// siteRate returns the rate of a tenant's effective limits: none when
// RequestsPerSecond is 0 (an unknown plan) or above one per nanosecond;
// a burst below 1 counts as 1.
func siteRate(l tenants.Limits) rateLimit {
	if l.RequestsPerSecond <= 0 {
		return rateLimit{}
	}
	interval := int64(time.Second) / int64(l.RequestsPerSecond)
	if interval <= 0 {
		return rateLimit{}
	}
	burst := int64(max(l.RequestBurst, 1))
	tolerance := int64(maxRateTolerance)
	if burst-1 < maxRateTolerance/interval {
		tolerance = (burst - 1) * interval
	}
	return rateLimit{interval: interval, tolerance: tolerance}
}

// take counts one request of the site at now (ns on the edge's clock,
// since Edge.epoch) against rl. It returns 0 when the request is allowed,
// else how long until it would be (nothing is counted then).
func (u *siteUsage) take(rl rateLimit, now int64) time.Duration {
	if rl.interval == 0 {
		return 0
	}
	for {
		tat := u.rateTAT.Load()
		start := max(tat, now)
		if start > now+rl.tolerance+rl.interval {
			// Only a slower rate leaves the arrival time this far
			// ahead (the tenant's rate was raised): the bucket is
			// empty at the new rate, but this request goes through.
			start = now + rl.tolerance
		}
		if wait := start - now - rl.tolerance; wait > 0 {
			return time.Duration(wait)
		}
		if u.rateTAT.CompareAndSwap(tat, start+rl.interval) {
			return 0
		}
	}
}

// errRateLimited answers a request over its site's rate.
var errRateLimited = newVisitorError(http.StatusTooManyRequests, "rate_limited", "too many requests to this site: retry later")

// retryAfterValues are the Retry-After values of 1 to 60 seconds, shared
// (never edited in place) so that answering a flood does not allocate.
var retryAfterValues = func() (v [61][]string) {
	for i := 1; i < len(v); i++ {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

// retryAfter returns the Retry-After value of wait: whole seconds, rounded
// up, at least 1.
func retryAfter(wait time.Duration) []string {
	s := (wait + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	if s < time.Duration(len(retryAfterValues)) {
		return retryAfterValues[s]
	}
	return []string{strconv.FormatInt(int64(s), 10)}
}

// acmeChallengePath is where ACME HTTP-01 challenges are answered.
const acmeChallengePath = "/.well-known/acme-challenge/"

// admit checks the request against its site's rate, at now. It returns
// true when the request may be served; otherwise it has answered 429
// rate_limited with Retry-After and counted it. The proofs of domain
// control (ACME's HTTP-01 and Pier's own) are never refused.
func (x *exchange) admit(now time.Time) bool {
	u := x.v.usage
	wait := u.take(x.v.rate, int64(now.Sub(x.e.epoch)))
	if wait == 0 {
		return true
	}
	if p := x.r.URL.Path; strings.HasPrefix(p, "/.well-known/") &&
		(strings.HasPrefix(p, acmeChallengePath) || strings.HasPrefix(p, ChallengePath)) {
		return true
	}
	u.rateLimited.Add(1)
	x.w.Header()["Retry-After"] = retryAfter(wait)
	x.fail(errRateLimited)
	return false
}
