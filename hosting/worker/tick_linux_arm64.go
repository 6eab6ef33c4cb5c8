package worker

// tickThreadSupported: the ticker's thread is written in arm64 assembly
// (tick_linux_arm64.s).
const tickThreadSupported = true

// rawClone starts a thread with clone(2) on stack that runs the ticker's
// loop over the shared words at region and never returns to Go. It
// returns the thread's id, or -errno. The calling goroutine must be
// locked to its thread with every signal blocked.
//
//go:noescape
func rawClone(flags, stack, region uintptr) int64
