package gitserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/dnsname"
	"github.com/pierhq/pier/tenants"
)

// zeroOID is git's "no object" (a created or deleted ref).
const zeroOID = "0000000000000000000000000000000000000000"

// push is one receive-pack run: what its hook step needs and what it did.
type push struct {
	s      *Server
	ctx    context.Context
	site   tenants.Site
	tenant tenants.Tenant
	limits tenants.Limits
	dir    string
	// siteToken: pushed with a site token (DeployRequest.SiteToken).
	siteToken bool

	applied bool // the store took the push
	packs   int  // the repository's packs after it
}

// receive runs receive-pack for one push, holding the site's lock so the
// node's pushes to a site take turns (pushes on other nodes are ordered
// by the store's compare-and-swap).
func (s *Server) receive(ctx context.Context, w http.ResponseWriter, out io.Writer, body io.Reader, g admin.GitGrant) {
	site, t := g.Site, g.Tenant
	unlock, err := s.lockSite(ctx, site.ID)
	if err != nil {
		plain(w, http.StatusServiceUnavailable, "gave up waiting for another push to this site")
		return
	}
	defer unlock()
	if err := s.sync(ctx, site); err != nil {
		s.cfg.Log.ErrorContext(ctx, "git: syncing before a push", "site", site.Name, "err", err)
		plain(w, http.StatusServiceUnavailable, "the repository is unavailable; retry later")
		return
	}
	p := &push{s: s, ctx: ctx, site: site, tenant: t, limits: t.EffectiveLimits(), dir: s.repoDir(site.ID), siteToken: g.SiteToken}
	id, done := s.registerPush(p)
	defer done()

	w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
	w.Header().Set("Cache-Control", "no-cache")
	env := []string{envSocket + "=" + s.sock, envPush + "=" + id}
	cfg := []string{
		"-c", "receive.fsckObjects=true",
		"-c", "receive.unpackLimit=1", // every push's objects stay one pack: the pack the store keeps
		"-c", fmt.Sprintf("receive.maxInputSize=%d", int64(p.limits.GitPushMB)<<20),
		"-c", "receive.shallowUpdate=true",
		"-c", "receive.denyNonFastForwards=false",
		"-c", "receive.denyDeletes=false",
		"-c", "receive.advertisePushOptions=false",
		"-c", "receive.updateServerInfo=false",
	}
	cmd := s.command(ctx, env, cfg, "receive-pack", "--stateless-rpc", "--", p.dir)
	cmd.Stdin, cmd.Stdout = body, out
	if err := s.run(cmd); err != nil {
		s.cfg.Log.InfoContext(ctx, "git: receive-pack", "site", site.Name, "err", err)
	}
	if p.applied && p.packs >= s.cfg.RepackAt {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.repack(site)
		}()
	}
}

// preReceive is the push's hook step: check every update, publish every
// pushed branch, store the pack and move the refs in the store. It
// returns whether git may move its refs; say sends "remote: pier: " lines.
func (p *push) preReceive(ctx context.Context, req hookRequest, say func(string, ...any)) bool {
	env, err := p.objectEnv(req)
	if err != nil {
		say("%v", err)
		return false
	}
	refs, err := p.s.cfg.Store.GitRefs(ctx, p.site.ID)
	if err != nil {
		return p.internal(ctx, say, "reading refs", err)
	}
	current := map[string]tenants.GitRef{}
	for _, r := range refs {
		current[r.Name] = r
	}
	production := "refs/heads/" + firstNonEmpty(p.site.ProductionBranch, tenants.DefaultProductionBranch)
	for _, u := range req.Updates {
		if msg := checkUpdate(u, production); msg != "" {
			say("%s", msg)
			return false
		}
	}
	var packs []string
	var newBytes int64
	if env != nil {
		packs, newBytes, err = quarantinePacks(req.Quarantine)
	}
	if err != nil {
		return p.internal(ctx, say, "listing the pushed pack", err)
	}
	if ok := p.checkRepoSize(ctx, say, newBytes); !ok {
		return false
	}

	gp := tenants.GitPush{SiteID: p.site.ID}
	taken := map[string]string{} // alias → ref
	for _, r := range refs {
		if r.Alias != "" {
			taken[r.Alias] = r.Name
		}
	}
	var results []branchResult
	for _, u := range req.Updates {
		old := u.Old
		if old == zeroOID {
			old = ""
		}
		branch := strings.TrimPrefix(u.Ref, "refs/heads/")
		if u.New == zeroOID {
			gp.Refs = append(gp.Refs, tenants.GitRefUpdate{Old: old, Ref: tenants.GitRef{SiteID: p.site.ID, Name: u.Ref}})
			results = append(results, branchResult{branch: branch, deleted: true, alias: current[u.Ref].Alias})
			continue
		}
		d, reused, err := p.publish(ctx, env, branch, u.New, say)
		if err != nil {
			p.refuse(ctx, say, branch, err)
			return false
		}
		ref := tenants.GitRef{SiteID: p.site.ID, Name: u.Ref, Commit: u.New, Deployment: d}
		if u.Ref == production {
			gp.Activate = d
		} else {
			ref.Alias = p.alias(current[u.Ref], branch, taken)
		}
		gp.Refs = append(gp.Refs, tenants.GitRefUpdate{Old: old, Ref: ref})
		results = append(results, branchResult{branch: branch, deployment: d, alias: ref.Alias, production: u.Ref == production, reused: reused})
	}

	stored := make([]string, 0, len(packs))
	for _, name := range packs {
		gpk, err := p.s.uploadPack(ctx, p.site.ID, filepath.Join(req.Quarantine, "pack"), name)
		if err != nil {
			p.dropPacks(stored)
			return p.internal(ctx, say, "storing the pack", err)
		}
		stored = append(stored, name)
		gp.Packs = append(gp.Packs, gpk)
	}
	if gp.Shallow, err = readShallow(req.Shallow, p.dir); err != nil {
		p.dropPacks(stored)
		return p.internal(ctx, say, "reading the shallow list", err)
	}
	if err := p.s.cfg.Store.ApplyGitPush(ctx, gp); err != nil {
		p.dropPacks(stored)
		var ce *tenants.GitRefConflictError
		if errors.As(err, &ce) {
			say("%s moved since you fetched (another push won); nothing was published: fetch, then push again", ce.Ref)
			return false
		}
		return p.internal(ctx, say, "moving the refs", err)
	}
	p.applied = true
	if all, err := p.s.cfg.Store.GitPacks(ctx, p.site.ID); err == nil {
		p.packs = len(all)
	}
	p.s.cfg.Publisher.SiteChanged(p.site)
	p.report(ctx, results, say)
	return true
}

// checkUpdate refuses what a push may not do; "" when u is fine.
func checkUpdate(u refUpdate, production string) string {
	branch, ok := strings.CutPrefix(u.Ref, "refs/heads/")
	switch {
	case !ok:
		return fmt.Sprintf("refusing %s: only branches (refs/heads/…) can be pushed to Pier", printable(u.Ref))
	case !tenants.ValidBranchName(branch):
		return fmt.Sprintf("refusing branch %s: not a branch name Pier accepts (printable ASCII, no spaces, at most %d bytes)", printable(branch), tenants.MaxBranchName)
	case !validOID(u.Old) || !validOID(u.New):
		return "refusing " + u.Ref + ": Pier repositories use SHA-1 object ids"
	case u.New == zeroOID && u.Ref == production:
		return fmt.Sprintf("refusing to delete %s: it is the site's production branch (change the production branch first)", branch)
	}
	return ""
}

func validOID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// printable quotes s for a message, bounded.
func printable(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// objectEnv checks that the hook's object directories are this push's
// repository's (the quarantine inside it) and returns the environment
// that lets git read the quarantined objects.
func (p *push) objectEnv(req hookRequest) ([]string, error) {
	if req.Quarantine == "" && req.ObjectDir == "" && req.Alternates == "" {
		return nil, nil // the push brought no objects (a delete, or known commits)
	}
	objects := filepath.Join(p.dir, "objects") + string(filepath.Separator)
	q := filepath.Clean(req.Quarantine)
	if !strings.HasPrefix(q+string(filepath.Separator), objects) || q+string(filepath.Separator) == objects ||
		filepath.Clean(req.ObjectDir) != q || filepath.Clean(req.Alternates) != filepath.Clean(objects) {
		return nil, errors.New("the hook's object directories are not this push's; nothing was published")
	}
	req.Quarantine = q
	return []string{
		"GIT_QUARANTINE_PATH=" + q,
		"GIT_OBJECT_DIRECTORY=" + q,
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Clean(objects),
	}, nil
}

// quarantinePacks lists the pushed packs ("pack-<hex>") and their bytes.
func quarantinePacks(quarantine string) ([]string, int64, error) {
	ents, err := os.ReadDir(filepath.Join(quarantine, "pack"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil // nothing new: a push of known commits, or a delete
	}
	if err != nil {
		return nil, 0, err
	}
	var names []string
	var total int64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok || !strings.HasPrefix(name, "pack-") {
			continue
		}
		if _, err := os.Stat(filepath.Join(quarantine, "pack", name+".idx")); err != nil {
			return nil, 0, err
		}
		fi, err := e.Info()
		if err != nil {
			return nil, 0, err
		}
		names = append(names, name)
		total += fi.Size()
	}
	return names, total, nil
}

// readShallow reads the shallow file receive-pack gives a push from a
// shallow clone: commits whose parents the repository does not have.
func readShallow(path, dir string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(filepath.Clean(path), filepath.Clean(dir)+string(filepath.Separator)) {
		return nil, errors.New("shallow file outside the repository")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Fields(string(data)) {
		if validOID(l) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (p *push) checkRepoSize(ctx context.Context, say func(string, ...any), newBytes int64) bool {
	packs, err := p.s.cfg.Store.GitPacks(ctx, p.site.ID)
	if err != nil {
		return p.internal(ctx, say, "listing packs", err)
	}
	total := newBytes
	for _, pk := range packs {
		total += pk.Size
	}
	if limit := int64(p.limits.GitRepoMB) << 20; newBytes > 0 && total > limit {
		say("refused: the repository would be %s, over the plan's limit of %d MB (gitRepoMB); nothing was published", humanBytes(total), p.limits.GitRepoMB)
		return false
	}
	return true
}

// alias keeps a branch's alias, or picks one no other branch holds.
func (p *push) alias(cur tenants.GitRef, branch string, taken map[string]string) string {
	if cur.Alias != "" {
		return cur.Alias
	}
	a := dnsname.BranchAlias(branch, p.site.Name)
	for n := 1; taken[a] != "" && taken[a] != "refs/heads/"+branch; n++ {
		a = dnsname.BranchAliasSuffixed(branch, p.site.Name, n)
	}
	taken[a] = "refs/heads/" + branch
	return a
}

func (p *push) dropPacks(names []string) {
	for _, n := range names {
		p.s.deletePack(context.WithoutCancel(p.ctx), p.site.ID, n)
	}
}

// internal reports an error of the server's own, logs it, refuses.
func (p *push) internal(ctx context.Context, say func(string, ...any), doing string, err error) bool {
	p.s.cfg.Log.ErrorContext(ctx, "git: "+doing, "site", p.site.Name, "err", err)
	say("internal error while %s; nothing was published, retry later", doing)
	return false
}

// branchResult is what a push did to one branch, for the report.
type branchResult struct {
	branch, deployment, alias string
	production, deleted       bool
	reused                    bool
}

// report prints the URLs of what the push published.
func (p *push) report(ctx context.Context, results []branchResult, say func(string, ...any)) {
	domain, url := p.s.cfg.Domain, p.s.cfg.EdgeURL
	for _, r := range results {
		switch {
		case r.deleted:
			if r.alias != "" {
				say("branch %s deleted; %s no longer serves it", r.branch, url(r.alias+dnsname.PreviewSep+p.site.Name+"."+domain))
			} else {
				say("branch %s deleted", r.branch)
			}
		case r.production:
			say("deployment %s is live", r.deployment)
			say("  %s", url(dnsname.SiteHost(p.site.Name, domain)))
			if ds, err := p.s.cfg.Store.Domains(ctx, p.site.ID); err == nil {
				for _, d := range ds {
					if d.Status == tenants.DomainActive {
						say("  %s", url(d.Hostname))
					}
				}
			}
			say("  preview %s", url(dnsname.PreviewHost(r.deployment, p.site.Name, domain)))
		default:
			say("deployment %s of branch %s (a preview; production is unchanged)", r.deployment, r.branch)
			say("  branch %s", url(r.alias+dnsname.PreviewSep+p.site.Name+"."+domain))
			say("  preview %s", url(dnsname.PreviewHost(r.deployment, p.site.Name, domain)))
		}
	}
}
