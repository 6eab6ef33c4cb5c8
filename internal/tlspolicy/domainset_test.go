package tlspolicy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
)

func TestDomainSet(t *testing.T) {
	clock := newFakeClock()
	fd := &fakeDomains{}
	fd.set(claim("www.example.com", "s1", tenants.DomainActive, "t"), claim("p.example.com", "s1", tenants.DomainPending, "t"))
	s := NewDomainSet(fd, DomainSetConfig{Now: clock.Now, MaxStale: time.Minute})
	if s.IsActive("www.example.com") {
		t.Fatal("IsActive before the first load said yes")
	}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"www.example.com", true},
		{"WWW.EXAMPLE.COM.", true},
		{"p.example.com", false},
		{"example.com", false},
		{"", false},
		{"bad host!", false},
	}
	for _, tc := range tests {
		if got := s.IsActive(tc.host); got != tc.want {
			t.Errorf("IsActive(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	// A hostname moving to another site stays active through Changed
	// (it is never dropped, not even until the reload).
	fd.set(claim("www.example.com", "s2", tenants.DomainActive, "t2"), claim("p.example.com", "s1", tenants.DomainPending, "t"))
	s.Changed("www.example.com")
	if !s.IsActive("www.example.com") {
		t.Error("a hostname taken over by another site was dropped by Changed")
	}
	// Changed applies a removal and an activation at once.
	fd.set(claim("p.example.com", "s1", tenants.DomainActive, "t"))
	s.Changed("www.example.com")
	s.Changed("p.example.com")
	if s.IsActive("www.example.com") || !s.IsActive("p.example.com") {
		t.Error("Changed did not apply a removal and an activation before the reload")
	}
	// Without a working lookup Changed removes, and the reload decides.
	fd.dmu.Lock()
	fd.fail = errors.New("db down")
	fd.dmu.Unlock()
	s.Changed("p.example.com")
	if s.IsActive("p.example.com") {
		t.Error("Changed kept a host it could not look up")
	}
	fd.dmu.Lock()
	fd.fail = nil
	fd.dmu.Unlock()
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.IsActive("p.example.com") || s.IsActive("www.example.com") {
		t.Error("reload did not pick up the change")
	}
	// Failing reloads keep the last set until MaxStale, then say no.
	fd.dmu.Lock()
	fd.fail = errors.New("db down")
	fd.dmu.Unlock()
	if err := s.Refresh(context.Background()); err == nil {
		t.Error("Refresh with the database down succeeded")
	}
	clock.Advance(30 * time.Second)
	if !s.IsActive("p.example.com") {
		t.Error("a briefly failing database dropped the set")
	}
	clock.Advance(time.Minute)
	if s.IsActive("p.example.com") {
		t.Error("a stale set still says yes")
	}
}

func TestDomainSetRun(t *testing.T) {
	fd := &fakeDomains{}
	s := NewDomainSet(fd, DomainSetConfig{Refresh: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()
	fd.set(claim("www.example.com", "s1", tenants.DomainActive, "t"))
	s.Changed("www.example.com") // kicks a reload well before the hourly one
	testenv.WaitFor(t, testenv.Patience, func() error {
		if !s.IsActive("www.example.com") {
			return errors.New("Run did not reload after Changed")
		}
		return nil
	})
}
