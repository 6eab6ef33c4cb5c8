package tlspolicy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/tenants"
)

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fakeDomains holds custom-domain claims; it is a DomainLister and
// answers ActiveDomain like tenants.Store.
type fakeDomains struct {
	dmu    sync.Mutex
	claims []tenants.Domain
	fail   error
}

func (f *fakeDomains) set(claims ...tenants.Domain) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	f.claims = claims
}

func (f *fakeDomains) ActiveDomain(_ context.Context, host string) (tenants.Domain, error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if f.fail != nil {
		return tenants.Domain{}, f.fail
	}
	for _, d := range f.claims {
		if d.Hostname == host && d.Status == tenants.DomainActive {
			return d, nil
		}
	}
	return tenants.Domain{}, tenants.ErrNotFound
}

func (f *fakeDomains) ActiveDomains(context.Context) ([]string, error) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var hosts []string
	for _, d := range f.claims {
		if d.Status == tenants.DomainActive {
			hosts = append(hosts, d.Hostname)
		}
	}
	return hosts, nil
}

func claim(host, siteID, status, token string) tenants.Domain {
	return tenants.Domain{Hostname: host, SiteID: siteID, Status: status, Token: token}
}
