// Package gitserve publishes sites with git push: it serves each site's
// repository over git's smart HTTP protocol at /git/<site>.git, with the
// real git program (receive-pack for pushes, upload-pack for clones and
// fetches), and publishes each pushed branch through the admin publish
// pipeline before the branch moves.
//
// # Where a repository lives
//
// Any node may receive a push, so a repository is kept in the platform's
// shared stores (tenants.GitStore): its refs are Store rows updated with a
// compare-and-swap, its objects immutable packs in the blob backend. A
// node keeps a local cache repository under Config.Dir, brought up to date
// from the stores before each request (sync); losing it loses nothing.
//
// # A push
//
// receive-pack runs with a fixed argv and environment, objects quarantined
// (git's default), every object checked (receive.fsckObjects), the pack
// bounded by the tenant's plan (receive.maxInputSize) and kept as one pack
// (receive.unpackLimit=1). Its pre-receive hook is a fixed script that
// runs "pier git-hook" (RunHook), which hands the ref updates and the
// quarantine's location to this server over a unix socket only this
// process listens on, and relays what the server says to the client as
// "remote:" lines. The server builds a deployment for each pushed branch
// from the quarantined objects, uploads the pack to the blob backend and
// moves every ref in the store in one transaction (tenants.GitPush),
// activating the production branch's deployment in the same transaction.
// Only then does the hook exit 0 and git move its local refs. Any failure
// answers "remote: pier: …" lines and a non-zero exit: no ref moved, the
// live site is as it was.
//
// # What one tenant can cost the others
//
// A push holds one git process (memory bounded by git's own settings and
// the pack size limit), at most Config.MaxPushesPerTenant pushes of a
// tenant and Config.MaxProcs git processes of the node run at once (others
// get 429/503), each for at most Config.PushTimeout, and a client silent
// for Config.IdleTimeout is dropped. Storage is bounded per plan
// (tenants.Limits.GitRepoMB, GitPushMB).
//
// gitserve imports admin (the publish pipeline and token scoping), tenants,
// assets, internal/project, internal/dnsname and internal/httperr; only
// cmd/ imports it.
package gitserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// Store is what gitserve needs of the registry; tenants.Store satisfies it.
type Store interface {
	tenants.GitStore
	Site(ctx context.Context, ref string) (tenants.Site, error)
	Tenant(ctx context.Context, ref string) (tenants.Tenant, error)
	Domains(ctx context.Context, siteID string) ([]tenants.Domain, error)
}

// Publisher is the admin publish pipeline and token scoping; *admin.API
// satisfies it.
type Publisher interface {
	AuthorizeGit(ctx context.Context, secret, siteRef string, write bool) (admin.GitGrant, error)
	Limits() assets.Limits
	StartUpload(ctx context.Context, site tenants.Site, m assets.Manifest, worker *tenants.WorkerBlob) (admin.Upload, error)
	PutBlob(ctx context.Context, tenantID, uploadID, hash string, body io.Reader, size int64) error
	Deploy(ctx context.Context, site tenants.Site, req admin.DeployRequest) (tenants.Deployment, error)
	SiteChanged(site tenants.Site)
}

// Config configures a Server.
type Config struct {
	// Dir holds the node's local cache repositories (Dir/repos) and the
	// hook script (Dir/hooks). Required.
	Dir string
	// HookCommand is the program and arguments the pre-receive hook runs
	// (cmd/pier: its own executable and "git-hook"); it must make
	// RunHook run. Required.
	HookCommand []string
	// Git is the git program. Default: "git" from PATH.
	Git string
	// Path is the PATH git and its hook run with (never the server's own
	// environment). Default "/usr/local/bin:/usr/bin:/bin".
	Path string

	Store     Store
	Backend   assets.Backend
	Publisher Publisher

	// Domain is the platform domain; EdgeURL makes a host's public URL
	// (as admin.Config's). Both are for the URLs a push prints.
	Domain  string
	EdgeURL func(host string) string

	// PushTimeout bounds a whole push or fetch. Default 15 minutes.
	PushTimeout time.Duration
	// IdleTimeout drops a client that sends or reads nothing for this
	// long. Default 2 minutes.
	IdleTimeout time.Duration
	// MaxProcs bounds the git processes the node runs for clients at
	// once (503 beyond). Default 8.
	MaxProcs int
	// MaxPushesPerTenant bounds one tenant's pushes in progress on the
	// node (429 beyond). Default 2.
	MaxPushesPerTenant int
	// RepackAt is the number of packs a repository may reach before a
	// push repacks it into one. Default 16.
	RepackAt int

	Log *slog.Logger
}

// Server serves the repositories. Create it with New; Close it.
type Server struct {
	cfg      Config
	git      string
	hooksDir string
	sockDir  string
	sock     string
	ln       net.Listener

	procs chan struct{}

	mu        sync.Mutex
	locks     map[string]*siteLock // per site: the local cache and pushes
	tenantRun map[string]int       // pushes in progress per tenant
	pushes    map[string]*push     // by push id, while receive-pack runs

	wg     sync.WaitGroup
	closed chan struct{}
	// bg is the context of background work (repacks), cancelled by Close.
	bg     context.Context
	stopBg context.CancelFunc
}

type siteLock struct {
	ch   chan struct{} // a 1-slot semaphore, so waiting can be cancelled
	refs int
}

// New prepares Dir, writes the hook script, and listens for hooks.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" || len(cfg.HookCommand) == 0 || cfg.Store == nil || cfg.Backend == nil || cfg.Publisher == nil {
		return nil, errors.New("gitserve: Dir, HookCommand, Store, Backend and Publisher are required")
	}
	// git runs in Dir and is given paths under it: they must not depend
	// on the working directory (pier serve --data ./data).
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("gitserve: %w", err)
	}
	cfg.Dir = dir
	if cfg.Git == "" {
		cfg.Git = "git"
	}
	git, err := exec.LookPath(cfg.Git)
	if err != nil {
		return nil, fmt.Errorf("gitserve: git push needs the git program: %w", err)
	}
	if cfg.Path == "" {
		cfg.Path = "/usr/local/bin:/usr/bin:/bin"
	}
	if cfg.EdgeURL == nil {
		cfg.EdgeURL = func(h string) string { return "http://" + h + "/" }
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = 15 * time.Minute
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.MaxProcs <= 0 {
		cfg.MaxProcs = 8
	}
	if cfg.MaxPushesPerTenant <= 0 {
		cfg.MaxPushesPerTenant = 2
	}
	if cfg.RepackAt <= 1 {
		cfg.RepackAt = 16
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		git:       git,
		hooksDir:  filepath.Join(cfg.Dir, "hooks"),
		procs:     make(chan struct{}, cfg.MaxProcs),
		locks:     map[string]*siteLock{},
		tenantRun: map[string]int{},
		pushes:    map[string]*push{},
		closed:    make(chan struct{}),
	}
	s.bg, s.stopBg = context.WithCancel(context.Background())
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "repos"), 0o700); err != nil {
		return nil, fmt.Errorf("gitserve: %w", err)
	}
	if err := s.writeHook(); err != nil {
		return nil, err
	}
	// A unix socket path is limited to about 100 bytes, so the socket
	// lives in a short private directory of its own, not under Dir.
	if s.sockDir, err = os.MkdirTemp("", "pier-git-"); err != nil {
		return nil, fmt.Errorf("gitserve: %w", err)
	}
	s.sock = filepath.Join(s.sockDir, "hook.sock")
	if s.ln, err = net.Listen("unix", s.sock); err != nil {
		os.RemoveAll(s.sockDir)
		return nil, fmt.Errorf("gitserve: listening for hooks: %w", err)
	}
	s.wg.Add(1)
	go s.acceptHooks()
	return s, nil
}

// Close stops listening for hooks, cancels a repack in progress and waits
// for hook connections to end.
func (s *Server) Close() error {
	close(s.closed)
	s.stopBg()
	err := s.ln.Close()
	s.wg.Wait()
	os.RemoveAll(s.sockDir)
	return err
}

// lockSite takes the node's lock of a site's local repository.
func (s *Server) lockSite(ctx context.Context, siteID string) (unlock func(), err error) {
	s.mu.Lock()
	l := s.locks[siteID]
	if l == nil {
		l = &siteLock{ch: make(chan struct{}, 1)}
		s.locks[siteID] = l
	}
	l.refs++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, siteID)
		}
		s.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// acquireProc takes one of the node's git process slots, or fails at once.
func (s *Server) acquireProc() bool {
	select {
	case s.procs <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Server) releaseProc() { <-s.procs }

// startTenantPush counts a push of tenantID; false when the tenant is at
// its limit.
func (s *Server) startTenantPush(tenantID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenantRun[tenantID] >= s.cfg.MaxPushesPerTenant {
		return false
	}
	s.tenantRun[tenantID]++
	return true
}

func (s *Server) endTenantPush(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenantRun[tenantID]--; s.tenantRun[tenantID] <= 0 {
		delete(s.tenantRun, tenantID)
	}
}
