package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// Git repositories (tenants.GitStore).

// oid returns a valid, distinct git object id for i.
func oid(i int) string { return fmt.Sprintf("%040x", uint64(i)*0x9e3779b97f4a7c15+1) }

// packName returns a valid, distinct pack name for i.
func packName(i int) string { return "pack-" + oid(1000+i) }

func gitRef(siteID, branch, commit, deployment, alias string) tenants.GitRef {
	return tenants.GitRef{SiteID: siteID, Name: "refs/heads/" + branch, Commit: commit, Deployment: deployment, Alias: alias, Updated: baseTime}
}

// push applies an update of one ref.
func (h *harness) push(t *testing.T, siteID, old string, r tenants.GitRef, activate string) {
	t.Helper()
	mustNil(t, "ApplyGitPush "+r.Name, h.s.ApplyGitPush(h.ctx, tenants.GitPush{
		SiteID: siteID, Refs: []tenants.GitRefUpdate{{Old: old, Ref: r}}, Activate: activate,
	}))
}

// gitState is what a site's repository and its activation look like.
type gitState struct {
	Refs    []tenants.GitRef
	Packs   []tenants.GitPack
	Shallow []string
	Active  string
}

func (h *harness) gitState(t *testing.T, siteID string) gitState {
	t.Helper()
	var st gitState
	var err error
	st.Refs, err = h.s.GitRefs(h.ctx, siteID)
	mustNil(t, "GitRefs", err)
	st.Packs, err = h.s.GitPacks(h.ctx, siteID)
	mustNil(t, "GitPacks", err)
	st.Shallow, err = h.s.GitShallow(h.ctx, siteID)
	mustNil(t, "GitShallow", err)
	site, err := h.s.Site(h.ctx, siteID)
	mustNil(t, "Site", err)
	st.Active = site.ActiveDeployment
	return st
}

func normRef(r tenants.GitRef) tenants.GitRef { r.Updated = ms(r.Updated); return r }

func equalRefs(t *testing.T, what string, got []tenants.GitRef, want ...tenants.GitRef) {
	t.Helper()
	w := []tenants.GitRef{}
	for _, r := range want {
		w = append(w, normRef(r))
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, w)
	}
}

// gitWorld is a site s1 (tenant t1) with deployments d1–d3, d1 active
// through a push of main at oid(1), a branch feature at oid(2) (alias
// "feature", deployment d2), two packs and a shallow commit; and a site
// s2 of the same tenant with a deployment e1.
func (h *harness) gitWorld(t *testing.T) {
	t.Helper()
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	for i, d := range []string{"d1", "d2", "d3"} {
		h.deployment(t, d, "s1", baseTime.Add(time.Duration(i)*time.Minute), 2)
	}
	h.deployment(t, "e1", "s2", baseTime, 2)
	mustNil(t, "ApplyGitPush (world)", h.s.ApplyGitPush(h.ctx, tenants.GitPush{
		SiteID: "s1",
		Refs: []tenants.GitRefUpdate{
			{Ref: gitRef("s1", "main", oid(1), "d1", "")},
			{Ref: gitRef("s1", "feature", oid(2), "d2", "feature")},
		},
		Packs:    []tenants.GitPack{{Name: packName(1), Size: 100, Created: baseTime}, {Name: packName(2), Size: 200, Created: baseTime.Add(time.Second)}},
		Shallow:  []string{oid(100)},
		Activate: "d1",
	}))
}

func testGitRefs(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	h.deployment(t, "d1", "s1", baseTime, 2)
	h.deployment(t, "d2", "s1", baseTime.Add(time.Minute), 2)

	equalRefs(t, "GitRefs of a new site", h.gitState(t, "s1").Refs)
	_, err := h.s.GitAlias(h.ctx, "s1", "feature")
	wantErr(t, "GitAlias before any push", err, tenants.ErrNotFound)

	mainRef := gitRef("s1", "main", oid(1), "d1", "")
	h.push(t, "s1", "", mainRef, "d1")
	st := h.gitState(t, "s1")
	equalRefs(t, "GitRefs after the first push", st.Refs, mainRef)
	if st.Active != "d1" {
		t.Errorf("active deployment %q after a push activating d1", st.Active)
	}

	feature := gitRef("s1", "feature", oid(2), "d2", "feature")
	feature.Updated = time.Time{} // the store stamps it
	before := time.Now().Add(-time.Second)
	h.push(t, "s1", "", feature, "")
	st = h.gitState(t, "s1")
	if len(st.Refs) != 2 || st.Refs[0].Name != feature.Name || st.Refs[1].Name != mainRef.Name {
		t.Fatalf("GitRefs = %+v, want feature then main", st.Refs)
	}
	if u := st.Refs[0].Updated; u.Before(before) || u.Location() != time.UTC {
		t.Errorf("a ref pushed without Updated has Updated %v, want about now, in UTC", u)
	}
	feature.Updated = st.Refs[0].Updated
	equalRefs(t, "GitRefs after a branch push", st.Refs, feature, mainRef)
	if st.Active != "d1" {
		t.Errorf("a push activating nothing changed the active deployment to %q", st.Active)
	}
	got, err := h.s.GitAlias(h.ctx, "s1", "feature")
	mustNil(t, "GitAlias", err)
	equalRefs(t, "GitAlias(feature)", []tenants.GitRef{got}, feature)
	for _, alias := range []string{"", "main", "other"} {
		_, err := h.s.GitAlias(h.ctx, "s1", alias)
		wantErr(t, fmt.Sprintf("GitAlias(%q)", alias), err, tenants.ErrNotFound)
	}
	_, err = h.s.GitAlias(h.ctx, "s2", "feature")
	wantErr(t, "GitAlias of another site", err, tenants.ErrNotFound)

	t.Run("move", func(t *testing.T) {
		moved := gitRef("s1", "main", oid(3), "d2", "")
		moved.Updated = baseTime.Add(time.Hour)
		h.push(t, "s1", oid(1), moved, "d2")
		st := h.gitState(t, "s1")
		equalRefs(t, "GitRefs after moving main", st.Refs, feature, moved)
		if st.Active != "d2" {
			t.Errorf("active deployment %q, want d2", st.Active)
		}
	})
	t.Run("same names on another site", func(t *testing.T) {
		other := gitRef("s2", "feature", oid(9), "", "feature")
		h.push(t, "s2", "", other, "")
		equalRefs(t, "GitRefs of s2", h.gitState(t, "s2").Refs, other)
		got, err := h.s.GitAlias(h.ctx, "s1", "feature")
		mustNil(t, "GitAlias of s1", err)
		equalRefs(t, "GitAlias of s1 after s2's push", []tenants.GitRef{got}, feature)
	})
	t.Run("delete", func(t *testing.T) {
		h.push(t, "s1", oid(2), tenants.GitRef{Name: feature.Name}, "")
		_, err := h.s.GitAlias(h.ctx, "s1", "feature")
		wantErr(t, "GitAlias of a deleted branch", err, tenants.ErrNotFound)
		st := h.gitState(t, "s1")
		if len(st.Refs) != 1 || st.Refs[0].Name != mainRef.Name {
			t.Errorf("GitRefs after deleting feature = %+v, want main only", st.Refs)
		}
		// The alias is free again, for a new branch too.
		again := gitRef("s1", "feature-2", oid(4), "d1", "feature")
		h.push(t, "s1", "", again, "")
		got, err := h.s.GitAlias(h.ctx, "s1", "feature")
		mustNil(t, "GitAlias after reuse", err)
		equalRefs(t, "GitAlias(feature) after reuse", []tenants.GitRef{got}, again)
	})
}

func testGitPushConflict(t *testing.T, h *harness) {
	h.gitWorld(t)
	want := h.gitState(t, "s1")
	if len(want.Refs) != 2 || len(want.Packs) != 2 || len(want.Shallow) != 1 || want.Active != "d1" {
		t.Fatalf("test bug: world state %+v", want)
	}
	main3 := gitRef("s1", "main", oid(3), "d3", "")
	// Every case but the failing update would succeed on its own: the
	// whole push is refused.
	tests := []struct {
		name string
		bad  tenants.GitRefUpdate
	}{
		{"update from the wrong commit", tenants.GitRefUpdate{Old: oid(7), Ref: gitRef("s1", "feature", oid(4), "d3", "feature")}},
		{"create an existing ref", tenants.GitRefUpdate{Ref: gitRef("s1", "feature", oid(4), "d3", "feature")}},
		{"update a missing ref", tenants.GitRefUpdate{Old: oid(2), Ref: gitRef("s1", "gone", oid(4), "d3", "gone")}},
		{"delete from the wrong commit", tenants.GitRefUpdate{Old: oid(7), Ref: tenants.GitRef{Name: "refs/heads/feature"}}},
		{"delete a missing ref", tenants.GitRefUpdate{Old: oid(2), Ref: tenants.GitRef{Name: "refs/heads/gone"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, bad := range []bool{false, true} {
				refs := []tenants.GitRefUpdate{{Old: oid(1), Ref: main3}, tc.bad}
				if bad {
					refs[0], refs[1] = refs[1], refs[0]
				}
				err := h.s.ApplyGitPush(h.ctx, tenants.GitPush{
					SiteID:   "s1",
					Refs:     refs,
					Packs:    []tenants.GitPack{{Name: packName(3), Size: 300}},
					Shallow:  []string{oid(101)},
					Activate: "d3",
				})
				var ce *tenants.GitRefConflictError
				if !errors.As(err, &ce) || !errors.Is(err, tenants.ErrConflict) {
					t.Fatalf("ApplyGitPush: %v, want a *GitRefConflictError wrapping ErrConflict", err)
				}
				if ce.Ref != tc.bad.Ref.Name {
					t.Errorf("conflict on ref %q, want %q", ce.Ref, tc.bad.Ref.Name)
				}
				if got := h.gitState(t, "s1"); !reflect.DeepEqual(got, want) {
					t.Errorf("a refused push wrote:\n got  %+v\n want %+v", got, want)
				}
			}
		})
	}
	t.Run("then the right commit", func(t *testing.T) {
		h.push(t, "s1", oid(1), main3, "d3")
		if st := h.gitState(t, "s1"); st.Active != "d3" {
			t.Errorf("active deployment %q, want d3", st.Active)
		}
	})
}

func testGitPushErrors(t *testing.T, h *harness) {
	h.gitWorld(t)
	want := h.gitState(t, "s1")
	ok := tenants.GitRefUpdate{Ref: gitRef("s1", "new", oid(5), "d3", "new")}
	withRef := func(u tenants.GitRefUpdate) tenants.GitPush {
		return tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{ok, u}}
	}
	refNamed := func(name string) tenants.GitRefUpdate {
		return tenants.GitRefUpdate{Ref: tenants.GitRef{Name: name, Commit: oid(6)}}
	}
	tests := []struct {
		name string
		p    tenants.GitPush
		want error
	}{
		{"commit not hex", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "x", "zz"+oid(6)[2:], "", "")}), tenants.ErrInvalid},
		{"commit uppercase", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "x", "AB"+oid(6)[2:], "", "")}), tenants.ErrInvalid},
		{"commit short", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "x", oid(6)[1:], "", "")}), tenants.ErrInvalid},
		{"old not hex", withRef(tenants.GitRefUpdate{Old: "main", Ref: gitRef("s1", "main", oid(6), "", "")}), tenants.ErrInvalid},
		{"ref outside refs/", withRef(refNamed("heads/x")), tenants.ErrInvalid},
		{"ref without kind", withRef(refNamed("refs/x")), tenants.ErrInvalid},
		{"ref injecting an option", withRef(refNamed("refs/heads/--upload-pack=x")), tenants.ErrInvalid},
		{"ref with a space", withRef(refNamed("refs/heads/a b")), tenants.ErrInvalid},
		{"ref with ..", withRef(refNamed("refs/heads/a/../b")), tenants.ErrInvalid},
		{"ref with NUL", withRef(refNamed("refs/heads/a\x00b")), tenants.ErrInvalid},
		{"ref too long", withRef(refNamed("refs/heads/" + strings.Repeat("a", 300))), tenants.ErrInvalid},
		{"ref twice", withRef(ok), tenants.ErrInvalid},
		{"ref of another site", withRef(tenants.GitRefUpdate{Ref: gitRef("s2", "x", oid(6), "", "")}), tenants.ErrInvalid},
		{"delete without old", withRef(tenants.GitRefUpdate{Ref: tenants.GitRef{Name: "refs/heads/feature"}}), tenants.ErrInvalid},
		{"alias uppercase", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "x", oid(6), "", "Feature")}), tenants.ErrInvalid},
		{"alias with preview separator", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "x", oid(6), "", "a--b")}), tenants.ErrInvalid},
		{"alias shaped like a deployment id", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "x", oid(6), "", "abcd2345")}), tenants.ErrInvalid},
		{"deployment not a label", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "x", oid(6), "d 1", "")}), tenants.ErrInvalid},
		{"pack name", tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{ok}, Packs: []tenants.GitPack{{Name: "../pack-x", Size: 1}}}, tenants.ErrInvalid},
		{"pack size", tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{ok}, Packs: []tenants.GitPack{{Name: packName(9), Size: -1}}}, tenants.ErrInvalid},
		{"shallow commit", tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{ok}, Shallow: []string{"HEAD"}}, tenants.ErrInvalid},
		{"alias held by another ref", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "Feature", oid(6), "", "feature")}), tenants.ErrConflict},
		{"alias given to two refs", withRef(tenants.GitRefUpdate{Ref: gitRef("s1", "New", oid(6), "", "new")}), tenants.ErrConflict},
		{"alias kept while another takes it", tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{
			{Old: oid(2), Ref: gitRef("s1", "feature", oid(6), "d3", "feature")},
			{Ref: gitRef("s1", "feature2", oid(6), "d3", "feature")},
		}}, tenants.ErrConflict},
		{"missing site", tenants.GitPush{SiteID: "nope", Refs: []tenants.GitRefUpdate{{Ref: gitRef("nope", "new", oid(5), "", "")}}}, tenants.ErrNotFound},
		{"missing deployment", tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{ok}, Activate: "nope"}, tenants.ErrNotFound},
		{"deployment of another site", tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{ok}, Activate: "e1"}, tenants.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := h.s.ApplyGitPush(h.ctx, tc.p)
			wantErr(t, "ApplyGitPush", err, tc.want)
			var ce *tenants.GitRefConflictError
			if errors.As(err, &ce) {
				t.Errorf("ApplyGitPush: %v is a ref conflict", err)
			}
			if got := h.gitState(t, "s1"); !reflect.DeepEqual(got, want) {
				t.Errorf("a refused push wrote:\n got  %+v\n want %+v", got, want)
			}
		})
	}
	t.Run("alias moved from a deleted ref in the same push", func(t *testing.T) {
		taker := gitRef("s1", "Feature", oid(6), "d3", "feature")
		mustNil(t, "ApplyGitPush", h.s.ApplyGitPush(h.ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{
			{Ref: taker},
			{Old: oid(2), Ref: tenants.GitRef{Name: "refs/heads/feature"}},
		}}))
		got, err := h.s.GitAlias(h.ctx, "s1", "feature")
		mustNil(t, "GitAlias", err)
		equalRefs(t, "GitAlias(feature)", []tenants.GitRef{got}, taker)
	})
	t.Run("aliases swapped in one push", func(t *testing.T) {
		a, b := gitRef("s1", "a", oid(7), "", "alias-a"), gitRef("s1", "b", oid(8), "", "alias-b")
		mustNil(t, "ApplyGitPush", h.s.ApplyGitPush(h.ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{{Ref: a}, {Ref: b}}}))
		a2, b2 := a, b
		a2.Alias, b2.Alias = b.Alias, a.Alias
		mustNil(t, "ApplyGitPush (swap)", h.s.ApplyGitPush(h.ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{
			{Old: a.Commit, Ref: a2}, {Old: b.Commit, Ref: b2},
		}}))
		got, err := h.s.GitAlias(h.ctx, "s1", "alias-a")
		mustNil(t, "GitAlias", err)
		equalRefs(t, "GitAlias(alias-a) after the swap", []tenants.GitRef{got}, b2)
	})
}

func testGitPushConcurrent(t *testing.T, h *harness) {
	h.gitWorld(t)
	const n = 8
	for _, tc := range []struct {
		name  string
		old   string
		packs int // first pack number
		ref   func(i int) tenants.GitRef
	}{
		{"update", oid(1), 100, func(i int) tenants.GitRef { return gitRef("s1", "main", oid(200+i), "d2", "") }},
		{"create", "", 200, func(i int) tenants.GitRef { return gitRef("s1", "race", oid(300+i), "d3", "race") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				wg   sync.WaitGroup
				errs = make([]error, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = h.s.ApplyGitPush(h.ctx, tenants.GitPush{
						SiteID: "s1",
						Refs:   []tenants.GitRefUpdate{{Old: tc.old, Ref: tc.ref(i)}},
						Packs:  []tenants.GitPack{{Name: packName(tc.packs + i), Size: 1}},
					})
				}()
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				var ce *tenants.GitRefConflictError
				switch {
				case err == nil && winner >= 0:
					t.Errorf("pushes %d and %d both succeeded", winner, i)
				case err == nil:
					winner = i
				case !errors.As(err, &ce):
					t.Errorf("push %d: %v, want a *GitRefConflictError", i, err)
				}
			}
			if winner < 0 {
				t.Fatal("no push succeeded")
			}
			st := h.gitState(t, "s1")
			name := tc.ref(0).Name
			i := slices.IndexFunc(st.Refs, func(r tenants.GitRef) bool { return r.Name == name })
			if i < 0 || st.Refs[i].Commit != tc.ref(winner).Commit {
				t.Errorf("ref %s is %+v after the race, want the winner's commit %s", name, st.Refs, tc.ref(winner).Commit)
			}
			for j := range n {
				listed := slices.ContainsFunc(st.Packs, func(p tenants.GitPack) bool { return p.Name == packName(tc.packs+j) })
				if listed != (j == winner) {
					t.Errorf("pack of push %d listed: %v (winner %d)", j, listed, winner)
				}
			}
		})
	}
}

func testGitPacks(t *testing.T, h *harness) {
	h.gitWorld(t)
	pack := func(i int, size int64, created time.Time) tenants.GitPack {
		return tenants.GitPack{SiteID: "s1", Name: packName(i), Size: size, Created: ms(created)}
	}
	p1, p2 := pack(1, 100, baseTime), pack(2, 200, baseTime.Add(time.Second))
	packs := func(t *testing.T, want ...tenants.GitPack) {
		t.Helper()
		got, err := h.s.GitPacks(h.ctx, "s1")
		mustNil(t, "GitPacks", err)
		if want == nil {
			want = []tenants.GitPack{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GitPacks:\n got  %+v\n want %+v", got, want)
		}
	}
	packs(t, p1, p2)

	// A pack listed already is ignored (its size stays); one created at
	// the same time as another comes after it.
	p3 := pack(3, 300, baseTime.Add(time.Second))
	mustNil(t, "ApplyGitPush", h.s.ApplyGitPush(h.ctx, tenants.GitPush{SiteID: "s1", Packs: []tenants.GitPack{
		{Name: p1.Name, Size: 999, Created: baseTime.Add(time.Hour)}, p3, p3,
	}}))
	packs(t, p1, p2, p3)
	if other, err := h.s.GitPacks(h.ctx, "s2"); err != nil || len(other) != 0 {
		t.Errorf("GitPacks of s2 = %+v, %v; want none", other, err)
	}

	p4 := pack(4, 400, baseTime.Add(time.Hour))
	mustNil(t, "ReplaceGitPacks", h.s.ReplaceGitPacks(h.ctx, "s1", []string{p1.Name, p2.Name}, p4))
	packs(t, p3, p4)

	t.Run("conflict", func(t *testing.T) {
		err := h.s.ReplaceGitPacks(h.ctx, "s1", []string{p3.Name, p1.Name}, pack(5, 500, baseTime.Add(2*time.Hour)))
		wantErr(t, "ReplaceGitPacks of a pack no longer listed", err, tenants.ErrConflict)
		packs(t, p3, p4)
	})
	t.Run("errors", func(t *testing.T) {
		wantErr(t, "ReplaceGitPacks on a missing site", h.s.ReplaceGitPacks(h.ctx, "nope", nil, tenants.GitPack{Name: packName(5), Size: 1}), tenants.ErrNotFound)
		wantErr(t, "ReplaceGitPacks with a bad name", h.s.ReplaceGitPacks(h.ctx, "s1", []string{p3.Name}, tenants.GitPack{Name: "pack-../../x", Size: 1}), tenants.ErrInvalid)
		packs(t, p3, p4)
	})
	t.Run("stamped", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		mustNil(t, "ReplaceGitPacks", h.s.ReplaceGitPacks(h.ctx, "s1", []string{p3.Name, p4.Name, p3.Name}, tenants.GitPack{Name: packName(6), Size: 600}))
		got, err := h.s.GitPacks(h.ctx, "s1")
		mustNil(t, "GitPacks", err)
		if len(got) != 1 || got[0].Name != packName(6) || got[0].SiteID != "s1" || got[0].Created.Before(before) {
			t.Errorf("GitPacks = %+v, want only %s created about now", got, packName(6))
		}
	})
}

func testGitShallow(t *testing.T, h *harness) {
	h.gitWorld(t)
	shallow := func(t *testing.T, siteID string, want ...string) {
		t.Helper()
		got, err := h.s.GitShallow(h.ctx, siteID)
		mustNil(t, "GitShallow", err)
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GitShallow(%s) = %v, want %v", siteID, got, want)
		}
	}
	shallow(t, "s1", oid(100))
	shallow(t, "s2")
	all := []string{oid(100), oid(101), oid(102)}
	mustNil(t, "ApplyGitPush", h.s.ApplyGitPush(h.ctx, tenants.GitPush{SiteID: "s1", Shallow: []string{oid(102), oid(100), oid(101), oid(102)}}))
	slices.Sort(all)
	shallow(t, "s1", all...)
}

func testGitBlobs(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	b := func(i int, size int64) tenants.GitBlob {
		return tenants.GitBlob{OID: oid(i), Hash: hashOf(i), Size: size}
	}

	got, err := h.s.GitBlobs(h.ctx, "t1", nil)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("GitBlobs(nil) = %v, %v; want an empty map", got, err)
	}
	mustNil(t, "PutGitBlobs", h.s.PutGitBlobs(h.ctx, "t1", []tenants.GitBlob{b(1, 10), b(2, 20), b(2, 22)}))
	mustNil(t, "PutGitBlobs (none)", h.s.PutGitBlobs(h.ctx, "t1", nil))
	got, err = h.s.GitBlobs(h.ctx, "t1", []string{oid(1), oid(2), oid(3), oid(1)})
	mustNil(t, "GitBlobs", err)
	if want := map[string]tenants.GitBlob{oid(1): b(1, 10), oid(2): b(2, 22)}; !reflect.DeepEqual(got, want) {
		t.Errorf("GitBlobs = %v, want %v", got, want)
	}
	got, err = h.s.GitBlobs(h.ctx, "t2", []string{oid(1), oid(2)})
	if err != nil || len(got) != 0 {
		t.Errorf("GitBlobs of another tenant = %v, %v; want none", got, err)
	}

	changed := tenants.GitBlob{OID: oid(1), Hash: hashOf(99), Size: 11}
	mustNil(t, "PutGitBlobs (upsert)", h.s.PutGitBlobs(h.ctx, "t1", []tenants.GitBlob{changed}))
	got, err = h.s.GitBlobs(h.ctx, "t1", []string{oid(1)})
	mustNil(t, "GitBlobs", err)
	if got[oid(1)] != changed {
		t.Errorf("after an upsert GitBlobs = %v, want %v", got, changed)
	}

	t.Run("errors", func(t *testing.T) {
		wantErr(t, "PutGitBlobs for a missing tenant", h.s.PutGitBlobs(h.ctx, "nope", []tenants.GitBlob{b(5, 1)}), tenants.ErrNotFound)
		for name, bad := range map[string]tenants.GitBlob{
			"oid":  {OID: "x" + oid(5)[1:], Hash: hashOf(5), Size: 1},
			"hash": {OID: oid(5), Hash: "nothex", Size: 1},
			"size": {OID: oid(5), Hash: hashOf(5), Size: -1},
		} {
			wantErr(t, "PutGitBlobs with a bad "+name, h.s.PutGitBlobs(h.ctx, "t1", []tenants.GitBlob{b(6, 1), bad}), tenants.ErrInvalid)
		}
		got, err := h.s.GitBlobs(h.ctx, "t1", []string{oid(5), oid(6)})
		if err != nil || len(got) != 0 {
			t.Errorf("refused PutGitBlobs recorded %v (%v)", got, err)
		}
	})
	t.Run("large", func(t *testing.T) {
		const n = 40_000
		blobs := make([]tenants.GitBlob, n)
		oids := make([]string, 0, n+10)
		for i := range blobs {
			blobs[i] = b(10_000+i, int64(i))
			oids = append(oids, blobs[i].OID)
		}
		mustNil(t, "PutGitBlobs", h.s.PutGitBlobs(h.ctx, "t2", blobs))
		for i := range 10 {
			oids = append(oids, oid(1_000_000+i)) // absent
		}
		got, err := h.s.GitBlobs(h.ctx, "t2", oids)
		mustNil(t, "GitBlobs", err)
		if len(got) != n || got[blobs[n-1].OID] != blobs[n-1] || got[blobs[0].OID] != blobs[0] {
			t.Errorf("GitBlobs of %d oids found %d, want %d", len(oids), len(got), n)
		}
	})
}

func testDeploymentByTree(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	tree := func(id, siteID, tr string, created time.Time) tenants.Deployment {
		t.Helper()
		d := tenants.Deployment{
			ID: id, SiteID: siteID, Manifest: manifest(3, len(id)),
			Config:  tenants.DeploymentConfig{HTMLHandling: tenants.HTMLAutoTrailingSlash, NotFoundHandling: tenants.NotFoundNone},
			Source:  tenants.Source{Type: "git", Branch: "main", Commit: oid(len(id)), Tree: tr},
			Created: created,
		}
		mustNil(t, "CreateDeployment "+id, h.s.CreateDeployment(h.ctx, d))
		d.TenantID = "t1"
		return d
	}
	t1, t2 := oid(1), oid(2)
	tree("d1", "s1", t1, baseTime)
	d2 := tree("d2", "s1", t1, baseTime.Add(time.Hour))
	tree("d3", "s1", t2, baseTime.Add(2*time.Hour))
	h.deployment(t, "d4", "s1", baseTime.Add(3*time.Hour), 1) // no tree
	tree("e1", "s2", t1, baseTime.Add(4*time.Hour))

	got, err := h.s.DeploymentByTree(h.ctx, "s1", t1)
	mustNil(t, "DeploymentByTree", err)
	equalDeployment(t, "DeploymentByTree(t1)", got, d2)

	t.Run("same time: the later one", func(t *testing.T) {
		d5 := tree("d5", "s1", t1, baseTime.Add(time.Hour))
		got, err := h.s.DeploymentByTree(h.ctx, "s1", t1)
		mustNil(t, "DeploymentByTree", err)
		equalDeployment(t, "DeploymentByTree(t1)", got, d5)
	})
	t.Run("tree round-trips", func(t *testing.T) {
		got, err := h.s.Deployment(h.ctx, "s1", "d1")
		mustNil(t, "Deployment", err)
		if got.Source.Tree != t1 {
			t.Errorf("Deployment(d1).Source = %+v, want tree %s", got.Source, t1)
		}
		list, err := h.s.Deployments(h.ctx, "s1")
		mustNil(t, "Deployments", err)
		trees := map[string]string{}
		for _, d := range list {
			trees[d.ID] = d.Source.Tree
		}
		if want := map[string]string{"d1": t1, "d2": t1, "d3": t2, "d4": "", "d5": t1}; !reflect.DeepEqual(trees, want) {
			t.Errorf("trees of Deployments = %v, want %v", trees, want)
		}
		page, _, err := h.s.DeploymentsPage(h.ctx, "s1", tenants.PageRequest{Limit: 10})
		mustNil(t, "DeploymentsPage", err)
		if !reflect.DeepEqual(page, list) {
			t.Errorf("DeploymentsPage = %+v, want %+v", page, list)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, tc := range []struct{ name, site, tree string }{
			{"empty tree", "s1", ""},
			{"unknown tree", "s1", oid(3)},
			{"tree of another site", "s2", t2},
			{"missing site", "nope", t1},
		} {
			_, err := h.s.DeploymentByTree(h.ctx, tc.site, tc.tree)
			wantErr(t, "DeploymentByTree: "+tc.name, err, tenants.ErrNotFound)
		}
	})
	t.Run("invalid tree", func(t *testing.T) {
		d := tenants.Deployment{ID: "d9", SiteID: "s1", Source: tenants.Source{Type: "git", Tree: "HEAD"}}
		wantErr(t, "CreateDeployment with a bad tree", h.s.CreateDeployment(h.ctx, d), tenants.ErrInvalid)
	})
}

func testProductionBranch(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	trunk := tenants.Site{ID: "s2", TenantID: "t1", Name: "shop", ProductionBranch: "trunk", Created: baseTime}
	mustNil(t, "CreateSite with a branch", h.s.CreateSite(h.ctx, trunk))
	branches := func(t *testing.T, want map[string]string) {
		t.Helper()
		for id, b := range want {
			got, err := h.s.Site(h.ctx, id)
			mustNil(t, "Site", err)
			if got.ProductionBranch != b {
				t.Errorf("Site(%s).ProductionBranch = %q, want %q", id, got.ProductionBranch, b)
			}
		}
		list, err := h.s.Sites(h.ctx, "t1")
		mustNil(t, "Sites", err)
		page, _, err := h.s.SitesPage(h.ctx, tenants.SiteFilter{TenantID: "t1"}, tenants.PageRequest{Limit: 10})
		mustNil(t, "SitesPage", err)
		for what, l := range map[string][]tenants.Site{"Sites": list, "SitesPage": page} {
			got := map[string]string{}
			for _, s := range l {
				got[s.ID] = s.ProductionBranch
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: branches %v, want %v", what, got, want)
			}
		}
	}
	branches(t, map[string]string{"s1": tenants.DefaultProductionBranch, "s2": "trunk"})

	mustNil(t, "SetProductionBranch", h.s.SetProductionBranch(h.ctx, "s1", "release/v2.1"))
	branches(t, map[string]string{"s1": "release/v2.1", "s2": "trunk"})

	for _, bad := range []string{"", "-x", "a..b", "a b", "x.lock", "refs/heads/", "a\x00b"} {
		t.Run(fmt.Sprintf("invalid %q", bad), func(t *testing.T) {
			wantErr(t, "SetProductionBranch", h.s.SetProductionBranch(h.ctx, "s1", bad), tenants.ErrInvalid)
			if bad != "" {
				s := tenants.Site{ID: "s3", TenantID: "t1", Name: "docs", ProductionBranch: bad}
				wantErr(t, "CreateSite", h.s.CreateSite(h.ctx, s), tenants.ErrInvalid)
			}
		})
	}
	branches(t, map[string]string{"s1": "release/v2.1", "s2": "trunk"})
	wantErr(t, "SetProductionBranch on a missing site", h.s.SetProductionBranch(h.ctx, "nope", "main"), tenants.ErrNotFound)
}

func testGitDeleteCascades(t *testing.T, h *harness) {
	h.gitWorld(t)
	h.tenant(t, "t2", "other")
	h.site(t, "s3", "t2", "docs")
	h.push(t, "s3", "", gitRef("s3", "feature", oid(1), "", "feature"), "")
	blobs := []tenants.GitBlob{{OID: oid(1), Hash: hashOf(1), Size: 1}}
	mustNil(t, "PutGitBlobs t1", h.s.PutGitBlobs(h.ctx, "t1", blobs))
	mustNil(t, "PutGitBlobs t2", h.s.PutGitBlobs(h.ctx, "t2", blobs))
	empty := gitState{Refs: []tenants.GitRef{}, Packs: []tenants.GitPack{}, Shallow: []string{}}

	mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "s1"))
	// A new site with the old one's ID starts with an empty repository.
	h.site(t, "s1", "t1", "blog")
	if got := h.gitState(t, "s1"); !reflect.DeepEqual(got, empty) {
		t.Errorf("a site re-created after DeleteSite has %+v", got)
	}
	_, err := h.s.GitAlias(h.ctx, "s1", "feature")
	wantErr(t, "GitAlias after DeleteSite", err, tenants.ErrNotFound)
	h.push(t, "s1", "", gitRef("s1", "feature", oid(5), "", "feature"), "")
	h.push(t, "s2", "", gitRef("s2", "main", oid(5), "", ""), "")

	mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "t1"))
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	for _, id := range []string{"s1", "s2"} {
		if got := h.gitState(t, id); !reflect.DeepEqual(got, empty) {
			t.Errorf("site %s re-created after DeleteTenant has %+v", id, got)
		}
	}
	got, err := h.s.GitBlobs(h.ctx, "t1", []string{oid(1)})
	if err != nil || len(got) != 0 {
		t.Errorf("a tenant re-created after DeleteTenant has git blobs %v (%v)", got, err)
	}

	t.Run("other tenant untouched", func(t *testing.T) {
		got, err := h.s.GitBlobs(h.ctx, "t2", []string{oid(1)})
		if err != nil || len(got) != 1 {
			t.Errorf("GitBlobs of t2 = %v, %v; want its one blob", got, err)
		}
		if _, err := h.s.GitAlias(h.ctx, "s3", "feature"); err != nil {
			t.Errorf("GitAlias of s3: %v", err)
		}
	})
}

// gitChangeSteps is RunChanges' part for tenants.GitStore: a push that
// adds, moves or deletes an alias, or activates, is a change of the site;
// other git writes, and refused pushes, send nothing.
func gitChangeSteps(t *testing.T, c *changeSteps) {
	h, ctx := c.h, c.h.ctx
	site := tenants.Change{Kind: tenants.ChangeSite, Key: "blog"}
	h.push(t, "s1", "", gitRef("s1", "main", oid(1), "d1", ""), "")
	mustNil(t, "ReplaceGitPacks", h.s.ReplaceGitPacks(ctx, "s1", nil, tenants.GitPack{Name: packName(1), Size: 1}))
	mustNil(t, "PutGitBlobs", h.s.PutGitBlobs(ctx, "t1", []tenants.GitBlob{{OID: oid(1), Hash: hashOf(1), Size: 1}}))
	mustNil(t, "SetProductionBranch", h.s.SetProductionBranch(ctx, "s1", "trunk"))
	c.step(t, "git push of a branch without alias, packs, blobs, production branch")

	h.push(t, "s1", oid(1), gitRef("s1", "main", oid(2), "d2", ""), "d2")
	c.step(t, "git push activating", site)

	h.push(t, "s1", "", gitRef("s1", "feature", oid(3), "d1", "feature"), "")
	c.step(t, "git push adding an alias", site)
	h.push(t, "s1", oid(3), gitRef("s1", "feature", oid(4), "d2", "feature"), "")
	c.step(t, "git push moving an alias", site)

	err := h.s.ApplyGitPush(ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{
		{Old: oid(4), Ref: tenants.GitRef{Name: "refs/heads/feature"}},
		{Old: oid(9), Ref: gitRef("s1", "main", oid(5), "d1", "")},
	}, Activate: "d1"})
	var ce *tenants.GitRefConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("ApplyGitPush from a wrong commit: %v, want a *GitRefConflictError", err)
	}
	wantErr(t, "ApplyGitPush taking an alias", h.s.ApplyGitPush(ctx, tenants.GitPush{SiteID: "s1", Refs: []tenants.GitRefUpdate{
		{Ref: gitRef("s1", "Feature", oid(5), "d1", "feature")},
	}}), tenants.ErrConflict)
	c.step(t, "refused git pushes")

	h.push(t, "s1", oid(4), tenants.GitRef{Name: "refs/heads/feature"}, "")
	c.step(t, "git push deleting an alias", site)
}
