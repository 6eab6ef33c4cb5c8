package tlspolicy

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pierhq/pier/internal/ratelimit"
)

// challengeLookup decides ACME challenges for names the in-memory domain
// set does not know yet, from the store: with several nodes, the node
// that placed an order may not be the one the CA's validation reaches,
// and the others hear of a new domain a little later. Lookups are shared
// per name, their answers kept for a few seconds, and at most
// challengeLookupsPerSecond of them run (with a small burst), so junk
// challenge requests cannot load the database.
type challengeLookup struct {
	look  func(ctx context.Context, host string) bool
	group singleflight.Group
	limit *ratelimit.Limiter
	now   func() time.Time

	mu      sync.Mutex
	answers map[string]challengeAnswer
}

type challengeAnswer struct {
	yes bool
	at  time.Time
}

const (
	challengeLookupsPerSecond = 10
	challengeLookupBurst      = 20
	challengeAnswerTTL        = 5 * time.Second
	challengeAnswersMax       = 4096
	challengeLookupTimeout    = 3 * time.Second
)

func newChallengeLookup(look func(ctx context.Context, host string) bool) *challengeLookup {
	return &challengeLookup{
		look:    look,
		now:     time.Now,
		limit:   &ratelimit.Limiter{Interval: time.Second / challengeLookupsPerSecond, Burst: challengeLookupBurst},
		answers: make(map[string]challengeAnswer),
	}
}

// allow reports whether host is an active custom domain according to the
// store; no when the lookup budget is spent or the lookup fails.
func (c *challengeLookup) allow(host string) bool {
	now := c.now()
	c.mu.Lock()
	a, ok := c.answers[host]
	c.mu.Unlock()
	if ok && now.Sub(a.at) < challengeAnswerTTL {
		return a.yes
	}
	// One budget for all names: the database load is what is limited.
	if !c.limit.Allow("", now) {
		return false
	}
	v, _, _ := c.group.Do(host, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), challengeLookupTimeout)
		defer cancel()
		yes := c.look(ctx, host)
		c.mu.Lock()
		if len(c.answers) >= challengeAnswersMax {
			clear(c.answers)
		}
		c.answers[host] = challengeAnswer{yes: yes, at: c.now()}
		c.mu.Unlock()
		return yes, nil
	})
	return v.(bool)
}
