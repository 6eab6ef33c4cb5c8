package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/tenants"
)

// openOutbound loads the operator's outbound workers (--outbound-worker,
// --outbound-worker-plan) with the node's worker runtime: an unreadable or
// invalid module fails start-up rather than letting every fetch through
// unchecked. A module named twice is loaded once.
func (s *server) openOutbound(ctx context.Context, _ io.Writer) error {
	plans, err := parseOutboundPlans(s.cfg.OutboundPlans)
	if err != nil {
		return err
	}
	if s.cfg.OutboundWorker == "" && len(plans) == 0 {
		return nil
	}
	if s.workers == nil {
		return errors.New("serve: --outbound-worker needs workers (--workers=false turns them off)")
	}
	vars, err := parseOutboundVars(s.cfg.OutboundVars)
	if err != nil {
		return err
	}
	loaded := map[string]*worker.Worker{}
	load := func(flag, path string) (*worker.Worker, error) {
		if w, ok := loaded[path]; ok {
			return w, nil
		}
		wasm, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("serve: %s: %w", flag, err)
		}
		w, err := s.workers.NewWorker(ctx, wasm, vars, hosting.OutboundLimits(s.cfg.OutboundCPU))
		if err != nil {
			return nil, fmt.Errorf("serve: %s %s: %w", flag, path, err)
		}
		loaded[path] = w
		s.onClose(w.Close)
		s.log.Info("outbound worker loaded", "path", path, "cpu", hosting.OutboundLimits(s.cfg.OutboundCPU).CPU)
		return w, nil
	}
	if path := s.cfg.OutboundWorker; path != "" {
		if s.outbound, err = load("--outbound-worker", path); err != nil {
			return err
		}
	}
	for _, plan := range slices.Sorted(maps.Keys(plans)) {
		var ow hosting.OutboundWorker // nil: none for the plan
		if path := plans[plan]; path != "" {
			w, err := load("--outbound-worker-plan "+plan, path)
			if err != nil {
				return err
			}
			ow = w
		}
		if s.outbounds == nil {
			s.outbounds = map[string]hosting.OutboundWorker{}
		}
		s.outbounds[plan] = ow
		s.log.Info("outbound worker of a plan", "plan", plan, "path", cmp.Or(plans[plan], "(none)"))
	}
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

// parseOutboundPlans reads --outbound-worker-plan PLAN=PATH flags (and
// their environment twin, pairs separated by ';'): plans must exist and
// be named once; an empty PATH means no outbound worker for the plan.
func parseOutboundPlans(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	plans := make(map[string]string, len(list))
	for _, kv := range list {
		plan, path, ok := strings.Cut(kv, "=")
		plan, path = strings.TrimSpace(plan), strings.TrimSpace(path)
		if !ok || plan == "" {
			return nil, fmt.Errorf("serve: --outbound-worker-plan %q is not PLAN=PATH", kv)
		}
		if err := tenants.ValidatePlan(plan); err != nil {
			return nil, fmt.Errorf("serve: --outbound-worker-plan %q: %w", kv, err)
		}
		if _, dup := plans[plan]; dup {
			return nil, fmt.Errorf("serve: --outbound-worker-plan names plan %q twice", plan)
		}
		plans[plan] = path
	}
	return plans, nil
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
