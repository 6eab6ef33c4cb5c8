//go:build !linux

package worker

import "errors"

// mmapSupported: reservations are Linux-only here; elsewhere a linear
// memory is a Go slice (sliceMemory).
const mmapSupported = false

// mmapMemory is never created off Linux.
type mmapMemory struct {
	mapping []byte
	freed   bool
}

func reserve(*memPool, uint64) (*mmapMemory, error) {
	return nil, errors.New("worker: linear memory reservations need Linux")
}

func (m *mmapMemory) Reallocate(uint64) []byte { return nil }
func (m *mmapMemory) Free()                    {}
func (m *mmapMemory) unmap()                   {}
