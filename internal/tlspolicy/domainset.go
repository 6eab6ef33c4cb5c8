package tlspolicy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/tenants"
)

// DomainLister lists the hostnames of every active custom domain and looks
// one up (nil error when host is an active custom domain); tenants.Store
// satisfies it.
type DomainLister interface {
	ActiveDomains(ctx context.Context) ([]string, error)
	ActiveDomain(ctx context.Context, host string) (tenants.Domain, error)
}

// DomainSetConfig configures a DomainSet. A zero field means its default.
type DomainSetConfig struct {
	// Refresh is how often Run reloads the set. Default 30s.
	Refresh time.Duration
	// MaxStale is how long the last loaded set is trusted when reloading
	// fails (the database is unreachable); after it IsActive says no to
	// every host until a reload succeeds. Default 10m.
	MaxStale time.Duration
	// Timeout bounds one reload. Default 10s.
	Timeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of DomainSetConfig.
const (
	DefaultDomainRefresh  = 30 * time.Second
	DefaultDomainMaxStale = 10 * time.Minute
	// DefaultLookupTimeout bounds one reload or lookup.
	DefaultLookupTimeout = 10 * time.Second
)

// DomainSet is an in-memory copy of the set of active custom hostnames,
// for decisions that must not wait on the database — certmagic's
// on-demand DecisionFunc: IsActive answers from memory and says no when
// unsure (never loaded, or the last successful load is older than
// MaxStale). It is reloaded by Run every Refresh and soon after Changed.
// It is safe for concurrent use.
type DomainSet struct {
	*memSet[struct{}]
	list DomainLister
}

// NewDomainSet returns an empty set (IsActive says no until the first
// successful Refresh) over list.
func NewDomainSet(list DomainLister, cfg DomainSetConfig) *DomainSet {
	load := func(ctx context.Context) (map[string]struct{}, error) {
		hosts, err := list.ActiveDomains(ctx)
		if err != nil {
			return nil, fmt.Errorf("tlspolicy: loading active domains: %w", err)
		}
		m := make(map[string]struct{}, len(hosts))
		for _, h := range hosts {
			m[strings.ToLower(h)] = struct{}{}
		}
		return m, nil
	}
	return &DomainSet{memSet: newMemSet(load, cfg), list: list}
}

// IsActive reports whether host (any case, with or without a trailing
// dot) is an active custom domain, from memory only.
func (s *DomainSet) IsActive(host string) bool {
	h, ok := dnsname.NormalizeASCII(host)
	if !ok {
		return false
	}
	_, ok = s.get(h)
	return ok
}

// Changed tells the set that host started or stopped being active, and
// the set is reloaded soon by Run. host is added or removed at once from
// the lister's answer for it — so a deleted domain is refused immediately
// and a hostname moving between sites is never dropped; if the lookup
// fails, it is removed at once and the reload brings it back. An
// invalid host (such as "") only triggers the reload.
func (s *DomainSet) Changed(host string) {
	h, ok := dnsname.NormalizeASCII(host)
	if !ok {
		s.changed()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	_, err := s.list.ActiveDomain(ctx, h)
	cancel()
	active := err == nil
	s.put(h, struct{}{}, active)
}
