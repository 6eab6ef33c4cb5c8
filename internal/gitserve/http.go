package gitserve

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/internal/httperr"
)

// Prefix is the URL path under which ServeHTTP answers:
// <Prefix><site>.git/info/refs, …/git-upload-pack, …/git-receive-pack
// (".git" may be left out).
const Prefix = "/git/"

// The two services of git's smart HTTP protocol.
const (
	uploadPack  = "git-upload-pack"
	receivePack = "git-receive-pack"
)

// maxSecret bounds the password (a token) read from Basic auth.
const maxSecret = 512

// ServeHTTP serves git's smart HTTP protocol (the dumb one is refused).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	site, rest, ok := splitPath(r.URL.Path)
	if !ok {
		plain(w, http.StatusNotFound, "not a repository URL: use "+Prefix+"<site>.git")
		return
	}
	switch {
	case rest == "info/refs" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		svc := r.URL.Query().Get("service")
		if svc != uploadPack && svc != receivePack {
			plain(w, http.StatusForbidden, "Pier serves git's smart HTTP protocol only (git 1.6.6 or newer)")
			return
		}
		s.serveAdvertisement(w, r, site, svc)
	case rest == uploadPack || rest == receivePack:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			plain(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		if r.Header.Get("Content-Type") != "application/x-"+rest+"-request" {
			plain(w, http.StatusUnsupportedMediaType, "want Content-Type application/x-"+rest+"-request")
			return
		}
		s.serveRPC(w, r, site, rest)
	default:
		plain(w, http.StatusNotFound, "not found")
	}
}

// splitPath reads /git/<site>[.git]/<rest>; site must be a site name.
func splitPath(p string) (site, rest string, ok bool) {
	p, ok = strings.CutPrefix(p, Prefix)
	if !ok {
		return "", "", false
	}
	site, rest, ok = strings.Cut(p, "/")
	if !ok {
		return "", "", false
	}
	site = strings.TrimSuffix(site, ".git")
	if !dnsname.ValidSiteName(site) {
		return "", "", false
	}
	return site, rest, true
}

// access authenticates a request for a site: the token is the Basic auth
// password (any user name) or a Bearer token. It writes the answer and
// returns false when the request may not go on.
func (s *Server) access(w http.ResponseWriter, r *http.Request, siteName string, write bool) (admin.GitGrant, bool) {
	secret := ""
	if _, pass, ok := r.BasicAuth(); ok {
		secret = pass
	} else if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		secret = strings.TrimSpace(tok)
	}
	if secret == "" || len(secret) > maxSecret {
		challenge(w)
		return admin.GitGrant{}, false
	}
	g, err := s.cfg.Publisher.AuthorizeGit(r.Context(), secret, siteName, write)
	if err != nil {
		he := admin.PublicError(err)
		switch {
		case errors.Is(err, admin.ErrGitUnauthorized):
			challenge(w)
		case he.Status >= 500:
			s.cfg.Log.ErrorContext(r.Context(), "git: authorizing", "site", siteName, "err", err)
			plain(w, he.Status, he.Message)
		default:
			plain(w, he.Status, he.Message)
		}
		return admin.GitGrant{}, false
	}
	return g, true
}

func challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Pier", charset="UTF-8"`)
	plain(w, http.StatusUnauthorized, "authentication required: the password is a Pier token (tenant, site or admin)")
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// gitProtocol returns the GIT_PROTOCOL value a client asked for with the
// Git-Protocol header, when it is one git defines ("" otherwise).
func gitProtocol(r *http.Request) string {
	switch v := r.Header.Get("Git-Protocol"); v {
	case "version=0", "version=1", "version=2":
		return v
	}
	return ""
}

func (s *Server) serveAdvertisement(w http.ResponseWriter, r *http.Request, siteName, svc string) {
	g, ok := s.access(w, r, siteName, svc == receivePack)
	if !ok {
		return
	}
	site := g.Site
	if !s.acquireProc() {
		plain(w, http.StatusServiceUnavailable, "the server is busy with other git requests; retry in a moment")
		return
	}
	defer s.releaseProc()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PushTimeout)
	defer cancel()
	if err := s.syncLocked(ctx, site); err != nil {
		s.fail(w, r, "syncing the repository", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-"+svc+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	var env []string
	if p := gitProtocol(r); p != "" && svc == uploadPack {
		env = append(env, "GIT_PROTOCOL="+p)
	}
	// As git http-backend: the service line first, in every protocol
	// version (a v2 client skips it and reads the capabilities).
	io.WriteString(w, pktLine("# service="+svc+"\n")+"0000")
	cmd := s.command(ctx, env, nil, strings.TrimPrefix(svc, "git-"), "--stateless-rpc", "--advertise-refs", "--", s.repoDir(site.ID))
	cmd.Stdout = w
	if err := s.run(cmd); err != nil {
		s.cfg.Log.WarnContext(ctx, "git: advertising refs", "site", site.Name, "service", svc, "err", err)
	}
}

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request, siteName, svc string) {
	g, ok := s.access(w, r, siteName, svc == receivePack)
	if !ok {
		return
	}
	site, t := g.Site, g.Tenant
	if svc == receivePack {
		if !s.startTenantPush(t.ID) {
			plain(w, http.StatusTooManyRequests, fmt.Sprintf("tenant %s already has %d pushes in progress; retry when one ends", t.Name, s.cfg.MaxPushesPerTenant))
			return
		}
		defer s.endTenantPush(t.ID)
	}
	if !s.acquireProc() {
		plain(w, http.StatusServiceUnavailable, "the server is busy with other git requests; retry in a moment")
		return
	}
	defer s.releaseProc()

	// A large push outlives the server's request timeouts: lift them, and
	// drop the client instead when it goes quiet for IdleTimeout.
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex()
	in := &idleReader{r: r.Body, rc: rc, idle: s.cfg.IdleTimeout}
	// A client that stalled or left mid-request gets its connection
	// closed (the unread rest of its body must not be read as a request).
	defer func() {
		if in.err != nil {
			panic(http.ErrAbortHandler)
		}
	}()
	body := io.Reader(in)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			plain(w, http.StatusBadRequest, "the request body is not valid gzip")
			return
		}
		defer zr.Close()
		body = zr
	}
	out := &idleWriter{w: w, rc: rc, idle: s.cfg.IdleTimeout}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PushTimeout)
	defer cancel()

	if svc == uploadPack {
		if err := s.syncLocked(ctx, site); err != nil {
			s.fail(w, r, "syncing the repository", err)
			return
		}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		w.Header().Set("Cache-Control", "no-cache")
		var env []string
		if p := gitProtocol(r); p != "" {
			env = append(env, "GIT_PROTOCOL="+p)
		}
		cmd := s.command(ctx, env, nil, "upload-pack", "--stateless-rpc", "--strict", "--", s.repoDir(site.ID))
		cmd.Stdin, cmd.Stdout = body, out
		if err := s.run(cmd); err != nil {
			s.cfg.Log.InfoContext(ctx, "git: upload-pack", "site", site.Name, "err", err)
		}
		return
	}
	s.receive(ctx, w, out, body, g)
}

// fail answers an error of the server's own (storage, git) as 503 or 500
// without details, and logs it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, doing string, err error) {
	s.cfg.Log.ErrorContext(r.Context(), "git: "+doing, "path", r.URL.Path, "err", err)
	he := admin.PublicError(err)
	if he.Status < 500 {
		he = httperr.New(http.StatusInternalServerError, "internal", "internal error")
	}
	plain(w, he.Status, he.Message)
}

// pktLine frames s as one git pkt-line.
func pktLine(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// idleReader extends the connection's read deadline before each read, so
// a push may take as long as it needs while the client keeps sending.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
	err  error // the read error other than EOF, if any: the client stalled or left
}

func (i *idleReader) Read(p []byte) (int, error) {
	_ = i.rc.SetReadDeadline(time.Now().Add(i.idle))
	n, err := i.r.Read(p)
	if err != nil && err != io.EOF {
		i.err = err
	}
	return n, err
}

// idleWriter extends the write deadline before each write and flushes
// after it, so progress reaches the client as git writes it.
type idleWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (i *idleWriter) Write(p []byte) (int, error) {
	_ = i.rc.SetWriteDeadline(time.Now().Add(i.idle))
	n, err := i.w.Write(p)
	if err == nil {
		err = i.rc.Flush()
	}
	return n, err
}
