package assets

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
)

// DefaultCacheBytes is the size of a Cache created with maxBytes 0.
const DefaultCacheBytes = 256 << 20

// entryOverhead approximates the memory an entry costs beyond its data
// (key, map slot, list links), so many tiny blobs still count.
const entryOverhead = 128

// maxCacheShards bounds the number of shards; each shard is at least
// minShardBytes, so a blob admitted to the cache (≤ maxBytes/16) is at most
// half a shard.
const (
	maxCacheShards = 8
	minShardBytes  = 1 << 20
)

// Cache is a size-bounded in-memory read cache of whole blobs in front of
// a Backend. It is safe for concurrent use.
//
// Blobs are content-addressed and immutable, so the cache never
// revalidates; use Forget after deleting a blob. Eviction is CLOCK (a
// cheap LRU approximation whose hit path only sets a bit): a blob
// read again since the hand last passed survives one more round, a blob
// read once is the first to go. The cache is split into shards, each with
// its own lock and byte budget; a hit takes one shard read lock and
// allocates nothing.
//
// Concurrent misses for one key are coalesced into one backend read.
// Errors are never cached.
type Cache struct {
	b       Backend
	max     int64
	maxItem int64
	seed    maphash.Seed
	mask    uint64
	shards  []cacheShard
}

type cacheShard struct {
	mu       sync.RWMutex
	items    map[string]*cacheEntry
	hand     *cacheEntry // CLOCK hand on a circular list; nil when empty
	inflight map[string]*cacheCall
	bytes    int64 // cost of items, guarded by mu
	max      int64

	hits      atomic.Int64
	misses    atomic.Int64
	coalesced atomic.Int64
	evictions atomic.Int64

	_ [64]byte // keep neighbouring shards' locks off one cache line
}

type cacheEntry struct {
	key        string
	data       []byte
	ref        atomic.Bool // read since the hand last passed
	prev, next *cacheEntry
}

func (e *cacheEntry) cost() int64 { return int64(len(e.data)+len(e.key)) + entryOverhead }

type cacheCall struct {
	done chan struct{}
	data []byte
	err  error
}

// CacheStats is a snapshot of a Cache's counters.
type CacheStats struct {
	Hits      int64 // reads answered from memory
	Misses    int64 // reads that went to the backend
	Coalesced int64 // reads that waited for another caller's backend read
	Evictions int64 // blobs dropped to make room
	Bytes     int64 // bytes held (blob data plus a per-entry overhead)
	Items     int64 // blobs held
}

// NewCache returns a cache of at most maxBytes (0 means DefaultCacheBytes)
// in front of b. Blobs larger than maxBytes/16 are read through but not
// kept.
func NewCache(b Backend, maxBytes int64) *Cache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	n := 1
	for n < maxCacheShards && maxBytes/int64(n*2) >= minShardBytes {
		n *= 2
	}
	return newCache(b, maxBytes, n)
}

// newCache builds a cache with n shards (a power of two).
func newCache(b Backend, maxBytes int64, n int) *Cache {
	c := &Cache{
		b:       b,
		max:     maxBytes,
		maxItem: maxBytes / 16,
		seed:    maphash.MakeSeed(),
		mask:    uint64(n - 1),
		shards:  make([]cacheShard, n),
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.items = make(map[string]*cacheEntry)
		s.inflight = make(map[string]*cacheCall)
		s.max = maxBytes / int64(n)
	}
	return c
}

// Backend returns the backend the cache reads from.
func (c *Cache) Backend() Backend { return c.b }

func (c *Cache) shard(key string) *cacheShard {
	if c.mask == 0 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

// Bytes returns the whole blob stored under key, from memory when cached,
// else from the backend (caching it when it is at most maxBytes/16).
// Errors are the backend's (ErrNotFound, ErrUnavailable, …) and are not
// cached.
//
// The returned slice is shared with the cache and with every other
// caller: it must not be modified.
func (c *Cache) Bytes(ctx context.Context, key string) ([]byte, error) {
	s := c.shard(key)
	s.mu.RLock()
	e := s.items[key]
	s.mu.RUnlock()
	if e != nil {
		if !e.ref.Load() {
			e.ref.Store(true)
		}
		s.hits.Add(1)
		return e.data, nil
	}
	return c.miss(ctx, s, key)
}

func (c *Cache) miss(ctx context.Context, s *cacheShard, key string) ([]byte, error) {
	for {
		s.mu.Lock()
		if e := s.items[key]; e != nil {
			s.mu.Unlock()
			e.ref.Store(true)
			s.hits.Add(1)
			return e.data, nil
		}
		call := s.inflight[key]
		if call == nil {
			call = &cacheCall{done: make(chan struct{})}
			s.inflight[key] = call
			s.mu.Unlock()
			s.misses.Add(1)
			c.load(ctx, s, key, call)
			return call.data, call.err
		}
		s.mu.Unlock()
		s.coalesced.Add(1)
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("assets: cache read %q: %w", key, ctx.Err())
		}
		if call.err == nil {
			return call.data, nil
		}
		// The leader's own context ended its read; ours is still alive, so
		// try again (possibly as the new leader).
		if isContextErr(call.err) && ctx.Err() == nil {
			continue
		}
		return nil, call.err
	}
}

// load reads key from the backend into call, publishes the result to any
// waiters and caches it when it fits. It always completes call, even if
// the backend panics.
func (c *Cache) load(ctx context.Context, s *cacheShard, key string, call *cacheCall) {
	completed := false
	defer func() {
		if !completed {
			call.err = fmt.Errorf("assets: cache read %q: backend panicked", key)
		}
		s.mu.Lock()
		delete(s.inflight, key)
		if call.err == nil && int64(len(call.data)) <= c.maxItem {
			s.insert(key, call.data)
		}
		s.mu.Unlock()
		close(call.done)
	}()
	call.data, call.err = readBlob(ctx, c.b, key)
	completed = true
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// readBlob reads a whole blob, sizing the buffer from the reader when it
// can tell its size.
func readBlob(ctx context.Context, b Backend, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	hint := int64(512)
	switch r := rc.(type) {
	case interface{ Size() int64 }:
		hint = r.Size()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := r.Stat(); err == nil {
			hint = fi.Size()
		}
	}
	if hint < 0 || hint > 1<<30 {
		hint = 512
	}
	buf := make([]byte, 0, hint+1) // +1: the final Read reports EOF without growing
	for {
		n, err := rc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("assets: reading blob %q: %w", key, err)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// insert adds key to the shard, evicting with CLOCK until it fits. The
// caller holds s.mu.
func (s *cacheShard) insert(key string, data []byte) {
	if s.items[key] != nil {
		return
	}
	e := &cacheEntry{key: key, data: data}
	cost := e.cost()
	if cost > s.max {
		return
	}
	for s.bytes+cost > s.max && s.hand != nil {
		h := s.hand
		if h.ref.Load() {
			h.ref.Store(false)
			s.hand = h.next
			continue
		}
		s.remove(h)
		s.evictions.Add(1)
	}
	// Link e just behind the hand: it is the last the hand will reach.
	if s.hand == nil {
		e.prev, e.next = e, e
		s.hand = e
	} else {
		e.next = s.hand
		e.prev = s.hand.prev
		e.prev.next = e
		s.hand.prev = e
	}
	s.items[key] = e
	s.bytes += cost
}

// remove unlinks e. The caller holds s.mu.
func (s *cacheShard) remove(e *cacheEntry) {
	if e.next == e {
		s.hand = nil
	} else {
		e.prev.next = e.next
		e.next.prev = e.prev
		if s.hand == e {
			s.hand = e.next
		}
	}
	e.prev, e.next = nil, nil
	delete(s.items, e.key)
	s.bytes -= e.cost()
}

// Forget drops key from the cache (after the blob was deleted). A backend
// read of key already in flight may still cache the old value.
func (c *Cache) Forget(key string) {
	s := c.shard(key)
	s.mu.Lock()
	if e := s.items[key]; e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() CacheStats {
	var st CacheStats
	for i := range c.shards {
		s := &c.shards[i]
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.Coalesced += s.coalesced.Load()
		st.Evictions += s.evictions.Load()
		s.mu.RLock()
		st.Bytes += s.bytes
		st.Items += int64(len(s.items))
		s.mu.RUnlock()
	}
	return st
}
