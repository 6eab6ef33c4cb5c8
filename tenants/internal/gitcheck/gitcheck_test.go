package gitcheck

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	oid := strings.Repeat("0123456789", 4)
	tests := []struct {
		name  string
		valid func(string) bool
		in    string
		want  bool
	}{
		{"oid", ValidOID, oid, true},
		{"oid uppercase", ValidOID, strings.ToUpper("abcdef") + oid[6:], false},
		{"oid short", ValidOID, oid[1:], false},
		{"oid long", ValidOID, oid + "0", false},
		{"ref branch", ValidRefName, "refs/heads/feature/x-1", true},
		{"ref tag", ValidRefName, "refs/tags/v1.0", true},
		{"ref without refs/", ValidRefName, "heads/main", false},
		{"ref without kind", ValidRefName, "refs/main", false},
		{"ref empty kind", ValidRefName, "refs//main", false},
		{"ref option", ValidRefName, "refs/heads/--upload-pack=x", false},
		{"ref dash", ValidRefName, "refs/heads/-h", false},
		{"ref dotdot", ValidRefName, "refs/heads/a/../../b", false},
		{"ref space", ValidRefName, "refs/heads/a b", false},
		{"ref NUL", ValidRefName, "refs/heads/a\x00", false},
		{"ref long", ValidRefName, "refs/heads/" + strings.Repeat("a", 201), false},
		{"alias", ValidAlias, "feature-x", true},
		{"alias hashed", ValidAlias, "abcd2345-1a2b3c", true},
		{"alias id shape", ValidAlias, "abcd2345", false},
		{"alias separator", ValidAlias, "a--b", false},
		{"alias uppercase", ValidAlias, "Feature", false},
		{"alias empty", ValidAlias, "", false},
		{"pack sha1", ValidPackName, "pack-" + oid, true},
		{"pack sha256", ValidPackName, "pack-" + oid + oid[:24], true},
		{"pack sha256 bad tail", ValidPackName, "pack-" + oid + "X" + oid[:23], false},
		{"pack without prefix", ValidPackName, oid, false},
		{"pack path", ValidPackName, "pack-../" + oid[3:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.valid(tc.in); got != tc.want {
				t.Errorf("valid(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
