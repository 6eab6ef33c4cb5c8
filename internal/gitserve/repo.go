package gitserve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// gitConfig is the configuration every git process runs with, on its
// command line (the repositories' own config files are git's defaults).
func (s *Server) gitConfig() []string {
	return []string{
		"-c", "core.hooksPath=" + s.hooksDir,
		// Stream big blobs instead of holding them (and deltas of them)
		// in memory.
		"-c", "core.bigFileThreshold=16m",
		"-c", "pack.threads=2",
		"-c", "gc.auto=0",
		"-c", "receive.autogc=false",
		"-c", "core.logAllRefUpdates=false",
		"-c", "uploadpack.allowFilter=true",
	}
}

// command returns git with the fixed configuration and environment, args
// after it. Nothing of the client reaches it but env (validated by the
// caller) and what its stdin carries.
func (s *Server) command(ctx context.Context, env []string, extraConfig []string, args ...string) *exec.Cmd {
	argv := append(s.gitConfig(), extraConfig...)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, s.git, argv...)
	cmd.Env = append([]string{
		"PATH=" + s.cfg.Path,
		"HOME=" + s.cfg.Dir,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	}, env...)
	cmd.Dir = s.cfg.Dir
	// Its own process group, killed whole (hooks included) when the
	// client goes away or the time is up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs cmd and returns its error with the end of its stderr.
func (s *Server) run(cmd *exec.Cmd) error {
	var stderr tailBuffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%s: %w: %s", cmd.Args[len(s.gitConfig())+1], err, msg)
		}
		return fmt.Errorf("%w", err)
	}
	return nil
}

// output runs git and returns its stdout.
func (s *Server) output(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := s.command(ctx, env, nil, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := s.run(cmd); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// repoDir is the local cache repository of a site: derived from its id,
// never from the request.
func (s *Server) repoDir(siteID string) string {
	return filepath.Join(s.cfg.Dir, "repos", siteID+".git")
}

// writeHook writes the pre-receive hook: a fixed script that runs
// HookCommand, each argument single-quoted.
func (s *Server) writeHook() error {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by pier serve: hands the push to the server (see pier git-hook).\nexec")
	for _, a := range s.cfg.HookCommand {
		if strings.ContainsAny(a, "'\n\x00") {
			return fmt.Errorf("gitserve: hook command argument %q cannot be quoted", a)
		}
		b.WriteString(" '" + a + "'")
	}
	b.WriteString("\n")
	if err := os.MkdirAll(s.hooksDir, 0o700); err != nil {
		return fmt.Errorf("gitserve: %w", err)
	}
	tmp := filepath.Join(s.hooksDir, ".pre-receive.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o700); err != nil {
		return fmt.Errorf("gitserve: writing the hook: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.hooksDir, "pre-receive")); err != nil {
		return fmt.Errorf("gitserve: writing the hook: %w", err)
	}
	return nil
}

// syncLocked is sync under the site's lock.
func (s *Server) syncLocked(ctx context.Context, site tenants.Site) error {
	unlock, err := s.lockSite(ctx, site.ID)
	if err != nil {
		return err
	}
	defer unlock()
	return s.sync(ctx, site)
}

// sync brings the site's local cache repository up to date with the
// stores: it creates it if needed, downloads the packs it lacks, removes
// the packs the store no longer lists (repacked), and sets refs, HEAD (the
// production branch) and the shallow list as the store has them. The
// caller holds the site's lock.
func (s *Server) sync(ctx context.Context, site tenants.Site) error {
	dir := s.repoDir(site.ID)
	if _, err := os.Stat(filepath.Join(dir, "objects")); errors.Is(err, os.ErrNotExist) {
		tmp := dir + ".init"
		os.RemoveAll(tmp)
		if _, err := s.output(ctx, nil, "init", "--bare", "--quiet", "--", tmp); err != nil {
			return fmt.Errorf("gitserve: creating the local repository: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("gitserve: creating the local repository: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("gitserve: %w", err)
	}
	packs, err := s.cfg.Store.GitPacks(ctx, site.ID)
	if err != nil {
		return fmt.Errorf("gitserve: listing packs: %w", err)
	}
	if err := s.syncPacks(ctx, site.ID, dir, packs); err != nil {
		return err
	}
	refs, err := s.cfg.Store.GitRefs(ctx, site.ID)
	if err != nil {
		return fmt.Errorf("gitserve: listing refs: %w", err)
	}
	if err := s.syncRefs(ctx, dir, refs); err != nil {
		return err
	}
	shallow, err := s.cfg.Store.GitShallow(ctx, site.ID)
	if err != nil {
		return fmt.Errorf("gitserve: listing shallow commits: %w", err)
	}
	if err := writeIfChanged(filepath.Join(dir, "shallow"), lines(shallow)); err != nil {
		return err
	}
	branch := site.ProductionBranch
	if branch == "" {
		branch = tenants.DefaultProductionBranch
	}
	return writeIfChanged(filepath.Join(dir, "HEAD"), "ref: refs/heads/"+branch+"\n")
}

func lines(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return strings.Join(ss, "\n") + "\n"
}

// writeIfChanged replaces the file with content (removing it when content
// is empty) unless it already holds exactly that.
func writeIfChanged(path, content string) error {
	old, err := os.ReadFile(path)
	if err == nil && string(old) == content || content == "" && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if content == "" {
		return os.Remove(path)
	}
	tmp := path + ".pier-tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("gitserve: %w", err)
	}
	return os.Rename(tmp, path)
}

// localPacks lists the names ("pack-<hex>") of the packs in dir.
func localPacks(dir string) (map[string]bool, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "objects", "pack"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("gitserve: %w", err)
	}
	have := map[string]bool{}
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".idx"); ok && strings.HasPrefix(name, "pack-") {
			have[name] = true
		}
	}
	return have, nil
}

func (s *Server) syncPacks(ctx context.Context, siteID, dir string, packs []tenants.GitPack) error {
	have, err := localPacks(dir)
	if err != nil {
		return err
	}
	packDir := filepath.Join(dir, "objects", "pack")
	if err := os.MkdirAll(packDir, 0o700); err != nil {
		return fmt.Errorf("gitserve: %w", err)
	}
	want := map[string]bool{}
	for _, p := range packs {
		want[p.Name] = true
		if have[p.Name] {
			continue
		}
		// The pack first, its index last: git finds packs by their index.
		if err := s.download(ctx, tenants.GitPackKey(siteID, p.Name), filepath.Join(packDir, p.Name+".pack")); err != nil {
			return err
		}
		if err := s.download(ctx, tenants.GitIndexKey(siteID, p.Name), filepath.Join(packDir, p.Name+".idx")); err != nil {
			return err
		}
	}
	for name := range have {
		if !want[name] {
			for _, ext := range []string{".idx", ".pack", ".rev", ".bitmap", ".keep"} {
				os.Remove(filepath.Join(packDir, name+ext))
			}
		}
	}
	return nil
}

// download copies a blob into a new file at path, atomically.
func (s *Server) download(ctx context.Context, key, path string) error {
	rc, err := s.cfg.Backend.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("gitserve: reading %s: %w", key, err)
	}
	defer rc.Close()
	tmp := path + ".pier-tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o400)
	if err != nil {
		return fmt.Errorf("gitserve: %w", err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("gitserve: downloading %s: %w", key, err)
	}
	return nil
}

// syncRefs makes the local refs exactly the store's.
func (s *Server) syncRefs(ctx context.Context, dir string, refs []tenants.GitRef) error {
	out, err := s.output(ctx, nil, "--git-dir="+dir, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return fmt.Errorf("gitserve: listing local refs: %w", err)
	}
	local := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if oid, name, ok := strings.Cut(sc.Text(), " "); ok {
			local[name] = oid
		}
	}
	var cmds strings.Builder
	for _, r := range refs {
		if local[r.Name] != r.Commit {
			fmt.Fprintf(&cmds, "update %s %s\n", r.Name, r.Commit)
		}
		delete(local, r.Name)
	}
	names := make([]string, 0, len(local))
	for name := range local {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&cmds, "delete %s\n", name)
	}
	if cmds.Len() == 0 {
		return nil
	}
	cmd := s.command(ctx, nil, nil, "--git-dir="+dir, "update-ref", "--stdin")
	cmd.Stdin = strings.NewReader(cmds.String())
	if err := s.run(cmd); err != nil {
		return fmt.Errorf("gitserve: setting local refs: %w", err)
	}
	return nil
}

// uploadPack stores a pack and its index in the blob backend.
func (s *Server) uploadPack(ctx context.Context, siteID, packDir, name string) (tenants.GitPack, error) {
	p := tenants.GitPack{SiteID: siteID, Name: name, Created: time.Now().UTC()}
	for _, f := range []struct{ ext, key string }{
		{".pack", tenants.GitPackKey(siteID, name)},
		{".idx", tenants.GitIndexKey(siteID, name)},
	} {
		fh, err := os.Open(filepath.Join(packDir, name+f.ext))
		if err != nil {
			return p, fmt.Errorf("gitserve: %w", err)
		}
		fi, err := fh.Stat()
		if err == nil {
			err = s.cfg.Backend.Put(ctx, f.key, fh, fi.Size())
		}
		fh.Close()
		if err != nil {
			return p, fmt.Errorf("gitserve: storing %s: %w", f.key, err)
		}
		if f.ext == ".pack" {
			p.Size = fi.Size()
		}
	}
	return p, nil
}

// deletePack removes a pack and its index from the blob backend.
func (s *Server) deletePack(ctx context.Context, siteID, name string) {
	for _, key := range []string{tenants.GitPackKey(siteID, name), tenants.GitIndexKey(siteID, name)} {
		if err := s.cfg.Backend.Delete(ctx, key); err != nil && !errors.Is(err, assets.ErrNotFound) {
			s.cfg.Log.WarnContext(ctx, "git: deleting a pack", "key", key, "err", err)
		}
	}
}

// repack rolls a repository with too many packs into one: it runs under
// the site's lock, after the push that crossed Config.RepackAt.
func (s *Server) repack(site tenants.Site) {
	ctx, cancel := context.WithTimeout(s.bg, s.cfg.PushTimeout)
	defer cancel()
	unlock, err := s.lockSite(ctx, site.ID)
	if err != nil {
		return
	}
	defer unlock()
	if err := s.sync(ctx, site); err != nil {
		s.cfg.Log.WarnContext(ctx, "git: repack: sync", "site", site.Name, "err", err)
		return
	}
	packs, err := s.cfg.Store.GitPacks(ctx, site.ID)
	if err != nil || len(packs) < s.cfg.RepackAt {
		return
	}
	dir := s.repoDir(site.ID)
	if _, err := s.output(ctx, nil, "--git-dir="+dir, "repack", "-a", "-d", "-q"); err != nil {
		s.cfg.Log.WarnContext(ctx, "git: repack", "site", site.Name, "err", err)
		return
	}
	have, err := localPacks(dir)
	if err != nil || len(have) != 1 {
		s.cfg.Log.WarnContext(ctx, "git: repack left more than one pack", "site", site.Name, "packs", len(have), "err", err)
		return
	}
	var name string
	for n := range have {
		name = n
	}
	p, err := s.uploadPack(ctx, site.ID, filepath.Join(dir, "objects", "pack"), name)
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "git: repack: storing the pack", "site", site.Name, "err", err)
		return
	}
	old := make([]string, 0, len(packs))
	for _, op := range packs {
		if op.Name != name {
			old = append(old, op.Name)
		}
	}
	if err := s.cfg.Store.ReplaceGitPacks(ctx, site.ID, old, p); err != nil {
		// Another node repacked first; its pack stands.
		s.cfg.Log.InfoContext(ctx, "git: repack not recorded", "site", site.Name, "err", err)
		s.deletePack(ctx, site.ID, name)
		return
	}
	for _, n := range old {
		s.deletePack(ctx, site.ID, n)
	}
	s.cfg.Log.InfoContext(ctx, "git: repacked", "site", site.Name, "packs", len(old), "bytes", p.Size)
}

// RemoveDeletedRepos removes the node's cache repositories of sites that
// no longer exist (the store is the truth; their packs were queued for
// deletion with the site) and returns how many it removed. Each is
// removed under its site's lock, so no git process of this node is using
// it. The garbage collector's loop runs it on every node.
func (s *Server) RemoveDeletedRepos(ctx context.Context) (int, error) {
	dir := filepath.Join(s.cfg.Dir, "repos")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("gitserve: listing cache repositories: %w", err)
	}
	n := 0
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".git")
		if !ok || !e.IsDir() || id == "" {
			continue
		}
		if _, err := s.cfg.Store.Site(ctx, id); !errors.Is(err, tenants.ErrNotFound) {
			if err != nil {
				return n, fmt.Errorf("gitserve: looking up site %s: %w", id, err)
			}
			continue
		}
		unlock, err := s.lockSite(ctx, id)
		if err != nil {
			return n, err
		}
		err = os.RemoveAll(filepath.Join(dir, e.Name()))
		unlock()
		if err != nil {
			return n, fmt.Errorf("gitserve: removing the cache repository of site %s: %w", id, err)
		}
		n++
	}
	return n, nil
}
