package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/pebbleconf"
)

// layout is where everything of one try-domains run listens and lives.
// The ports are fixed so that the printed steps (and the README's copy of
// them) can be typed as they are; none is a port of `make run` (8080,
// 8081, --tls-internal's 8443) or a default of challtestsrv that it would
// otherwise open (5001-5003 for its own challenge servers, 8443 for DoH).
type layout struct {
	Dir  string // everything of the run (wiped at each start)
	Pier string // the pier binary, as the steps print it

	DNS       string // challtestsrv's DNS server (udp and tcp)
	ChallMgmt string // challtestsrv's management API (plain HTTP)

	ACME       string // Pebble's ACME API (HTTPS)
	PebbleMgmt string // Pebble's management API (HTTPS)

	HTTP, HTTPS, Admin string // pier serve's --http, --https, --admin
	Domain             string // pier serve's --domain

	// The example the steps walk through.
	Tenant, Site, Host string
}

func defaultLayout() layout {
	return layout{
		Dir:        "data-try",
		Pier:       "bin/pier",
		DNS:        "127.0.0.1:8053",
		ChallMgmt:  "127.0.0.1:8055",
		ACME:       "127.0.0.1:14000",
		PebbleMgmt: "127.0.0.1:15000",
		HTTP:       "127.0.0.1:8180",
		HTTPS:      "127.0.0.1:8543",
		Admin:      "127.0.0.1:8181",
		Domain:     "localhost",
		Tenant:     "acme",
		Site:       "blog",
		Host:       "www.example.test",
	}
}

// Files of the run, under Dir.
func (l layout) pierData() string     { return filepath.Join(l.Dir, "pier") }
func (l layout) pebbleDir() string    { return filepath.Join(l.Dir, "pebble") }
func (l layout) pebbleConfig() string { return filepath.Join(l.pebbleDir(), "config.json") }

// apiCert is the certificate Pebble's two HTTPS listeners present: pier
// trusts it for the ACME API (--acme-ca-root).
func (l layout) apiCert() string { return filepath.Join(l.pebbleDir(), "api-cert.pem") }
func (l layout) apiKey() string  { return filepath.Join(l.pebbleDir(), "api-key.pem") }

// rootFile is the root of the certificates Pebble issues (new at every
// start of Pebble, fetched from its management API): what a client of
// the sites trusts (curl --cacert).
func (l layout) rootFile() string { return filepath.Join(l.Dir, "pebble-root.pem") }
func (l layout) logFile(name string) string {
	return filepath.Join(l.Dir, "logs", name+".log")
}

// port is addr's port.
func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// listeners names every address the run listens on, in start order; the
// DNS server also takes UDP.
func (l layout) listeners() []listener {
	return []listener{
		{l.DNS, "challtestsrv's DNS server", true},
		{l.ChallMgmt, "challtestsrv's management API", false},
		{l.ACME, "Pebble's ACME API", false},
		{l.PebbleMgmt, "Pebble's management API", false},
		{l.HTTP, "pier serve --http", false},
		{l.HTTPS, "pier serve --https", false},
		{l.Admin, "pier serve --admin", false},
	}
}

type listener struct {
	Addr, What string
	UDP        bool
}

// challtestsrvArgs runs only its DNS server and management API, answering
// every A query it has no record for with 127.0.0.1 (the edge) and AAAA
// queries with nothing: a ::1 answer would send Pebble's TLS-ALPN-01
// validation to an address pier does not listen on.
func (l layout) challtestsrvArgs() []string {
	return []string{
		"-dnsserver", l.DNS, "-management", l.ChallMgmt,
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
	}
}

// pebbleEnv turns off Pebble's random sleep before validating.
func (l layout) pebbleEnv() []string { return []string{"PEBBLE_VA_NOSLEEP=1"} }

func (l layout) pebbleArgs() []string {
	return []string{"-config", l.pebbleConfig(), "-dnsserver", l.DNS}
}

// pierArgs is `pier serve` ordering from Pebble, verifying through
// challtestsrv, in its own data directory.
func (l layout) pierArgs() []string {
	return []string{
		"serve",
		"--data", l.pierData(),
		"--domain", l.Domain,
		"--http", l.HTTP, "--https", l.HTTPS, "--admin", l.Admin,
		"--acme-ca", "https://" + l.ACME + "/dir",
		"--acme-ca-root", l.apiCert(),
		"--dns-resolver", l.DNS,
		"--public-ip", "127.0.0.1",
	}
}

// pebbleConfigJSON is Pebble's configuration file: its listeners, the
// certificate they present, and the ports it validates at (pier's --http
// for HTTP-01, --https for TLS-ALPN-01, on the address challtestsrv
// answers: 127.0.0.1).
func (l layout) pebbleConfigJSON() ([]byte, error) {
	var httpPort, tlsPort int
	if _, err := fmt.Sscan(port(l.HTTP), &httpPort); err != nil {
		return nil, fmt.Errorf("trydomains: --http %q has no port", l.HTTP)
	}
	if _, err := fmt.Sscan(port(l.HTTPS), &tlsPort); err != nil {
		return nil, fmt.Errorf("trydomains: --https %q has no port", l.HTTPS)
	}
	// Certificate paths are absolute: Pebble resolves relative ones
	// against its working directory, which need not be ours.
	cert, err := filepath.Abs(l.apiCert())
	if err != nil {
		return nil, err
	}
	key, err := filepath.Abs(l.apiKey())
	if err != nil {
		return nil, err
	}
	return pebbleconf.Config{
		Listen: l.ACME, Management: l.PebbleMgmt, CertFile: cert, KeyFile: key,
		HTTPPort: httpPort, TLSPort: tlsPort,
	}.JSON()
}

// apiCertPEM makes the self-signed certificate (and key) of Pebble's
// listeners, for 127.0.0.1 and localhost.
func apiCertPEM(now time.Time) (certPEM, keyPEM []byte, err error) {
	_, certPEM, keyPEM, err = pebbleconf.LoopbackCert("pier try-domains pebble", now, 30*24*time.Hour)
	if err != nil {
		return nil, nil, fmt.Errorf("trydomains: Pebble's certificate: %w", err)
	}
	return certPEM, keyPEM, nil
}

// steps is what to type next, printed once everything answers. README's
// "Trying custom domains locally" repeats it (config_test.go checks that
// every command is there).
func (l layout) steps() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	hostHTTPS := l.Host + ":" + port(l.HTTPS)
	w("Pebble (ACME CA), pebble-challtestsrv (DNS) and pier serve are running; Ctrl-C stops all three.\n")
	w("Everything lives in ./%s, which the next `make try-domains` wipes (Pebble forgets its\n", l.Dir)
	w("accounts and its root when it stops).\n")
	w("Logs: %s, %s, %s.\n\n", l.logFile("pier"), l.logFile("pebble"), l.logFile("challtestsrv"))
	w("In another terminal, in this directory:\n\n")
	w("1. Point the pier CLI at this server, and make a tenant and a site:\n\n")
	w("  export PIER_API=http://%s PIER_TOKEN=$(cat %s)\n", l.Admin, filepath.Join(l.pierData(), "admin.token"))
	w("  %s tenants create %s\n", l.Pier, l.Tenant)
	w("  %s sites create %s --tenant %s\n", l.Pier, l.Site, l.Tenant)
	w("  %s deploy examples/site --site %s\n\n", l.Pier, l.Site)
	w("2. Add a custom domain; pier prints the DNS records that prove it is yours:\n\n")
	w("  %s domains add %s --site %s\n\n", l.Pier, l.Host, l.Site)
	w("3. Create the TXT record in challtestsrv, which plays your DNS provider (it answers every\n")
	w("   A query with 127.0.0.1, so the name already points here):\n\n")
	w("  TXT=$(%s domains list --site %s --json | grep -o '\"token\": *\"[^\"]*\"' | cut -d'\"' -f4)\n", l.Pier, l.Site)
	w("  curl -fsS http://%s/set-txt -d \"{\\\"host\\\":\\\"_pier-challenge.%s.\\\",\\\"value\\\":\\\"$TXT\\\"}\" && echo \"TXT record set: $TXT\"\n\n", l.ChallMgmt, l.Host)
	w("4. Verify; pier then orders the certificate from Pebble (CERT turns active within seconds):\n\n")
	w("  %s domains verify %s --site %s\n", l.Pier, l.Host, l.Site)
	w("  %s domains list --site %s\n\n", l.Pier, l.Site)
	w("5. Visit it over HTTPS, trusting Pebble's root (--resolve stands in for public DNS), and see\n")
	w("   the certificate:\n\n")
	w("  curl --cacert %s --resolve %s:127.0.0.1 https://%s/\n", l.rootFile(), hostHTTPS, hostHTTPS)
	w("  curl -s -v -o /dev/null --cacert %s --resolve %s:127.0.0.1 https://%s/ 2>&1 | grep -E 'subjectAltName|issuer:'\n\n", l.rootFile(), hostHTTPS, hostHTTPS)
	w("6. The site's own name gets a certificate of its own on its first HTTPS visit (*.localhost\n")
	w("   resolves to 127.0.0.1 in browsers and curl, but not in every resolver: elsewhere add\n")
	w("   --resolve %s.%s:%s:127.0.0.1):\n\n", l.Site, l.Domain, port(l.HTTPS))
	w("  curl --cacert %s https://%s.%s:%s/\n", l.rootFile(), l.Site, l.Domain, port(l.HTTPS))
	return b.String()
}
