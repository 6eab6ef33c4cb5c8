// Package pebbleconf writes what Pebble, the ACME test CA, needs to start:
// its configuration file and the self-signed loopback certificate its
// API presents. internal/testenv (the tests) and internal/trydomains
// (make try-domains) use it; nothing that ships imports it.
package pebbleconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Config is Pebble's configuration.
type Config struct {
	Listen     string // ACME API listen address (host:port)
	Management string // management API listen address
	// CertFile and KeyFile are the PEM files the API presents; give
	// absolute paths (Pebble resolves relative ones against its working
	// directory).
	CertFile, KeyFile string
	// HTTPPort and TLSPort are where Pebble's validation connects for
	// HTTP-01 and TLS-ALPN-01.
	HTTPPort, TLSPort int
	// ShortLived, when set, adds a "shortlived" certificate profile of
	// that validity (renewal tests order it by name).
	ShortLived time.Duration
}

type profile struct {
	Description    string `json:"description"`
	ValidityPeriod int    `json:"validityPeriod"`
}

type file struct {
	Pebble struct {
		ListenAddress           string             `json:"listenAddress"`
		ManagementListenAddress string             `json:"managementListenAddress"`
		Certificate             string             `json:"certificate"`
		PrivateKey              string             `json:"privateKey"`
		HTTPPort                int                `json:"httpPort"`
		TLSPort                 int                `json:"tlsPort"`
		OCSPResponderURL        string             `json:"ocspResponderURL"`
		KeyAlgorithm            string             `json:"keyAlgorithm"`
		Profiles                map[string]profile `json:"profiles"`
	} `json:"pebble"`
}

// JSON returns the configuration file's contents.
func (c Config) JSON() ([]byte, error) {
	var f file
	f.Pebble.ListenAddress = c.Listen
	f.Pebble.ManagementListenAddress = c.Management
	f.Pebble.Certificate = c.CertFile
	f.Pebble.PrivateKey = c.KeyFile
	f.Pebble.HTTPPort = c.HTTPPort
	f.Pebble.TLSPort = c.TLSPort
	f.Pebble.KeyAlgorithm = "ecdsa"
	// Pebble gives an order that names no profile a random one of those
	// configured, so there is only the default unless ShortLived asks
	// for another.
	f.Pebble.Profiles = map[string]profile{"default": {Description: "90 days", ValidityPeriod: 90 * 24 * 3600}}
	if c.ShortLived > 0 {
		f.Pebble.Profiles["shortlived"] = profile{Description: "short-lived", ValidityPeriod: int(c.ShortLived.Seconds())}
	}
	return json.MarshalIndent(f, "", "  ")
}

// LoopbackCert makes a self-signed certificate for 127.0.0.1 and
// localhost, valid from an hour before now for validity, named name.
func LoopbackCert(name string, now time.Time, validity time.Duration) (cert *x509.Certificate, certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pebbleconf: generating a key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pebbleconf: making the certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pebbleconf: encoding the key: %w", err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, nil, fmt.Errorf("pebbleconf: %w", err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
