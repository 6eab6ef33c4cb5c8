//go:build linux && !amd64 && !arm64

package worker

// tickThreadSupported: the ticker's thread exists in amd64 and arm64 assembly only;
// elsewhere each instance has a kernel timer of its own (kernelTimer).
const tickThreadSupported = false

func rawClone(_, _, _ uintptr) int64 { panic("worker: no ticker thread on this architecture") }
