package hosting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pierhq/pier/tenants"
)

// ActiveDomainLister lists the hostnames of every active custom domain;
// tenants.Store satisfies it.
type ActiveDomainLister interface {
	ActiveDomains(ctx context.Context) ([]string, error)
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
)

// DomainSet is an in-memory copy of the set of active custom hostnames,
// for decisions that must not wait on the database — certmagic's
// on-demand DecisionFunc: IsActive answers from memory and says no when
// unsure (never loaded, or the last successful load is older than
// MaxStale). It is reloaded by Run every Refresh and soon after Changed.
// It is safe for concurrent use.
type DomainSet struct {
	*memSet[struct{}]
	list ActiveDomainLister
}

// NewDomainSet returns an empty set (IsActive says no until the first
// successful Refresh) over list.
func NewDomainSet(list ActiveDomainLister, cfg DomainSetConfig) *DomainSet {
	load := func(ctx context.Context) (map[string]struct{}, error) {
		hosts, err := list.ActiveDomains(ctx)
		if err != nil {
			return nil, fmt.Errorf("hosting: loading active domains: %w", err)
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
	h, ok := normalizeHost(host)
	if !ok {
		return false
	}
	_, ok = s.get(h)
	return ok
}

// Changed tells the set that host started or stopped being active, and
// the set is reloaded soon by Run. When the lister can look up one host
// (ActiveDomain, as tenants.Store does), host is added or removed at once
// from that answer — so a deleted domain is refused immediately and a
// hostname moving between sites is never dropped; otherwise, or if the
// lookup fails, it is removed at once and the reload brings it back. An
// invalid host (such as "") only triggers the reload.
func (s *DomainSet) Changed(host string) {
	h, ok := normalizeHost(host)
	if !ok {
		s.changed()
		return
	}
	active := false
	if look, can := s.list.(activeDomainLookup); can {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		_, err := look.ActiveDomain(ctx, h)
		cancel()
		active = err == nil
	}
	s.put(h, struct{}{}, active)
}

// activeDomainLookup is the single-host lookup Changed uses when the
// lister has it: nil error when host is an active custom domain.
type activeDomainLookup interface {
	ActiveDomain(ctx context.Context, host string) (tenants.Domain, error)
}
