package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/httperr"
	"github.com/pierhq/pier/tenants"
)

// Console sessions: a browser signs in once with a token (POST
// /api/v1/session) and is then authenticated by an HttpOnly cookie whose
// secret is stored only as its SHA-256 (tenants.ConsoleSession).
const (
	// DefaultSessionIdle is Config.SessionIdle's default.
	DefaultSessionIdle = 12 * time.Hour
	// DefaultSessionMaxAge is Config.SessionMaxAge's default.
	DefaultSessionMaxAge = 7 * 24 * time.Hour
	// SessionTouchInterval bounds how often a session in use has its idle
	// expiry extended in the store (at most once per interval).
	SessionTouchInterval = time.Minute
	// LoginRateBurst and LoginRateInterval rate-limit POST /api/v1/session
	// per client IP: LoginRateBurst attempts in a row, then one every
	// LoginRateInterval.
	LoginRateBurst    = 10
	LoginRateInterval = 6 * time.Second
	// SessionCookie is the session cookie's name over plain HTTP;
	// SecureSessionCookie its name over HTTPS (the __Host- prefix makes
	// browsers insist on Secure, Path=/ and no Domain).
	SessionCookie       = "pier_session"
	SecureSessionCookie = "__Host-pier_session"
	// CSRFHeader must be sent (with any non-empty value, e.g. "1") by
	// cookie-authenticated requests that change state, and by sign-in.
	CSRFHeader = "X-Pier-CSRF"
)

// contentSecurityPolicy is sent with every answer of the admin handler.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

var (
	errSessionInvalid = httperr.New(http.StatusUnauthorized, "unauthorized",
		"the session has expired or was signed out; sign in again")
	errLoginFailed = httperr.New(http.StatusUnauthorized, "unauthorized",
		"unknown token")
	errCSRFRefused = httperr.New(http.StatusForbidden, "csrf_refused",
		"a browser request that changes state must come from the console's own origin and carry the "+CSRFHeader+" header")
)

// securityHeaders sets the console's security headers on every answer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// secure reports whether r reached the admin handler over HTTPS.
func (a *API) secure(r *http.Request) bool { return r.TLS != nil || a.cfg.BehindTLS }

func (a *API) cookieName(r *http.Request) string {
	if a.secure(r) {
		return SecureSessionCookie
	}
	return SessionCookie
}

// sessionSecret returns the session cookie's value, if any.
func (a *API) sessionSecret(r *http.Request) string {
	c, err := r.Cookie(a.cookieName(r))
	if err != nil || len(c.Value) > maxSecretLen {
		return ""
	}
	return c.Value
}

func (a *API) setSessionCookie(w http.ResponseWriter, r *http.Request, secret string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: a.cookieName(r), Value: secret, Path: "/",
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteStrictMode,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else {
		c.MaxAge = -1 // delete it
	}
	http.SetCookie(w, c)
}

// origin returns scheme://host of u with the scheme's default port
// dropped, lower-cased.
func origin(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil &&
		(scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return scheme + "://" + host
}

// sameOrigin reports whether r's Origin header (or, without one, its
// Referer) names r's own scheme and host.
func (a *API) sameOrigin(r *http.Request) bool {
	scheme := "http"
	if a.secure(r) {
		scheme = "https"
	}
	want := origin(scheme, r.Host)
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host != "" && (u.Path == "" || u.Path == "/") && origin(u.Scheme, u.Host) == want
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Host != "" && origin(u.Scheme, u.Host) == want
	}
	return false
}

// checkCSRF refuses a browser request that could have been forged by
// another site: it must be same-origin and carry CSRFHeader, which a
// cross-site form cannot send and a cross-site script cannot send without
// a CORS preflight the admin handler never grants.
func (a *API) checkCSRF(r *http.Request) error {
	if !a.sameOrigin(r) || r.Header.Get(CSRFHeader) == "" {
		return errCSRFRefused
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sessionPrincipal resolves a session cookie's secret into a principal,
// exactly as its token would resolve, and slides its idle expiry.
func (a *API) sessionPrincipal(ctx context.Context, secret string) (*principal, error) {
	cs, err := a.store.ConsoleSession(ctx, HashToken(secret))
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, errSessionInvalid // signed out, or its token is gone
	}
	if err != nil {
		return nil, fmt.Errorf("admin: looking up console session: %w", err)
	}
	now := a.now()
	if !now.Before(cs.IdleExpires) || !now.Before(cs.Expires) {
		return nil, errSessionInvalid
	}
	p, err := a.tokenPrincipal(ctx, cs.TokenHash)
	if errors.Is(err, errUnauthorized) {
		return nil, errSessionInvalid
	}
	if err != nil {
		return nil, err
	}
	if idle := earliest(now.Add(a.cfg.SessionIdle), cs.Expires); idle.Sub(cs.IdleExpires) >= SessionTouchInterval {
		err := a.store.TouchConsoleSession(ctx, cs.Hash, idle)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil, errSessionInvalid // signed out meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("admin: extending console session: %w", err)
		}
		cs.IdleExpires = idle
	}
	p.session = &cs
	return p, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// sessionView is the answer of POST and GET /api/v1/session.
type sessionView struct {
	Kind   string     `json:"kind"` // "admin" or "tenant"
	Tenant *tenantRef `json:"tenant,omitempty"`
	// Site is the one site a site token acts on (Kind is "tenant").
	Site        *siteRef   `json:"site,omitempty"`
	TokenID     string     `json:"token_id"`
	Auth        string     `json:"auth"` // "cookie" or "bearer"
	IdleExpires *time.Time `json:"idle_expires_at,omitempty"`
	Expires     *time.Time `json:"expires_at,omitempty"`
}

type tenantRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Disabled bool   `json:"disabled"`
}

type siteRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func newSessionView(p *principal) sessionView {
	v := sessionView{Kind: "admin", TokenID: p.token.ID, Auth: "bearer"}
	if !p.admin() {
		v.Kind = "tenant"
		v.Tenant = &tenantRef{ID: p.tenant.ID, Name: p.tenant.Name, Disabled: p.tenant.Disabled}
	}
	if p.siteScoped() {
		v.Site = &siteRef{ID: p.site.ID, Name: p.site.Name}
	}
	if cs := p.session; cs != nil {
		v.Auth = "cookie"
		v.IdleExpires, v.Expires = &cs.IdleExpires, &cs.Expires
	}
	return v
}

// clientIP is the address the login rate limit is keyed by: the peer's
// address (headers a client sets are not trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type loginRequest struct {
	Token string `json:"token"`
}

// createSession signs in: POST /api/v1/session {"token": "…"}.
func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.checkCSRF(r); err != nil {
		return err // login CSRF: a foreign page must not sign the browser in
	}
	if wait := a.loginLimit.Take(clientIP(r), a.now()); wait > 0 {
		secs := int64((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		return httperr.New(http.StatusTooManyRequests, "rate_limited",
			"too many sign-in attempts from this address; retry in %ds", secs).With("retry_after", secs)
	}
	var req loginRequest
	if err := decodeJSON(w, r, maxMetadataBody, &req); err != nil {
		return err
	}
	secret := strings.TrimSpace(req.Token)
	if secret == "" || len(secret) > maxSecretLen {
		return errLoginFailed
	}
	ctx := r.Context()
	p, err := a.tokenPrincipal(ctx, HashToken(secret))
	if errors.Is(err, errUnauthorized) {
		return errLoginFailed
	}
	if err != nil {
		return err
	}
	now := a.now()
	var b [32]byte
	rand.Read(b[:]) // crypto/rand never fails on supported platforms
	sessionSecret := base64.RawURLEncoding.EncodeToString(b[:])
	cs := tenants.ConsoleSession{
		Hash: HashToken(sessionSecret), TokenID: p.token.ID, Created: now,
		IdleExpires: earliest(now.Add(a.cfg.SessionIdle), now.Add(a.cfg.SessionMaxAge)),
		Expires:     now.Add(a.cfg.SessionMaxAge),
	}
	if err := a.store.CreateConsoleSession(ctx, cs); errors.Is(err, tenants.ErrNotFound) {
		return errLoginFailed // the token was deleted meanwhile
	} else if err != nil {
		return fmt.Errorf("admin: creating console session: %w", err)
	}
	if ri, ok := ctx.Value(requestInfoKey).(*requestInfo); ok {
		ri.tokenID = p.token.ID
	}
	p.session = &cs
	a.setSessionCookie(w, r, sessionSecret, cs.Expires.Sub(now))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, newSessionView(p))
	return nil
}

// getSession answers who is signed in: GET /api/v1/session.
func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, newSessionView(principalFrom(r.Context())))
	return nil
}

// deleteSession signs out: DELETE /api/v1/session ends the cookie's
// session in the store (so it stops working on every node at once) and
// clears the cookie. Without a session cookie it does nothing; it answers
// 204 either way.
func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	secret := a.sessionSecret(r)
	if secret == "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := a.checkCSRF(r); err != nil {
		return err
	}
	err := a.store.DeleteConsoleSession(r.Context(), HashToken(secret))
	if err != nil && !errors.Is(err, tenants.ErrNotFound) {
		return fmt.Errorf("admin: deleting console session: %w", err)
	}
	a.setSessionCookie(w, r, "", 0)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ExpireConsoleSessions deletes console sessions past their idle or
// absolute expiry and returns how many it deleted. Expired sessions are
// refused whether or not this runs; the caller (cmd/pier) runs it
// periodically to keep the table small.
func (a *API) ExpireConsoleSessions(ctx context.Context) (int, error) {
	n, err := a.store.DeleteExpiredConsoleSessions(ctx, a.now())
	if err != nil {
		return n, fmt.Errorf("admin: expiring console sessions: %w", err)
	}
	return n, nil
}
