package tenants

// ChangeFollower keeps something a node caches in step with the store: it
// is told of each change this node makes (through the admin API) and,
// with a ChangeWatcher, of every node's. Its methods are idempotent hints
// and must return quickly.
type ChangeFollower interface {
	// SiteChanged: site name was created, deleted or deployed, or its
	// tenant disabled, re-enabled or deleted.
	SiteChanged(name string)
	// DomainChanged: a claim on host changed (see ChangeDomain).
	DomainChanged(host string)
	// Resync: changes may have been missed; reload what is cached.
	Resync()
}

// Followers fans each change out to every follower, in order.
type Followers []ChangeFollower

// SiteChanged tells every follower.
func (fs Followers) SiteChanged(name string) {
	for _, f := range fs {
		f.SiteChanged(name)
	}
}

// DomainChanged tells every follower.
func (fs Followers) DomainChanged(host string) {
	for _, f := range fs {
		f.DomainChanged(host)
	}
}

// Resync tells every follower.
func (fs Followers) Resync() {
	for _, f := range fs {
		f.Resync()
	}
}

// Apply delivers a change from a ChangeWatcher. ChangeTenant needs no
// delivery: the tenant's sites and domains come as their own changes
// when their serving state changed.
func (fs Followers) Apply(c Change) {
	switch c.Kind {
	case ChangeSite:
		fs.SiteChanged(c.Key)
	case ChangeDomain:
		fs.DomainChanged(c.Key)
	case ChangeResync:
		fs.Resync()
	case ChangeKV:
		fs.KVChanged(SplitKVChangeKey(c.Key))
	}
}

// KVChanged tells every follower that is a KVFollower.
func (fs Followers) KVChanged(namespaceID, key string) {
	for _, f := range fs {
		if kf, ok := f.(KVFollower); ok {
			kf.KVChanged(namespaceID, key)
		}
	}
}

var _ ChangeFollower = Followers(nil)
