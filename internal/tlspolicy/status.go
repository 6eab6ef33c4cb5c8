package tlspolicy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pierhq/pier/certs"
	"github.com/pierhq/pier/tenants"
)

// SetCertStatus records a custom domain's certificate status in the store
// (admin.API.SetCertStatus); tenants.ErrNotFound means the domain is no
// longer active and is ignored.
type SetCertStatus func(ctx context.Context, host, status, certErr string, nextRetry time.Time) error

// StatusWriter carries the certificate manager's status changes to the
// store. The manager's notification (Changed, its Config.OnChange) may
// come on a handshake's goroutine, so it only marks the name; Run, the
// single writer, reads the manager's current status and stores it, which
// coalesces bursts and never blocks TLS. Memory is bounded by the names
// the manager manages.
type StatusWriter struct {
	mu    sync.Mutex
	dirty map[string]struct{}
	wake  chan struct{}
}

// NewStatusWriter returns a writer with nothing to write.
func NewStatusWriter() *StatusWriter {
	return &StatusWriter{dirty: make(map[string]struct{}), wake: make(chan struct{}, 1)}
}

// Changed marks host's status for writing; it returns at once.
func (s *StatusWriter) Changed(host string) {
	s.mu.Lock()
	s.dirty[host] = struct{}{}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run writes each marked name's current status (read through status)
// with set, until ctx ends. Names marked before Run are written when it
// starts.
func (s *StatusWriter) Run(ctx context.Context, status func(host string) certs.Status, set SetCertStatus, log *slog.Logger) {
	for {
		s.mu.Lock()
		hosts := make([]string, 0, len(s.dirty))
		for h := range s.dirty {
			hosts = append(hosts, h)
		}
		clear(s.dirty)
		s.mu.Unlock()
		for _, h := range hosts {
			st, ok := DomainCertStatus(status(h))
			if !ok {
				continue
			}
			err := set(ctx, h, st.Status, st.Err, st.NextRetry)
			if err != nil && !errors.Is(err, tenants.ErrNotFound) && ctx.Err() == nil {
				log.Warn("recording certificate status", "host", h, "status", st.Status, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
	}
}

// CertStatus is a custom domain's certificate status as the store keeps
// it.
type CertStatus struct {
	Status    string // tenants.CertPendingIssuance, CertActive or CertFailed
	Err       string // why the last order failed (also beside an active certificate whose renewal failed)
	NextRetry time.Time
}

// DomainCertStatus maps the manager's state to the domain's certificate
// status (pending_issuance, active, failed); false when there is nothing
// to record (the manager knows nothing of the name).
func DomainCertStatus(s certs.Status) (CertStatus, bool) {
	switch s.State {
	case certs.StatePending:
		return CertStatus{Status: tenants.CertPendingIssuance}, true
	case certs.StateActive:
		// A failed renewal keeps the current certificate active; its
		// reason is shown beside it.
		return CertStatus{Status: tenants.CertActive, Err: s.Reason}, true
	case certs.StateFailed:
		return CertStatus{Status: tenants.CertFailed, Err: s.Reason, NextRetry: s.NextRetry}, true
	}
	return CertStatus{}, false
}
