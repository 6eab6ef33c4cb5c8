//go:build linux

package worker

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmapSupported: a 4 GiB memory needs a 64-bit address space.
const mmapSupported = unsafe.Sizeof(uintptr(0)) == 8

// mmapMemory is a linear memory in a reservation of address space: the
// first committed bytes are readable and writable, the rest PROT_NONE. It
// never moves, so growing is an mprotect of the new pages. Its methods are
// called by wazero from the goroutine using the instance.
type mmapMemory struct {
	pool      *memPool
	mapping   []byte // the whole reservation
	committed uint64 // bytes readable and writable, a prefix of mapping
	freed     bool
}

// reserve maps size bytes of address space with no access and no swap
// reservation: it costs no memory until pages are committed and touched.
func reserve(p *memPool, size uint64) (*mmapMemory, error) {
	if size > uint64(maxMemoryPages)*wasmPageSize || size%uint64(unix.Getpagesize()) != 0 {
		return nil, fmt.Errorf("worker: cannot reserve %d bytes of linear memory", size)
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("worker: reserving linear memory: %w", err)
	}
	return &mmapMemory{pool: p, mapping: b}, nil
}

// Reallocate implements experimental.LinearMemory: it makes the first size
// bytes accessible and returns them, at the same address every time. Past
// the reservation (the cap) it returns nil and memory.grow fails.
func (m *mmapMemory) Reallocate(size uint64) []byte {
	if m.freed || size > uint64(len(m.mapping)) {
		return nil
	}
	if size > m.committed {
		if err := unix.Mprotect(m.mapping[m.committed:size], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil // ENOMEM: out of mappings or memory; the grow fails
		}
		m.committed = size
	}
	// The capacity is the length: nothing may reslice into PROT_NONE pages.
	return m.mapping[:size:size]
}

// Free implements experimental.LinearMemory: it releases the pages (they
// read as zeros afterwards), makes them inaccessible again and returns the
// reservation to the pool, or unmaps it if the pool is full or closed.
func (m *mmapMemory) Free() {
	if m.freed {
		return
	}
	m.freed = true
	if m.committed > 0 {
		used := m.mapping[:m.committed]
		if unix.Madvise(used, unix.MADV_DONTNEED) != nil || unix.Mprotect(used, unix.PROT_NONE) != nil {
			m.unmap() // not reusable as it stands
			return
		}
		m.committed = 0
	}
	if !m.pool.put(m) {
		m.unmap()
	}
}

// unmap releases the reservation.
func (m *mmapMemory) unmap() {
	if m.mapping != nil {
		_ = unix.Munmap(m.mapping)
		m.mapping = nil
	}
}
