package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/project"
)

// maxManifestPath is the longest manifest path the server accepts.
const maxManifestPath = 1024

// localFile is one file to deploy.
type localFile struct {
	path string // manifest path, "/a/b.html"
	rel  string // path below the asset directory as opened through the root, "a/b.html"
	size int64  // size when walked
}

// assetTree is the set of files of an asset directory to deploy. Files are
// opened through root, so nothing outside the directory can be read even
// when a symlink changes during the deploy.
type assetTree struct {
	dir   string
	root  *os.Root
	files []localFile // in lexical order of path
	bytes int64
	// skipped are what was left out because it looks secret, in walk order.
	skipped []skippedFile
}

func (t *assetTree) Close() error { return t.root.Close() }

// exclude drops the file at path (a path as the user gave it) from the
// tree if it is one of its files: the worker module is deployed as the
// worker, not published as an asset.
func (t *assetTree) exclude(path string) error {
	absDir, err := filepath.Abs(t.dir)
	if err != nil {
		return err
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(absDir, absPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil // not below the asset directory
	}
	rel = filepath.ToSlash(rel)
	t.files = slices.DeleteFunc(t.files, func(f localFile) bool {
		if f.rel != rel {
			return false
		}
		t.bytes -= f.size
		return true
	})
	return nil
}

// walkAssets lists the files of dir to deploy. It skips the names in
// alwaysIgnored and what dir/.assetsignore lists, and skips and records in
// skipped what looks secret (secretNames, a Pier data directory) whatever
// .assetsignore says; follows symlinks only while they stay inside dir (one
// that leaves it, dangles or loops is an error, as is a file that is
// neither regular nor a directory), and skips a symlink whose target looks
// secret as if it were the target. dir itself, its symlinks resolved, may
// not be in a Pier data directory.
func walkAssets(dir string) (*assetTree, error) {
	realDir, err := checkNotDataDir(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening asset directory: %w", err)
	}
	t := &assetTree{dir: dir, root: root}
	var rules project.IgnoreRules
	data, err := root.ReadFile(ignoreFile)
	switch {
	case err == nil:
		if rules, err = project.ParseIgnore(data); err != nil {
			root.Close()
			return nil, err
		}
	case !isNotExist(err):
		root.Close()
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, ignoreFile), err)
	}
	top, err := root.Stat(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("asset directory: %w", err)
	}
	w := walker{tree: t, rules: rules, realDir: realDir}
	if err := w.walk(".", []os.FileInfo{top}); err != nil {
		root.Close()
		return nil, err
	}
	slices.SortFunc(t.files, func(a, b localFile) int { return strings.Compare(a.path, b.path) })
	return t, nil
}

type walker struct {
	tree    *assetTree
	rules   project.IgnoreRules
	realDir string // tree.dir, absolute, its symlinks resolved
}

// walk adds the files below the directory rel; ancestors are the
// directories from the root down to rel, to detect symlink loops. A data
// directory below the root is skipped and recorded.
func (w *walker) walk(rel string, ancestors []os.FileInfo) error {
	f, err := w.tree.root.Open(rel)
	if err != nil {
		return fmt.Errorf("opening %s: %w", w.display(rel), err)
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", w.display(rel), err)
	}
	if rel != "." && dataDirMarker(entryNames(entries)) != "" {
		w.skip(rel, true, dataDirReason)
		return nil
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, ent := range entries {
		if err := w.entry(path.Join(rel, ent.Name()), ent, ancestors); err != nil {
			return err
		}
	}
	return nil
}

// entry adds the directory entry ent, at child, or the files below it;
// ancestors are the directories holding it.
func (w *walker) entry(child string, ent fs.DirEntry, ancestors []os.FileInfo) error {
	if project.AlwaysIgnored(ent.Name()) || w.secretName(child, ent) {
		return nil
	}
	mode := ent.Type()
	var fi os.FileInfo
	if mode&fs.ModeSymlink != 0 {
		target, skip, err := w.followSymlink(child)
		if err != nil || skip {
			return err
		}
		fi, mode = target, target.Mode().Type()
	}
	isDir := mode.IsDir()
	if w.rules.Ignored(child, isDir) {
		return nil
	}
	if fi == nil && (isDir || mode.IsRegular()) {
		var err error
		if fi, err = ent.Info(); err != nil {
			return fmt.Errorf("%s: %w", w.display(child), err)
		}
	}
	switch {
	case isDir:
		if slices.ContainsFunc(ancestors, func(a os.FileInfo) bool { return os.SameFile(a, fi) }) {
			return fmt.Errorf("symlink %s loops back to one of its parent directories", w.display(child))
		}
		return w.walk(child, append(ancestors[:len(ancestors):len(ancestors)], fi))
	case mode.IsRegular():
		p := "/" + child
		if err := checkManifestPath(p); err != nil {
			return err
		}
		w.tree.files = append(w.tree.files, localFile{path: p, rel: child, size: fi.Size()})
		w.tree.bytes += fi.Size()
		return nil
	}
	return fmt.Errorf("%s is not a regular file (%s); list it in %s to leave it out", w.display(child), mode, ignoreFile)
}

// followSymlink returns what the symlink child points to, or skip when
// it is left out: its target looks secret (recorded, see secretTarget),
// or it cannot be followed but the ignore rules leave it out either way
// (no need to say where it points). A link that leaves the directory is
// an error: Root.Stat follows links but refuses to leave the root.
func (w *walker) followSymlink(child string) (fi os.FileInfo, skip bool, err error) {
	fi, err = w.tree.root.Stat(child)
	if err == nil {
		why, err := w.secretTarget(child, fi.IsDir())
		if err != nil || why == "" {
			return fi, false, err
		}
		if !w.rules.Ignored(child, fi.IsDir()) {
			w.skip(child, fi.IsDir(), why)
		}
		return nil, true, nil
	}
	if w.rules.Ignored(child, false) || w.rules.Ignored(child, true) {
		return nil, true, nil
	}
	if _, serr := os.Stat(filepath.Join(w.tree.dir, filepath.FromSlash(child))); serr == nil {
		return nil, false, w.outside(child)
	}
	return nil, false, fmt.Errorf("symlink %s: %w", w.display(child), err)
}

func (w *walker) outside(child string) error {
	return fmt.Errorf("symlink %s points outside %s (list it in %s to leave it out)", w.display(child), w.tree.dir, ignoreFile)
}

// secretTarget says why the symlink child, which stays inside the
// directory, is not published for what it points to, or "": a link is
// judged by its target's path as well as by its own name, so that
// "t.txt -> data/admin.token" or "keys -> .ssh" publish nothing the
// target's own path would not. Each component of the target's path, every
// symlink resolved, is checked for a secret name (secretReason) and, when
// it is a directory, for being a data directory.
func (w *walker) secretTarget(child string, isDir bool) (string, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(w.realDir, filepath.FromSlash(child)))
	if err != nil {
		return "", fmt.Errorf("symlink %s: %w", w.display(child), err)
	}
	rel, err := filepath.Rel(w.realDir, real)
	if err != nil || !filepath.IsLocal(rel) {
		return "", w.outside(child) // it changed since Root.Stat followed it
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		p := path.Join(segs[:i+1]...)
		why := project.SecretReason(seg)
		if why == "" && (!last || isDir) && w.isDataDir(p) {
			why = dataDirReason
		}
		if why == "" {
			continue
		}
		switch {
		case !last:
			return "a symlink into /" + p + "/: " + why, nil
		case isDir:
			return "a symlink to /" + p + "/: " + why, nil
		}
		return "a symlink to /" + p + ": " + why, nil
	}
	return "", nil
}

// secretName reports whether the entry child is left out for its name
// (secretReason), and records it unless the ignore rules leave it out
// anyway.
func (w *walker) secretName(child string, ent fs.DirEntry) bool {
	why := project.SecretReason(ent.Name())
	if why == "" {
		return false
	}
	if !w.rules.Ignored(child, false) && !w.rules.Ignored(child, true) {
		w.skip(child, ent.IsDir(), why)
	}
	return true
}

// skip records that rel was left out, and why.
func (w *walker) skip(rel string, isDir bool, why string) {
	p := "/" + rel
	if isDir {
		p += "/"
	}
	w.tree.skipped = append(w.tree.skipped, skippedFile{Path: p, Reason: why})
}

// isDataDir reports whether the directory rel is a data directory
// (dataDirMarker).
func (w *walker) isDataDir(rel string) bool {
	return probeDataDir(func() ([]string, error) {
		f, err := w.tree.root.Open(rel)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return f.Readdirnames(-1)
	}, func(name string) error {
		_, err := w.tree.root.Lstat(path.Join(rel, name))
		return err
	}) != ""
}

// checkNotDataDir refuses dir when it or one of its parents is a Pier
// server's data directory: it holds the database, the admin token and
// every tenant's local blobs. It checks dir as given and dir with its
// symlinks resolved ("pub -> data/blobs"), and returns the latter.
func checkNotDataDir(dir string) (realDir string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("asset directory: %w", err)
	}
	if realDir, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("asset directory: %w", err)
	}
	if d, m := dataDirAbove(abs); d != "" {
		what := "is"
		if d != abs {
			what = "is inside " + d + ","
		}
		return "", fmt.Errorf("%s %s a Pier server's data directory (it holds %s): it is never published", dir, what, m)
	}
	if d, m := dataDirAbove(realDir); d != "" {
		what := "resolves to " + realDir + ","
		if d != realDir {
			what += " inside " + d + ","
		}
		return "", fmt.Errorf("%s %s a Pier server's data directory (it holds %s): it is never published", dir, what, m)
	}
	return realDir, nil
}

// dataDirAbove returns the first of the absolute directory abs and its
// parents that is a data directory, and the marker it holds; "" for none.
func dataDirAbove(abs string) (dir, marker string) {
	for d := abs; ; d = filepath.Dir(d) {
		m := probeDataDir(func() ([]string, error) {
			f, err := os.Open(d)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return f.Readdirnames(-1)
		}, func(name string) error {
			_, err := os.Lstat(filepath.Join(d, name))
			return err
		})
		if m != "" {
			return d, m
		}
		if filepath.Dir(d) == d {
			return "", ""
		}
	}
}

func (w *walker) display(rel string) string {
	return filepath.Join(w.tree.dir, filepath.FromSlash(rel))
}

// checkManifestPath rejects, before anything is hashed, a path the server
// would refuse.
func checkManifestPath(p string) error {
	switch {
	case len(p) > maxManifestPath:
		return fmt.Errorf("file path %q is longer than %d bytes", p, maxManifestPath)
	case !utf8.ValidString(p):
		return fmt.Errorf("file path %q is not valid UTF-8", p)
	case strings.Contains(p, `\`):
		return fmt.Errorf("file path %q contains a backslash", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("file path %q contains a control character", p)
		}
	}
	return nil
}
