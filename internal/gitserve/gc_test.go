package gitserve

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveDeletedRepos(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	repos := filepath.Join(f.cfg.Dir, "repos")
	for _, d := range []string{"s_blog.git", "s_other.git", "s_gone.git", "unrelated"} {
		if err := os.MkdirAll(filepath.Join(repos, d, "objects"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.DeleteSite(ctx, "s_other"); err != nil {
		t.Fatal(err)
	}
	n, err := f.srv.RemoveDeletedRepos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("removed %d cache repositories, want 2 (s_other's and s_gone's)", n)
	}
	for d, want := range map[string]bool{"s_blog.git": true, "s_other.git": false, "s_gone.git": false, "unrelated": true} {
		_, err := os.Stat(filepath.Join(repos, d))
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", d, got, want)
		}
	}
}
