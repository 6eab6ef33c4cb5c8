package pebbleconf

import (
	"crypto/tls"
	"encoding/json"
	"testing"
	"time"
)

func TestJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		short    time.Duration
		profiles int
	}{
		{"default profile only", 0, 1},
		{"with short-lived", time.Hour, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := Config{Listen: "127.0.0.1:1", Management: "127.0.0.1:2", CertFile: "/c.pem", KeyFile: "/k.pem", HTTPPort: 80, TLSPort: 443, ShortLived: tc.short}.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var f file
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			p := f.Pebble
			if p.ListenAddress != "127.0.0.1:1" || p.ManagementListenAddress != "127.0.0.1:2" || p.Certificate != "/c.pem" || p.PrivateKey != "/k.pem" || p.HTTPPort != 80 || p.TLSPort != 443 {
				t.Errorf("config %s", b)
			}
			if len(p.Profiles) != tc.profiles || p.Profiles["default"].ValidityPeriod != 90*24*3600 {
				t.Errorf("profiles %+v", p.Profiles)
			}
			if tc.short > 0 && p.Profiles["shortlived"].ValidityPeriod != 3600 {
				t.Errorf("short-lived profile %+v", p.Profiles["shortlived"])
			}
		})
	}
}

func TestLoopbackCert(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cert, certPEM, keyPEM, err := LoopbackCert("test", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("certificate and key do not match: %v", err)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if !cert.NotAfter.After(now) || cert.NotBefore.After(now) {
		t.Errorf("valid %v to %v, not at %v", cert.NotBefore, cert.NotAfter, now)
	}
}
