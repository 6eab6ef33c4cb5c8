package worker

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memory.
//
// Each instance's linear memory comes from a Worker's memAllocator
// (experimental.MemoryAllocator, passed to wazero in the instantiation
// context). It caps the memory at Limits.MemoryBytes: Reallocate beyond the
// cap returns nil, which wazero turns into memory.grow returning -1.
//
// On 64-bit Linux a memory is a reservation of address space the size of
// the cap (mmap PROT_NONE, MAP_NORESERVE) whose prefix is made readable and
// writable as the memory grows: growing neither copies nor moves the
// memory, so growing to the cap one step at a time costs what the pages
// cost. When an instance closes, its pages are released (MADV_DONTNEED:
// the RSS goes back to the system and the pages read as zeros) and the
// reservation goes to a bounded pool of reservations of its size, from
// which the next instance takes it. Elsewhere a memory is a Go slice that
// grows as wazero's default does (by copying).

const (
	// memPoolPerSize bounds the pooled reservations of one size.
	memPoolPerSize = 32
	// memPoolTotal bounds the pooled reservations of all sizes. Pooled
	// reservations hold address space only: no RSS.
	memPoolTotal = 128
)

// memAllocator allocates the linear memories of one Worker's instances.
type memAllocator struct {
	pool  *memPool
	limit uint64 // bytes, a multiple of the wasm page size
}

var _ experimental.MemoryAllocator = memAllocator{}

// Allocate implements experimental.MemoryAllocator. max is the module's
// declared maximum (4 GiB when it declares none); the memory never grows
// past min(max, limit).
func (a memAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	size := min(max, a.limit)
	if m := a.pool.get(size); m != nil {
		return m
	}
	return newSliceMemory(capacity, size)
}

// memPool holds released reservations by size; it is shared by a
// Runtime's Workers. Its methods are safe for concurrent use.
type memPool struct {
	mu     sync.Mutex
	free   map[uint64][]*mmapMemory
	n      int
	closed bool
}

func newMemPool() *memPool {
	return &memPool{free: map[uint64][]*mmapMemory{}}
}

// get returns a pooled or new reservation of size bytes, or nil if
// reservations are unavailable (not 64-bit Linux, size 0, mmap failed):
// the caller then uses a slice.
func (p *memPool) get(size uint64) *mmapMemory {
	if !mmapSupported || size == 0 {
		return nil
	}
	p.mu.Lock()
	if l := p.free[size]; len(l) > 0 {
		m := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[size] = l[:len(l)-1]
		p.n--
		p.mu.Unlock()
		m.freed = false
		return m
	}
	p.mu.Unlock()
	m, err := reserve(p, size)
	if err != nil {
		return nil
	}
	return m
}

// put takes back a reset reservation; it reports false (the caller unmaps
// it) when the pool is closed or full.
func (p *memPool) put(m *mmapMemory) bool {
	size := uint64(len(m.mapping))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.n >= memPoolTotal || len(p.free[size]) >= memPoolPerSize {
		return false
	}
	p.free[size] = append(p.free[size], m)
	p.n++
	return true
}

// pooled returns the number of pooled reservations.
func (p *memPool) pooled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// close unmaps the pooled reservations; memories freed later are unmapped
// instead of pooled.
func (p *memPool) close() {
	p.mu.Lock()
	free := p.free
	p.free, p.n, p.closed = map[uint64][]*mmapMemory{}, 0, true
	p.mu.Unlock()
	for _, l := range free {
		for _, m := range l {
			m.unmap()
		}
	}
}

// sliceMemory is a linear memory in a Go slice, grown by copying like
// wazero's default, capped at max bytes.
type sliceMemory struct {
	buf []byte
	max uint64
}

func newSliceMemory(capacity, max uint64) *sliceMemory {
	return &sliceMemory{buf: make([]byte, 0, min(capacity, max)), max: max}
}

// Reallocate implements experimental.LinearMemory.
func (m *sliceMemory) Reallocate(size uint64) []byte {
	switch {
	case size > m.max:
		return nil
	case size <= uint64(cap(m.buf)):
		// Bytes past len were zeroed by make or append and never written:
		// memory never shrinks.
		m.buf = m.buf[:size]
	default:
		m.buf = append(m.buf, make([]byte, size-uint64(len(m.buf)))...)
	}
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *sliceMemory) Free() { m.buf = nil }

// capturedMemory allocates one instance's linear memory through a
// Worker's memAllocator and counts the grows refused at the plan's cap,
// so that a guest that handles a failed memory.grow is still reported as
// OutcomeExceededMemory. wazero calls it on the goroutine running the
// guest, as does the Worker reading it.
type capturedMemory struct {
	alloc   memAllocator
	refused int // grows refused at the cap, ever
	mark    int // refused when the current request began
}

var _ experimental.MemoryAllocator = (*capturedMemory)(nil)

// Allocate implements experimental.MemoryAllocator.
func (c *capturedMemory) Allocate(capacity, max uint64) experimental.LinearMemory {
	return &countedMemory{LinearMemory: c.alloc.Allocate(capacity, max), owner: c}
}

// begin starts counting refusals for a new request.
func (c *capturedMemory) begin() { c.mark = c.refused }

// refusedSince reports whether a grow was refused at the cap since begin.
func (c *capturedMemory) refusedSince() bool { return c != nil && c.refused > c.mark }

// countedMemory is a linear memory whose refused grows past the cap are
// counted.
type countedMemory struct {
	experimental.LinearMemory
	owner *capturedMemory
}

// Reallocate implements experimental.LinearMemory. wazero refuses grows
// past the module's own declared maximum before asking, so a refusal here
// past the Worker's limit is the plan's cap.
func (m *countedMemory) Reallocate(size uint64) []byte {
	b := m.LinearMemory.Reallocate(size)
	if b == nil && size > m.owner.alloc.limit {
		m.owner.refused++
	}
	return b
}
