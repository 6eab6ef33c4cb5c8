package main

import (
	"io"
	"strings"
	"testing"
)

// TestServeEnvStrict: a PIER_* twin that does not parse stops pier serve
// with the variable, the value and what is accepted.
func TestServeEnvStrict(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
	}{
		{"PIER_TLS_INTERNAL", "yes", []string{`PIER_TLS_INTERNAL="yes"`, "boolean", "true, false, 1, 0"}},
		{"PIER_WORKERS", "on", []string{`PIER_WORKERS="on"`, "boolean"}},
		{"PIER_RATE_LIMITS", "off", []string{`PIER_RATE_LIMITS="off"`, "boolean"}},
		{"PIER_CERT_ORDERS_PER_HOUR", "ten", []string{`PIER_CERT_ORDERS_PER_HOUR="ten"`, "integer"}},
		{"PIER_MAX_FILE_SIZE", "25MB", []string{`PIER_MAX_FILE_SIZE="25MB"`, "integer"}},
		{"PIER_UPLOAD_TTL", "3600", []string{`PIER_UPLOAD_TTL="3600"`, "duration", "90s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := parseServeFlags(nil, io.Discard)
			if err == nil {
				t.Fatalf("%s=%s accepted", tc.name, tc.value)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// Good values are read.
	t.Setenv("PIER_TLS_INTERNAL", "TRUE")
	t.Setenv("PIER_CERT_ORDERS_PER_HOUR", "-1")
	t.Setenv("PIER_UPLOAD_TTL", "90s")
	t.Setenv("PIER_MAX_FILE_SIZE", "1048576")
	c, err := parseServeFlags([]string{"--http", "127.0.0.1:8080"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS.Internal || c.TLS.OrdersPerHour != -1 || c.UploadTTL.String() != "1m30s" || c.MaxFileSize != 1<<20 {
		t.Errorf("env not applied: %+v %+v", c, *c.TLS)
	}
}

func TestServeTLSFlagValidation(t *testing.T) {
	const hook = "https://hook.example/dns"
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // "" = accepted
	}{
		{"https alone", []string{"--https", ":8443"}, nil, ""},
		{"pebble", []string{"--https", ":8443", "--acme-ca", "https://127.0.0.1:14000/dir", "--acme-ca-root", "/x.pem", "--acme-email", "ops@example.test"}, nil, ""},
		{"internal alone", []string{"--tls-internal"}, nil, ""},
		{"internal with caps", []string{"--tls-internal", "--cert-orders-per-hour", "5"}, nil, ""},
		{"wildcard", []string{"--https", ":443", "--domain", "pier.example.com", "--dns01-webhook", hook, "--dns01-webhook-user", "u"}, nil, ""},
		{"caps -1 and 0", []string{"--https", ":443", "--cert-orders-per-hour", "-1", "--cert-orders-per-hour-per-tenant", "0"}, nil, ""},

		{"acme-ca http", []string{"--https", ":443", "--acme-ca", "http://127.0.0.1:14000/dir"}, nil, "--acme-ca \"http://127.0.0.1:14000/dir\" is not an https:// URL"},
		{"acme-ca no URL", []string{"--https", ":443", "--acme-ca", "letsencrypt"}, nil, "not an https:// URL"},
		{"acme-email no @", []string{"--https", ":443", "--acme-email", "ops.example.com"}, nil, "not an e-mail address"},
		{"acme-email two @", []string{"--https", ":443", "--acme-email", "a@b@c"}, nil, "not an e-mail address"},
		{"acme-email space", []string{"--https", ":443", "--acme-email", "ops @example.com"}, nil, "not an e-mail address"},
		{"acme-email empty local", []string{"--https", ":443", "--acme-email", "@example.com"}, nil, "not an e-mail address"},
		{"caps -2", []string{"--https", ":443", "--cert-orders-per-hour", "-2"}, nil, "--cert-orders-per-hour -2: use a positive cap, 0 for the default or -1"},
		{"tenant caps -5", []string{"--https", ":443", "--cert-orders-per-hour-per-tenant", "-5"}, nil, "--cert-orders-per-hour-per-tenant -5"},

		{"webhook without TLS", []string{"--dns01-webhook", hook}, nil, "--dns01-webhook is set but TLS is off; add --https ADDR"},
		{"webhook user without TLS", []string{"--dns01-webhook-user", "u"}, nil, "--dns01-webhook-user is set but TLS is off"},
		{"acme-ca without TLS", []string{"--acme-ca", "https://ca.example/dir"}, nil, "--acme-ca is set but TLS is off"},
		{"acme-email without TLS", []string{"--acme-email", "ops@example.com"}, nil, "--acme-email is set but TLS is off"},
		{"acme-ca-root without TLS", []string{"--acme-ca-root", "/x.pem"}, nil, "--acme-ca-root is set but TLS is off"},
		{"caps without TLS", []string{"--cert-orders-per-hour", "5"}, nil, "--cert-orders-per-hour is set but TLS is off"},
		{"env twin without TLS", nil, map[string]string{"PIER_ACME_EMAIL": "ops@example.com"}, "--acme-email is set but TLS is off"},

		{"internal with acme-ca", []string{"--tls-internal", "--acme-ca", "https://ca.example/dir"}, nil, "--acme-ca has no effect with --tls-internal"},
		{"internal with acme-email", []string{"--tls-internal", "--acme-email", "ops@example.com"}, nil, "--acme-email has no effect with --tls-internal"},
		{"internal with acme-ca-root", []string{"--tls-internal", "--acme-ca-root", "/x.pem"}, nil, "--acme-ca-root has no effect"},
		{"internal with webhook", []string{"--tls-internal", "--domain", "pier.example.com", "--dns01-webhook", hook}, nil, "--dns01-webhook has no effect with --tls-internal"},
		{"internal with env twin", []string{"--tls-internal"}, map[string]string{"PIER_ACME_CA": "https://ca.example/dir"}, "--acme-ca has no effect"},

		{"webhook bad URL", []string{"--https", ":443", "--domain", "pier.example.com", "--dns01-webhook", "hook.example"}, nil, "not an http(s) URL"},
		{"webhook local domain", []string{"--https", ":443", "--dns01-webhook", hook}, nil, "public --domain"},

		{"https = http", []string{"--http", "127.0.0.1:8080", "--https", "127.0.0.1:8080"}, nil, "--https 127.0.0.1:8080 and --http 127.0.0.1:8080 are the same address"},
		{"https = http wildcard", []string{"--http", ":8080", "--https", "127.0.0.1:8080"}, nil, "are the same address"},
		{"internal default = http", []string{"--http", "127.0.0.1:8443", "--tls-internal"}, nil, "--https (default 127.0.0.1:8443 with --tls-internal) and --http 127.0.0.1:8443"},
		{"different hosts", []string{"--http", "127.0.0.1:8080", "--https", "127.0.0.2:8080"}, nil, ""},
		{"ephemeral ports", []string{"--http", "127.0.0.1:0", "--https", "127.0.0.1:0"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := parseServeFlags(tc.args, io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// TestTLSInternalListensLikeHTTP: without --https, --tls-internal listens
// on port 8443 of --http's host, not on every interface.
func TestTLSInternalListensLikeHTTP(t *testing.T) {
	for http, want := range map[string]string{
		"127.0.0.1:8080": "127.0.0.1:8443",
		":8080":          ":8443",
		"[::1]:8080":     "[::1]:8443",
		"localhost:80":   "localhost:8443",
	} {
		c, err := parseServeFlags([]string{"--http", http, "--tls-internal"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.TLS.HTTPS != want {
			t.Errorf("--http %s --tls-internal: HTTPS on %q, want %q", http, c.TLS.HTTPS, want)
		}
	}
	c, err := parseServeFlags([]string{"--http", "127.0.0.1:8080", "--tls-internal", "--https", ":9443"}, io.Discard)
	if err != nil || c.TLS.HTTPS != ":9443" {
		t.Errorf("explicit --https: %q, %v", c.TLS.HTTPS, err)
	}
}

// TestServeLogBuffer: --log-buffer sizes each live-log reader's queue; a
// queue that holds nothing is refused.
func TestServeLogBuffer(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want int // 0: refused
	}{
		{"default", nil, 1024},
		{"set", []string{"--log-buffer", "10"}, 10},
		{"zero", []string{"--log-buffer", "0"}, 0},
		{"negative", []string{"--log-buffer", "-1"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseServeFlags(tc.args, io.Discard)
			switch {
			case tc.want == 0 && (err == nil || !strings.Contains(err.Error(), "--log-buffer")):
				t.Errorf("err = %v, want a --log-buffer error", err)
			case tc.want != 0 && (err != nil || c.LogBuffer != tc.want):
				t.Errorf("LogBuffer %d, err %v; want %d", c.LogBuffer, err, tc.want)
			}
		})
	}
}

// TestServeRateLimitsFlag: rate limits are on unless --rate-limits=false
// or PIER_RATE_LIMITS=false turns them off.
func TestServeRateLimitsFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want bool
	}{
		{"default", nil, "", true},
		{"flag off", []string{"--rate-limits=false"}, "", false},
		{"env off", nil, "false", false},
		{"flag beats env", []string{"--rate-limits=true"}, "false", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("PIER_RATE_LIMITS", tc.env)
			}
			c, err := parseServeFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.RateLimits != tc.want {
				t.Errorf("RateLimits = %v, want %v", c.RateLimits, tc.want)
			}
		})
	}
}
