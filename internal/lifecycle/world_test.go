package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/assets/s3blob"
	"github.com/pierhq/pier/internal/lifecycle"
	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/pgstore"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// node is one pier node: a store client, the publish pipeline on it and
// a sweeper.
type node struct {
	store lifecycle.Store
	blobs assets.Backend
	api   *admin.API
	gc    *lifecycle.Sweeper

	mu      sync.Mutex
	changed []string // sites OnSiteChanged was called with
}

func newNode(t testing.TB, store lifecycle.Store, blobs assets.Backend, holder string) *node {
	t.Helper()
	n := &node{store: store, blobs: blobs}
	n.api = admin.New(admin.Config{SpoolDir: t.TempDir(), GarbageWait: time.Minute}, store, blobs)
	n.gc = &lifecycle.Sweeper{
		Store: store, Blobs: blobs, Holder: holder, PageSize: 7,
		Logger: slog.New(slog.DiscardHandler),
		OnSiteChanged: func(s tenants.Site) {
			n.mu.Lock()
			n.changed = append(n.changed, s.Name)
			n.mu.Unlock()
		},
	}
	return n
}

func sqliteStore(t testing.TB) lifecycle.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "pier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pgStore(t testing.TB, dsn string) lifecycle.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fsBackend(t testing.TB) assets.Backend {
	t.Helper()
	b, err := fsblob.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var bucketSeq sync.Mutex
var bucketN int

func minioBackend(t testing.TB) assets.Backend {
	t.Helper()
	m := testenv.StartMinIO(t)
	bucketSeq.Lock()
	bucketN++
	bucket := fmt.Sprintf("pier-gc-%d-%d", time.Now().UnixNano()%1e9, bucketN)
	bucketSeq.Unlock()
	s, err := s3blob.New(context.Background(), s3blob.Config{
		Endpoint: m.Endpoint, Bucket: bucket, Region: m.Region,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// tenant creates a tenant whose sites keep their newest keep deployments
// (and those younger than a day).
func tenant(t testing.TB, s tenants.Store, name string, keep int) tenants.Tenant {
	t.Helper()
	tn := tenants.Tenant{ID: "t_" + name, Name: name, Plan: tenants.PlanFree,
		Limits: tenants.Limits{Quotas: tenants.Quotas{KeepDeployments: keep, KeepDays: 1, Deployments: 10_000}}}
	if err := s.CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	tn, err := s.Tenant(context.Background(), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func site(t testing.TB, s tenants.Store, tn tenants.Tenant, name string) tenants.Site {
	t.Helper()
	st := tenants.Site{ID: "s_" + name, TenantID: tn.ID, Name: name}
	if err := s.CreateSite(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	st, err := s.Site(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// files maps paths to contents.
type files map[string]string

// deploy publishes fs to site as a client does: start an upload, send
// the missing blobs, deploy; a blob collected meanwhile comes back as
// missing_blobs and is sent again.
func (n *node) deploy(ctx context.Context, tn tenants.Tenant, st tenants.Site, fs files, activate bool) (tenants.Deployment, error) {
	m := assets.Manifest{}
	byHash := map[string]string{}
	for p, c := range fs {
		h := assets.Hash(tn.Salt, []byte(c))
		m[p] = assets.Entry{Hash: h, Size: int64(len(c))}
		byHash[h] = c
	}
	up, err := n.api.StartUpload(ctx, st, m, nil)
	if err != nil {
		return tenants.Deployment{}, err
	}
	missing := up.Missing
	for try := 0; ; try++ {
		for _, h := range missing {
			c := byHash[h]
			if err := n.api.PutBlob(ctx, tn.ID, up.Session.ID, h, strings.NewReader(c), int64(len(c))); err != nil {
				return tenants.Deployment{}, fmt.Errorf("uploading %s: %w", h, err)
			}
		}
		d, err := n.api.Deploy(ctx, st, admin.DeployRequest{Upload: up.Session.ID, Activate: activate})
		var mbe *admin.MissingBlobsError
		if !errors.As(err, &mbe) || try == 5 {
			return d, err
		}
		missing = mbe.Hashes
	}
}

// checkServable reads every file of every deployment the store holds
// and compares it with its hash: nothing referenced was deleted.
func checkServable(t testing.TB, s tenants.Store, b assets.Backend) (deployments, files int) {
	t.Helper()
	ctx := context.Background()
	ts, err := s.Tenants(ctx, tenants.TenantFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range ts {
		sites, err := s.Sites(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sites {
			ds, err := s.Deployments(ctx, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, sum := range ds {
				d, err := s.Deployment(ctx, st.ID, sum.ID)
				if err != nil {
					t.Fatal(err)
				}
				deployments++
				for p, e := range d.Manifest {
					files++
					if err := checkBlob(ctx, b, tn, e.Hash); err != nil {
						t.Errorf("site %s deployment %s file %s: %v", st.Name, d.ID, p, err)
					}
				}
			}
		}
	}
	return deployments, files
}

func checkBlob(ctx context.Context, b assets.Backend, tn tenants.Tenant, hash string) error {
	rc, err := b.Get(ctx, assets.Key(tn.ID, hash, ""))
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if got := assets.Hash(tn.Salt, data); got != hash {
		return fmt.Errorf("content hashes to %s, want %s", got, hash)
	}
	return nil
}

// exists reports whether the backend holds key.
func exists(t testing.TB, b assets.Backend, key string) bool {
	t.Helper()
	_, err := b.Size(context.Background(), key)
	if err != nil && !errors.Is(err, assets.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}
