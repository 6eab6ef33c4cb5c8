package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/pierhq/pier/hosting"
)

// openOutbound loads the operator's outbound worker (--outbound-worker)
// with the node's worker runtime: an unreadable or invalid module fails
// start-up rather than letting every fetch through unchecked.
func (s *server) openOutbound(ctx context.Context, _ io.Writer) error {
	path := s.cfg.OutboundWorker
	if path == "" {
		return nil
	}
	if s.workers == nil {
		return errors.New("serve: --outbound-worker needs workers (--workers=false turns them off)")
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("serve: --outbound-worker: %w", err)
	}
	vars, err := parseOutboundVars(s.cfg.OutboundVars)
	if err != nil {
		return err
	}
	w, err := s.workers.NewWorker(ctx, wasm, vars, hosting.OutboundLimits(s.cfg.OutboundCPU))
	if err != nil {
		return fmt.Errorf("serve: --outbound-worker %s: %w", path, err)
	}
	s.outbound = w
	s.onClose(w.Close)
	s.log.Info("outbound worker loaded", "path", path, "cpu", hosting.OutboundLimits(s.cfg.OutboundCPU).CPU)
	return nil
}

// outboundWorker is the edge's Config.Outbound: nil without one (a nil
// *worker.Worker in the interface would not be nil).
func (s *server) outboundWorker() hosting.OutboundWorker {
	if s.outbound == nil {
		return nil
	}
	return s.outbound
}

// parseOutboundVars reads --outbound-worker-var NAME=VALUE flags (and
// their environment twin, NAME=VALUE pairs separated by ';').
func parseOutboundVars(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	vars := make(map[string]string, len(list))
	for _, kv := range list {
		name, value, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("serve: --outbound-worker-var %q is not NAME=VALUE", kv)
		}
		vars[name] = value
	}
	return vars, nil
}

// parseAllowAddrs reads --egress-allow-addr: IP:port destinations exempt
// from the denied address ranges, comma-separated.
func parseAllowAddrs(value string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, s := range strings.Split(value, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return nil, fmt.Errorf("serve: --egress-allow-addr %q is not IP:port", s)
		}
		out = append(out, ap)
	}
	return out, nil
}
