package main

import (
	"context"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOutboundFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     string
		cpu     time.Duration
		vars    map[string]string
		wantErr string
	}{
		{name: "default", cpu: 50 * time.Millisecond},
		{name: "flags", args: []string{"--outbound-worker", "o.wasm", "--outbound-worker-cpu", "5ms",
			"--outbound-worker-var", "DENY_HOSTS=a.example,b.example", "--outbound-worker-var", "EMPTY="},
			cpu: 5 * time.Millisecond, vars: map[string]string{"DENY_HOSTS": "a.example,b.example", "EMPTY": ""}},
		{name: "env twin", env: "DENY_HOSTS=a.example,b.example;MODE=x=y", cpu: 50 * time.Millisecond,
			vars: map[string]string{"DENY_HOSTS": "a.example,b.example", "MODE": "x=y"}},
		{name: "flags beat env", args: []string{"--outbound-worker-var", "A=1"}, env: "B=2", cpu: 50 * time.Millisecond,
			vars: map[string]string{"A": "1"}},
		{name: "not NAME=VALUE", args: []string{"--outbound-worker-var", "DENY_HOSTS"}, wantErr: `"DENY_HOSTS" is not NAME=VALUE`},
		{name: "no name", args: []string{"--outbound-worker-var", "=x"}, wantErr: "is not NAME=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("PIER_OUTBOUND_WORKER_VAR", tc.env)
			}
			c, err := parseServeFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			vars, err := parseOutboundVars(c.OutboundVars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.OutboundCPU != tc.cpu || !maps.Equal(vars, tc.vars) {
				t.Errorf("cpu %v vars %v, want %v %v", c.OutboundCPU, vars, tc.cpu, tc.vars)
			}
		})
	}
}

func TestEgressAllowAddrFlag(t *testing.T) {
	c, err := parseServeFlags([]string{"--egress-allow-addr", "127.0.0.1:9000, [::1]:8443"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p, err := egressPolicy(c, "127.0.0.1:8081")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9000"), netip.MustParseAddrPort("[::1]:8443")}
	if !slices.Equal(p.AllowAddrs, want) {
		t.Errorf("AllowAddrs %v, want %v", p.AllowAddrs, want)
	}
	c.EgressAllowAddr = "localhost:9000"
	if _, err := egressPolicy(c, "127.0.0.1:8081"); err == nil || !strings.Contains(err.Error(), "is not IP:port") {
		t.Errorf("a host name: %v, want is not IP:port", err)
	}
}

// TestOpenOutboundRefuses: pier serve does not start without the
// outbound worker it was asked for: a missing or invalid module, or
// workers turned off, fail start-up with the flag named.
func TestOpenOutboundRefuses(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	if err := os.WriteFile(bad, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := filepath.Abs(filepath.Join("..", "..", "hosting", "testdata", "workers", "outbound.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"--workers=true", "--outbound-worker", filepath.Join(t.TempDir(), "nope.wasm")}, "--outbound-worker: open"},
		{"invalid", []string{"--workers=true", "--outbound-worker", bad}, "--outbound-worker " + bad + ": worker: invalid module"},
		{"workers off", []string{"--outbound-worker", good}, "--outbound-worker needs workers"},
		{"bad var", []string{"--workers=true", "--outbound-worker", good, "--outbound-worker-var", "X"}, `"X" is not NAME=VALUE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testServeConfig(t, tc.args...)
			s, err := openServer(context.Background(), cfg, io.Discard, io.Discard)
			if err == nil {
				s.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q, want %q", err, tc.want)
			}
		})
	}
	// A valid one starts and is closed with the server.
	cfg := testServeConfig(t, "--workers=true", "--outbound-worker", good, "--outbound-worker-var", "MODE=a")
	s, err := openServer(context.Background(), cfg, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.outbound == nil {
		t.Error("no outbound worker")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOutboundPlanFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     string
		want    map[string]string
		wantErr string
	}{
		{name: "none"},
		{name: "flags", args: []string{"--outbound-worker-plan", "free=f.wasm", "--outbound-worker-plan", "enterprise="},
			want: map[string]string{"free": "f.wasm", "enterprise": ""}},
		{name: "env twin", env: "free=f.wasm;pro=p.wasm", want: map[string]string{"free": "f.wasm", "pro": "p.wasm"}},
		{name: "unknown plan", args: []string{"--outbound-worker-plan", "gold=g.wasm"}, wantErr: `unknown plan "gold"`},
		{name: "twice", args: []string{"--outbound-worker-plan", "free=a.wasm", "--outbound-worker-plan", "free=b.wasm"}, wantErr: `plan "free" twice`},
		{name: "not PLAN=PATH", args: []string{"--outbound-worker-plan", "free"}, wantErr: "is not PLAN=PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("PIER_OUTBOUND_WORKER_PLAN", tc.env)
			}
			c, err := parseServeFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			plans, err := parseOutboundPlans(c.OutboundPlans)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(plans, tc.want) {
				t.Errorf("plans %v (%v), want %v", plans, err, tc.want)
			}
		})
	}
}
