package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"time"

	"github.com/caddyserver/certmagic"
)

// Storage keys of the internal CA, shared by every node using the same
// storage so they all serve certificates under one root.
const (
	internalRootCertKey = "pier/internal-ca/root.crt"
	internalRootKeyKey  = "pier/internal-ca/root.key"
	internalRootLock    = "pier_internal_ca"
)

// Lifetimes of the internal CA's certificates. Leaves are short-lived and
// renewed by certmagic in the last third of their life.
const (
	internalRootLifetime = 10 * 365 * 24 * time.Hour
	internalLeafLifetime = 7 * 24 * time.Hour
)

// internalIssuer is a certmagic.Issuer signing certificates with a local
// root CA for development (`pier serve --tls-internal`). Browsers trust
// its certificates only once the root (RootPEM) is installed.
type internalIssuer struct {
	root    *x509.Certificate
	rootKey crypto.Signer
	rootPEM []byte
}

// loadInternalIssuer loads the internal root CA from storage, creating it
// (under the storage's lock) the first time.
func loadInternalIssuer(ctx context.Context, st certmagic.Storage) (*internalIssuer, error) {
	iss, err := readInternalRoot(ctx, st)
	if err == nil {
		return iss, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := st.Lock(ctx, internalRootLock); err != nil {
		return nil, fmt.Errorf("certs: locking internal CA creation: %w", err)
	}
	defer st.Unlock(context.WithoutCancel(ctx), internalRootLock)
	// Another node may have created it while we waited for the lock.
	if iss, err := readInternalRoot(ctx, st); err == nil {
		return iss, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	iss, keyPEM, err := newInternalRoot()
	if err != nil {
		return nil, err
	}
	if err := st.Store(ctx, internalRootKeyKey, keyPEM); err != nil {
		return nil, fmt.Errorf("certs: storing internal CA key: %w", err)
	}
	if err := st.Store(ctx, internalRootCertKey, iss.rootPEM); err != nil {
		return nil, fmt.Errorf("certs: storing internal CA certificate: %w", err)
	}
	return iss, nil
}

// readInternalRoot loads the root; a missing or unreadable pair is
// reported as fs.ErrNotExist so that a new one replaces it.
func readInternalRoot(ctx context.Context, st certmagic.Storage) (*internalIssuer, error) {
	certPEM, err := st.Load(ctx, internalRootCertKey)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("certs: loading internal CA certificate: %w", err)
	}
	keyPEM, err := st.Load(ctx, internalRootKeyKey)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("certs: loading internal CA key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, fmt.Errorf("certs: internal CA certificate unreadable: %w", fs.ErrNotExist)
	}
	root, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: internal CA certificate unreadable (%v): %w", err, fs.ErrNotExist)
	}
	key, err := certmagic.PEMDecodePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: internal CA key unreadable (%v): %w", err, fs.ErrNotExist)
	}
	return &internalIssuer{root: root, rootKey: key, rootPEM: certPEM}, nil
}

func newInternalRoot() (*internalIssuer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generating internal CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Pier Local CA " + now.UTC().Format("2006-01-02"), Organization: []string{"Pier (development)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(internalRootLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: creating internal CA certificate: %w", err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: parsing internal CA certificate: %w", err)
	}
	keyPEM, err := certmagic.PEMEncodePrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: encoding internal CA key: %w", err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &internalIssuer{root: root, rootKey: key, rootPEM: rootPEM}, keyPEM, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certs: generating serial number: %w", err)
	}
	return n, nil
}

// IssuerKey implements certmagic.Issuer.
func (*internalIssuer) IssuerKey() string { return "pier-internal" }

// Issue implements certmagic.Issuer: it signs csr's DNS names with the
// root, valid for internalLeafLifetime.
func (iss *internalIssuer) Issue(_ context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certs: internal issuer: bad CSR signature: %w", err)
	}
	if len(csr.DNSNames) == 0 {
		return nil, errors.New("certs: internal issuer: CSR has no DNS names")
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: csr.DNSNames[0]},
		DNSNames:     csr.DNSNames,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(internalLeafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, iss.root, csr.PublicKey, iss.rootKey)
	if err != nil {
		return nil, fmt.Errorf("certs: internal issuer: signing: %w", err)
	}
	return &certmagic.IssuedCertificate{
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}
