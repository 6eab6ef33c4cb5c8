package tenants

import (
	"strings"
	"testing"
)

func TestKVPrefixEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"user:", "user;", true},
		{"a\u00ff", "a\u0100", true},
		{"a\ud7ff", "a\ue000", true}, // past the surrogates
		{"a\U0010ffff", "b", true},
		{"\U0010ffff\U0010ffff", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			end, ok := KVPrefixEnd(tc.prefix)
			if end != tc.end || ok != tc.ok {
				t.Errorf("KVPrefixEnd(%q) = %q, %v; want %q, %v", tc.prefix, end, ok, tc.end, tc.ok)
			}
			if !ok {
				return
			}
			// Every string with the prefix sorts below end, and end has it not.
			for _, s := range []string{tc.prefix, tc.prefix + "\x00", tc.prefix + "\U0010ffff\U0010ffff"} {
				if s >= end {
					t.Errorf("%q (with the prefix) is not below end %q", s, end)
				}
			}
			if strings.HasPrefix(end, tc.prefix) {
				t.Errorf("end %q starts with the prefix", end)
			}
		})
	}
}

func TestKVNamespaceValidate(t *testing.T) {
	t.Parallel()
	ok := KVNamespace{ID: "kv_1", TenantID: "t_1", Name: "blog-data"}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
	for name, n := range map[string]KVNamespace{
		"slash in id":  {ID: "kv/1", TenantID: "t_1", Name: "data"},
		"no tenant":    {ID: "kv_1", Name: "data"},
		"upper name":   {ID: "kv_1", TenantID: "t_1", Name: "Data"},
		"double dash":  {ID: "kv_1", TenantID: "t_1", Name: "a--b"},
		"empty name":   {ID: "kv_1", TenantID: "t_1"},
		"underscore":   {ID: "kv_1", TenantID: "t_1", Name: "a_b"},
		"no id at all": {TenantID: "t_1", Name: "data"},
	} {
		if err := n.Validate(); err == nil {
			t.Errorf("%s: Validate(%+v) = nil, want an error", name, n)
		}
	}
}
