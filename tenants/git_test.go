package tenants

import (
	"errors"
	"strings"
	"testing"
)

func TestValidBranchName(t *testing.T) {
	good := []string{"main", "feature/x", "release-1.2", "a", "UPPER", "x.y", strings.Repeat("b", MaxBranchName)}
	bad := []string{"", "-h", "--upload-pack=x", "/x", "x/", "x.", "x.lock", "a/b.lock/c", "a..b", "a@{1}", "a//b",
		"with space", "tab\tx", "nul\x00x", "a~1", "a^", "a:b", "a?", "a*", "a[", `a\b`, ".hidden", "a/.b", "@",
		"é", strings.Repeat("b", MaxBranchName+1)}
	for _, s := range good {
		if !ValidBranchName(s) {
			t.Errorf("ValidBranchName(%q) = false, want true", s)
		}
	}
	for _, s := range bad {
		if ValidBranchName(s) {
			t.Errorf("ValidBranchName(%q) = true, want false", s)
		}
	}
}

func TestGitRefConflictError(t *testing.T) {
	var err error = &GitRefConflictError{Ref: "refs/heads/main"}
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "refs/heads/main") {
		t.Errorf("err = %v", err)
	}
}
