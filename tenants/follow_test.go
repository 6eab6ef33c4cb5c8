package tenants

import (
	"slices"
	"testing"
)

type recordFollower struct {
	name string
	log  *[]string
}

func (r recordFollower) SiteChanged(n string)   { *r.log = append(*r.log, r.name+" site "+n) }
func (r recordFollower) DomainChanged(h string) { *r.log = append(*r.log, r.name+" domain "+h) }
func (r recordFollower) Resync()                { *r.log = append(*r.log, r.name+" resync") }

func TestFollowersApply(t *testing.T) {
	t.Parallel()
	var log []string
	fs := Followers{recordFollower{"edge", &log}, recordFollower{"tls", &log}}
	for _, c := range []Change{
		{Kind: ChangeSite, Key: "blog"},
		{Kind: ChangeDomain, Key: "www.example.com"},
		{Kind: ChangeTenant, Key: "t1"},
		{Kind: ChangeResync},
	} {
		fs.Apply(c)
	}
	want := []string{
		"edge site blog", "tls site blog",
		"edge domain www.example.com", "tls domain www.example.com",
		"edge resync", "tls resync",
	}
	if !slices.Equal(log, want) {
		t.Errorf("delivered %q, want %q", log, want)
	}
}
