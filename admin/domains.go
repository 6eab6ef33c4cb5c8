package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/net/publicsuffix"

	"github.com/pierhq/pier/internal/domainverify"
	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// DomainChecker runs the DNS and HTTP checks of custom-domain onboarding;
// *domainverify.Verifier satisfies it. Check methods return nil when the
// proof is found, an error wrapping domainverify.ErrNotProven when it is
// not, and any other error when the check could not run; the claim's
// error shows domainverify.Message of it (user-safe; a generic text when
// it is empty). PointsHere with publicIPs empty compares host's canonical
// name (its CNAME target, host itself when it has none) with cname.
// CheckHTTP must fetch the proof only from the platform's public
// addresses (see domainverify.Verifier). Implementations are safe for
// concurrent use and honour ctx.
type DomainChecker interface {
	CheckTXT(ctx context.Context, host, token string) error
	CheckHTTP(ctx context.Context, host, token, expectBody string) error
	PointsHere(ctx context.Context, host, cname string, publicIPs []string) (bool, error)
}

// Defaults of the domain verifier's Config fields.
const (
	DefaultVerifyInterval  = 10 * time.Second
	DefaultVerifyBatch     = 50
	DefaultActiveRecheck   = time.Hour
	DefaultDomainCheckTime = 20 * time.Second
	// pendingGiveUp is how long a pending claim is re-checked in the
	// background; after it only POST …/verify checks it.
	pendingGiveUp = 7 * 24 * time.Hour
	minBackoff    = 30 * time.Second
	maxBackoff    = 6 * time.Hour
	// retryAfterFailure schedules the next check of an active domain whose
	// check could not run (DNS down): it stays active meanwhile.
	retryAfterFailure = 5 * time.Minute
	// verifyWorkers bounds the checks run at once by RunVerifier.
	verifyWorkers = 4
	// VerifyRateInterval and VerifyRateBurst rate-limit POST …/verify per
	// claim (per node): VerifyRateBurst checks in a row, then one every
	// VerifyRateInterval; a faster call answers 429 rate_limited.
	VerifyRateInterval = 10 * time.Second
	VerifyRateBurst    = 3
)

// DNSRecord is a DNS record a tenant must create.
type DNSRecord struct {
	Type  string `json:"type"` // TXT, CNAME, A or AAAA
	Name  string `json:"name"`
	Value string `json:"value"`
}

// domainJSON is a Domain as the API shows it: with the site's name, the
// records to create and the HTTP alternative to the TXT proof.
type domainJSON struct {
	tenants.Domain
	Site      string      `json:"site"`
	Records   []DNSRecord `json:"records"`
	HTTPProof string      `json:"http_proof"`
}

// DomainRecords returns the records a tenant creates for host on the site
// named site: the TXT ownership proof, and a CNAME to the site's platform
// hostname — or, for an apex (which cannot hold a CNAME) when the platform
// has public addresses, A/AAAA records to them.
func (a *API) DomainRecords(d tenants.Domain, site string) []DNSRecord {
	recs := []DNSRecord{{Type: "TXT", Name: tenants.ChallengeName(d.Hostname), Value: d.Token}}
	apex := false
	if etld1, err := publicsuffix.EffectiveTLDPlusOne(d.Hostname); err == nil && etld1 == d.Hostname {
		apex = true
	}
	if apex && len(a.cfg.PublicIPs) > 0 {
		for _, ip := range a.cfg.PublicIPs {
			typ := "A"
			if addr, err := netip.ParseAddr(ip); err == nil && addr.Is6() && !addr.Is4In6() {
				typ = "AAAA"
			}
			recs = append(recs, DNSRecord{Type: typ, Name: d.Hostname, Value: ip})
		}
		return recs
	}
	return append(recs, DNSRecord{Type: "CNAME", Name: d.Hostname, Value: site + "." + a.cfg.Domain})
}

// inactiveCertStatus is the certificate status of a claim that is not
// active: pending_validation when the platform obtains certificates,
// none otherwise.
func (a *API) inactiveCertStatus() string {
	if a.cfg.TLS {
		return tenants.CertPendingValidation
	}
	return tenants.CertNone
}

func (a *API) domainView(d tenants.Domain, site string) domainJSON {
	if d.Status != tenants.DomainActive {
		// Whatever was stored (claims demoted by another site's takeover,
		// claims stored before TLS was turned on or off).
		d.CertStatus, d.CertError, d.CertNextRetry = a.inactiveCertStatus(), "", time.Time{}
	}
	return domainJSON{
		Domain:    d,
		Site:      site,
		Records:   a.DomainRecords(d, site),
		HTTPProof: "http://" + d.Hostname + domainverify.ChallengePath + d.Token,
	}
}

// validateDomainName checks a requested hostname: a registrable DNS name
// (at or below a public suffix's registrable domain) outside the platform
// domain.
func (a *API) validateDomainName(raw string) (string, error) {
	h, err := tenants.ValidateCustomHostname(raw, a.cfg.Domain)
	if err != nil {
		return "", invalidField("hostname", err)
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(h); err != nil {
		return "", &FieldError{Field: "hostname", Msg: fmt.Sprintf("%q is a public suffix, not a registrable name", h)}
	}
	return h, nil
}

func (a *API) createDomain(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	var req struct {
		Hostname string `json:"hostname"`
	}
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	host, err := a.validateDomainName(req.Hostname)
	if err != nil {
		return err
	}
	now := a.now()
	d := tenants.Domain{
		Hostname:   host,
		SiteID:     s.ID,
		TenantID:   s.TenantID,
		Status:     tenants.DomainPending,
		Token:      tenants.NewDomainToken(),
		CertStatus: a.inactiveCertStatus(),
		NextCheck:  now.Add(minBackoff),
		Created:    now,
	}
	claims, err := a.store.DomainClaims(ctx, host)
	if err != nil {
		return fmt.Errorf("admin: looking up claims of %s: %w", host, err)
	}
	for _, c := range claims {
		switch {
		case c.SiteID == s.ID || c.Status == tenants.DomainBlocked:
		case c.Status == tenants.DomainActive:
			d.Error = "the hostname is active on another site: only the TXT record proves ownership, and then it moves here"
		case d.Error == "":
			d.Error = "other sites claim the hostname too: only the TXT record proves ownership, not the HTTP proof"
		}
	}
	t, err := a.tenantOf(ctx, principalFrom(ctx), s.TenantID)
	if err != nil {
		return err
	}
	if err := a.withCountQuota(ctx, t, "domains", func() error { return a.store.CreateDomain(ctx, d) }); err != nil {
		if errors.Is(err, tenants.ErrConflict) {
			// Claims are per (hostname, site): this site has it already.
			return &httperr.Error{Status: http.StatusConflict, Code: "conflict",
				Message: fmt.Sprintf("%s is already a domain of site %s; `pier domains list --site %s` shows its status and records", host, s.Name, s.Name),
				Details: map[string]any{"field": "hostname"}, Err: err}
		}
		return lookupErr("domain", host, err)
	}
	writeJSON(w, http.StatusCreated, a.domainView(d, s.Name))
	return nil
}

func (a *API) listDomains(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return err
	}
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	list, next, err := a.store.DomainsPage(ctx, s.ID, page)
	if err != nil {
		return pageErr("listing domains of "+s.Name, err)
	}
	out := make([]domainJSON, 0, len(list))
	for _, d := range list {
		out = append(out, a.domainView(d, s.Name))
	}
	writePage(w, "domains", out, next)
	return nil
}

// domainFor returns the site and its claim on the {host} of the request.
func (a *API) domainFor(r *http.Request) (tenants.Site, tenants.Domain, error) {
	ctx := r.Context()
	s, err := a.siteFor(ctx, principalFrom(ctx), chi.URLParam(r, "site"))
	if err != nil {
		return s, tenants.Domain{}, err
	}
	ref := chi.URLParam(r, "host")
	host, err := tenants.NormalizeHostname(ref)
	if err != nil {
		return s, tenants.Domain{}, notFound("domain", ref)
	}
	d, err := a.store.Domain(ctx, s.ID, host)
	if err != nil {
		return s, d, lookupErr("domain", host, err)
	}
	return s, d, nil
}

func (a *API) getDomain(w http.ResponseWriter, r *http.Request) error {
	s, d, err := a.domainFor(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.domainView(d, s.Name))
	return nil
}

func (a *API) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	s, d, err := a.domainFor(r)
	if err != nil {
		return err
	}
	if wait := a.verifyLimit.Take(d.SiteID+"/"+d.Hostname, a.now()); wait > 0 {
		secs := int64((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		return httperr.New(http.StatusTooManyRequests, "rate_limited",
			"%s was checked just now: a domain may be checked on demand %d times in a row, then once every %s; retry in %ds (the background verifier keeps checking it)",
			d.Hostname, VerifyRateBurst, VerifyRateInterval, secs).With("retry_after", secs)
	}
	d, err = a.checkDomain(r.Context(), s, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.domainView(d, s.Name))
	return nil
}

func (a *API) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	s, d, err := a.domainFor(r)
	if err != nil {
		return err
	}
	if err := a.store.DeleteDomain(r.Context(), s.ID, d.Hostname); err != nil {
		return lookupErr("domain", d.Hostname, err)
	}
	if d.Status == tenants.DomainActive {
		a.cfg.OnDomainChange(d.Hostname)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// blockDomain (operator only) blocks a site's claim on a hostname: it is
// never checked, never proves anything and, if it was active, stops being
// served at once (abuse, phishing, a dispute). unblockDomain puts it back
// to pending, checked at once by the verifier.
func (a *API) blockDomain(w http.ResponseWriter, r *http.Request) error {
	s, d, err := a.domainFor(r)
	if err != nil {
		return err
	}
	wasActive := d.Status == tenants.DomainActive
	if d.Status != tenants.DomainBlocked {
		d.Status, d.Error, d.NextCheck = tenants.DomainBlocked, "blocked by the platform operator", time.Time{}
		d.CertStatus = a.inactiveCertStatus()
		if err := a.store.UpdateDomain(r.Context(), d); err != nil {
			return lookupErr("domain", d.Hostname, err)
		}
	}
	if wasActive {
		a.cfg.OnDomainChange(d.Hostname)
	}
	writeJSON(w, http.StatusOK, a.domainView(d, s.Name))
	return nil
}

func (a *API) unblockDomain(w http.ResponseWriter, r *http.Request) error {
	s, d, err := a.domainFor(r)
	if err != nil {
		return err
	}
	if d.Status == tenants.DomainBlocked {
		d.Status, d.Error, d.NextCheck = tenants.DomainPending, "", a.now()
		d.CertStatus = a.inactiveCertStatus()
		if err := a.store.UpdateDomain(r.Context(), d); err != nil {
			return lookupErr("domain", d.Hostname, err)
		}
	}
	writeJSON(w, http.StatusOK, a.domainView(d, s.Name))
	return nil
}

// checkDomain checks a claim now, stores the outcome and returns the
// claim as stored. A pending or moved claim becomes active when the TXT
// record holds its token, or when the HTTP proof answers it and the rule
// of httpProofAllowed lets it count. An active claim becomes moved when
// its DNS no longer points at the platform (checked only when
// Config.PublicIPs is set: without them an apex cannot be told apart).
// A blocked claim is never checked.
func (a *API) checkDomain(ctx context.Context, s tenants.Site, d tenants.Domain) (tenants.Domain, error) {
	if d.Status == tenants.DomainBlocked {
		return d, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.DomainCheckTimeout)
	defer cancel()
	now := a.now()
	wasActive := d.Status == tenants.DomainActive
	d.CheckedAt = now
	v := a.cfg.Verifier
	siteHost := s.Name + "." + a.cfg.Domain
	if wasActive {
		if len(a.cfg.PublicIPs) == 0 {
			d.Error, d.NextCheck = "", now.Add(a.cfg.ActiveRecheck)
		} else {
			points, err := v.PointsHere(ctx, d.Hostname, siteHost, a.cfg.PublicIPs)
			switch {
			case err != nil:
				a.log.Warn("admin: domain check could not run", "host", d.Hostname, "err", err)
				d.Error = "the last check could not look up DNS (" + safeMessage(err, "DNS lookup failed") + "); still active, retrying"
				d.NextCheck = now.Add(retryAfterFailure)
			case points:
				d.Error, d.NextCheck = "", now.Add(a.cfg.ActiveRecheck)
			default:
				d.Status = tenants.DomainMoved
				d.Error = fmt.Sprintf("DNS no longer points at the platform (want a CNAME to %s or an address among %s)",
					siteHost, strings.Join(a.cfg.PublicIPs, ", "))
				d.NextCheck = now.Add(minBackoff)
			}
		}
	} else {
		claims, err := a.store.DomainClaims(ctx, d.Hostname)
		if err != nil {
			return d, fmt.Errorf("admin: looking up claims of %s: %w", d.Hostname, err)
		}
		takeover, rivals := false, false
		for _, c := range claims {
			if c.SiteID == d.SiteID || c.Status == tenants.DomainBlocked {
				continue
			}
			rivals = true
			takeover = takeover || c.Status == tenants.DomainActive
		}
		txtErr := v.CheckTXT(ctx, d.Hostname, d.Token)
		if txtErr != nil && !errors.Is(txtErr, domainverify.ErrNotProven) {
			a.log.Warn("admin: domain TXT check could not run", "host", d.Hostname, "err", txtErr)
		}
		proven, msg := txtErr == nil, ""
		switch {
		case proven:
		case takeover:
			msg = safeMessage(txtErr, "the TXT lookup failed") +
				" (the hostname is active on another site: only the TXT record proves ownership)"
		case rivals:
			msg = safeMessage(txtErr, "the TXT lookup failed") +
				" (other sites claim the hostname too: only the TXT record proves ownership, not the HTTP proof)"
		default:
			httpErr := a.checkHTTPProof(ctx, d, siteHost)
			if proven = httpErr == nil; !proven {
				msg = safeMessage(txtErr, "the TXT lookup failed") + "; HTTP proof: " +
					safeMessage(httpErr, "could not fetch it")
				if !errors.Is(httpErr, domainverify.ErrNotProven) {
					a.log.Warn("admin: domain HTTP proof could not be checked", "host", d.Hostname, "err", httpErr)
				}
			}
		}
		if proven {
			d.Status, d.VerifiedAt, d.Error = tenants.DomainActive, now, ""
			d.NextCheck = now.Add(a.cfg.ActiveRecheck)
		} else {
			d.Error = msg
			d.NextCheck = a.backoff(d, now)
		}
	}
	if d.Status != tenants.DomainActive {
		d.CertStatus, d.CertError, d.CertNextRetry = a.inactiveCertStatus(), "", time.Time{}
	}
	if err := a.store.UpdateDomain(ctx, d); err != nil {
		return d, lookupErr("domain", d.Hostname, err)
	}
	if !wasActive && d.Status == tenants.DomainActive && a.cfg.TLS {
		// Before OnDomainChange starts the order, whose progress the TLS
		// layer then reports.
		d.CertStatus, d.CertError, d.CertNextRetry = tenants.CertPendingIssuance, "", time.Time{}
		if err := a.store.UpdateDomainCert(ctx, d.Hostname, d.CertStatus, "", time.Time{}); err != nil {
			return d, lookupErr("domain", d.Hostname, err)
		}
	}
	if wasActive != (d.Status == tenants.DomainActive) {
		a.cfg.OnDomainChange(d.Hostname)
	}
	return d, nil
}

// checkHTTPProof runs the HTTP proof of claim d of the site whose
// platform hostname is siteHost, which the caller made sure is the only
// claim on the hostname (the edge answers every pending claim's token
// for a name pointing here, so with rivals it proves nothing). It also
// counts only when the hostname has no CNAME or a CNAME to siteHost: a
// CNAME to another site's hostname would have the platform answer the
// proof for a name that belongs to that site.
func (a *API) checkHTTPProof(ctx context.Context, d tenants.Domain, siteHost string) error {
	v := a.cfg.Verifier
	own, err := v.PointsHere(ctx, d.Hostname, siteHost, nil)
	if err != nil {
		return err
	}
	if !own {
		direct, err := v.PointsHere(ctx, d.Hostname, d.Hostname, nil)
		if err != nil {
			return err
		}
		if !direct {
			return fmt.Errorf("%w: %s has a CNAME that is not %s (or does not resolve); the HTTP proof counts only for a name without a CNAME or with a CNAME to the site's own hostname",
				domainverify.ErrNotProven, d.Hostname, siteHost)
		}
	}
	return v.CheckHTTP(ctx, d.Hostname, d.Token, d.Token)
}

// safeMessage is the user-safe description of a check's error, or
// fallback when the checker gave none.
func safeMessage(err error, fallback string) string {
	if m := domainverify.Message(err); m != "" {
		return m
	}
	return fallback
}

// backoff returns when a claim that failed its check at now is checked
// next: a delay growing with the claim's age (so checks thin out
// exponentially), zero (no more background checks) after pendingGiveUp.
func (a *API) backoff(d tenants.Domain, now time.Time) time.Time {
	age := now.Sub(d.Created)
	if age > pendingGiveUp {
		return time.Time{}
	}
	return now.Add(min(max(age/4, minBackoff), maxBackoff))
}

// RunVerifier re-checks custom domains in the background until ctx ends:
// every Config.VerifyInterval it checks at most Config.VerifyBatch claims
// that are due (pending ones with backoff, active ones every
// Config.ActiveRecheck), a few at a time. cmd/pier runs it in a goroutine.
func (a *API) RunVerifier(ctx context.Context) {
	t := time.NewTicker(a.cfg.VerifyInterval)
	defer t.Stop()
	for {
		if _, err := a.VerifyDue(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("admin: domain verifier", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// VerifyDue runs one round of the background verifier and returns how
// many claims it checked.
func (a *API) VerifyDue(ctx context.Context) (int, error) {
	due, err := a.store.DomainsDue(ctx, a.now(), a.cfg.VerifyBatch)
	if err != nil {
		return 0, fmt.Errorf("admin: listing domains due: %w", err)
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, verifyWorkers)
		mu   sync.Mutex
		errs []error
	)
	sites := map[string]tenants.Site{}
	for _, d := range due {
		s, ok := sites[d.SiteID]
		if !ok {
			if s, err = a.store.Site(ctx, d.SiteID); err != nil {
				if errors.Is(err, tenants.ErrNotFound) {
					continue // deleted meanwhile, with its claims
				}
				errs = append(errs, fmt.Errorf("admin: site of domain %s: %w", d.Hostname, err))
				continue
			}
			sites[d.SiteID] = s
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := a.checkDomain(ctx, s, d); err != nil && !errors.Is(err, tenants.ErrNotFound) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(due), errors.Join(errs...)
}

// SetCertStatus records the certificate state of the active domain host
// (for the TLS layer to report issuance progress and failures; status is
// one of the tenants.Cert* constants). It wraps tenants.ErrNotFound when
// host is not an active domain and tenants.ErrInvalid for an unknown
// status.
func (a *API) SetCertStatus(ctx context.Context, host, status, certErr string, nextRetry time.Time) error {
	if err := a.store.UpdateDomainCert(ctx, host, status, certErr, nextRetry); err != nil {
		return fmt.Errorf("admin: setting certificate status of %s: %w", host, err)
	}
	return nil
}
