//go:build linux

package worker

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"
)

// ticker is the node's interrupt clock: one thread, outside the Go
// runtime, that every checkEvery sets the interrupt global of every guest
// running at that moment. A guest registers its global's storage in the
// ticker's table when it starts or resumes and removes it when it stops:
// two memory stores, no system call, where a timerfd per instance
// (kernelTimer) costs two timerfd_settime calls per request (about 5 µs on
// a virtual machine, where arming a timer exits to the hypervisor: a sixth
// of a hello-world's cost through the edge).
//
// The thread is started with clone(2) from assembly and runs only
// assembly: it never needs a P, so neither a stop-the-world pause that
// waits for a spinning guest nor GOMAXPROCS spinning guests can hold it
// up, which is why a goroutine cannot do this job. All signals are
// blocked on it (it inherits the mask of the thread that starts it), so
// the Go runtime's handlers never run there. It sleeps a period at a
// time with clock_nanosleep (relative: after a stall, a paused virtual
// machine say, it sweeps once rather than once per missed tick; ticks
// drift by a sweep's microsecond, which nothing needs); after idleTicks
// ticks with no guest registered it waits on a futex instead, and the
// next registration wakes it (one system call after an idle spell).
//
// The shared memory is one anonymous mapping: a header (tkSeq...) and
// the table (tkEntries...), each entry the address of a running guest's
// global or zero. The thread increments tkSeq before and after each sweep
// (odd while sweeping): an instance about to be freed removes its entry,
// then waits for a sweep in progress to end (release), so the thread
// never writes to freed memory.
type ticker struct {
	mem   []byte   // the mapping
	words []uint64 // mem as words: header then entries
	tid   int      // the thread's id

	mu   sync.Mutex
	free []int // entry indexes released, reused first
	high int   // entries handed out so far (tkHigh)
}

// Header words; the thread's assembly uses the same offsets (×8).
const (
	tkSeq     = 0 // sweeps begun + sweeps ended: odd while sweeping
	tkParked  = 1 // low 32 bits: 1 while the thread waits on the futex
	tkHigh    = 2 // entries in use at most: the sweep's length
	tkPeriod  = 3 // ns between ticks
	tkIdleMax = 4 // idle ticks before the thread parks
	tkTicks   = 5 // sweeps done (a health and test counter)
	tkSleep   = 6 // two words: the period as a timespec, for clock_nanosleep
	tkEntries = 8
)

// tickCapacity is the table's size: at most this many instances hold an
// entry at once (live instances, parked ones excluded); others fall back
// to a kernel timer of their own.
const tickCapacity = 1 << 16

// idleTicks is how many ticks with no guest running the thread waits
// before parking on the futex.
const idleTicks = 16

var shared struct {
	once sync.Once
	t    *ticker
	err  error
}

// nodeTicker starts the process's ticker on first use.
func nodeTicker() (*ticker, error) {
	shared.once.Do(func() { shared.t, shared.err = startTicker(checkEvery) })
	return shared.t, shared.err
}

// tickStack is the thread's stack: it makes system calls only, so any
// valid memory would do; a page of its own keeps it off Go's stacks.
const tickStack = 16 << 10

func startTicker(period time.Duration) (*ticker, error) {
	if !tickThreadSupported {
		return nil, errors.New("worker: no interrupt ticker on " + runtime.GOARCH)
	}
	size := (tkEntries + tickCapacity) * 8
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("worker: mapping the ticker's table: %w", err)
	}
	stack, err := unix.Mmap(-1, 0, tickStack, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		_ = unix.Munmap(mem)
		return nil, fmt.Errorf("worker: mapping the ticker's stack: %w", err)
	}
	t := &ticker{mem: mem, words: unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), len(mem)/8)}
	t.words[tkPeriod] = uint64(period.Nanoseconds())
	t.words[tkSleep], t.words[tkSleep+1] = uint64(period/time.Second), uint64(period%time.Second)
	t.words[tkIdleMax] = idleTicks
	top := uintptr(unsafe.Pointer(&stack[0])) + tickStack - 64

	// The new thread inherits this thread's signal mask: block every
	// signal here for the clone, then restore the mask.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all, old := ^uint64(0), uint64(0)
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); errno != 0 {
		return nil, fmt.Errorf("worker: blocking signals for the ticker: %w", errno)
	}
	tid := rawClone(cloneFlags, top, uintptr(unsafe.Pointer(&t.words[0])))
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	if tid < 0 {
		_ = unix.Munmap(mem)
		_ = unix.Munmap(stack)
		return nil, fmt.Errorf("worker: starting the ticker thread: %w", unix.Errno(-tid))
	}
	t.tid = int(tid)
	// The mappings live as long as the process (so does the thread).
	return t, nil
}

// futexWakePrivate is FUTEX_WAKE|FUTEX_PRIVATE_FLAG (not in x/sys/unix).
const futexWakePrivate = 1 | 128

// cloneFlags makes a thread of this process, as the Go runtime's own.
const cloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD

// ticks is how many sweeps the thread has done.
func (t *ticker) ticks() uint64 { return atomic.LoadUint64(&t.words[tkTicks]) }

// parked reports whether the thread waits on its futex.
func (t *ticker) parked() bool { return atomic.LoadUint32(t.parkWord()) == 1 }

func (t *ticker) parkWord() *uint32 { return (*uint32)(unsafe.Pointer(&t.words[tkParked])) }

// acquire hands out a table entry; false when the table is full.
func (t *ticker) acquire() (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		return i, true
	}
	if t.high == tickCapacity {
		return 0, false
	}
	i := t.high
	t.high++
	atomic.StoreUint64(&t.words[tkHigh], uint64(t.high))
	return i, true
}

// set registers addr (a guest's global) in entry i and wakes the thread
// if it is parked. The stores are sequentially consistent, and so are
// the thread's (locked instructions): either the thread sees the entry
// when it checks the table after marking itself parked, or this sees it
// parked and wakes it.
func (t *ticker) set(i int, addr uintptr) {
	atomic.StoreUint64(&t.words[tkEntries+i], uint64(addr))
	if pw := t.parkWord(); atomic.LoadUint32(pw) == 1 && atomic.CompareAndSwapUint32(pw, 1, 0) {
		_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(pw)), futexWakePrivate, 1, 0, 0, 0)
	}
}

// clear removes entry i's address: sweeps that begin after it leave the
// guest alone (one in progress may still write its global).
func (t *ticker) clear(i int) { atomic.StoreUint64(&t.words[tkEntries+i], 0) }

// release frees entry i once no sweep can write through it: after clear,
// a sweep in progress (tkSeq odd) is waited for.
func (t *ticker) release(i int) {
	t.clear(i)
	if seq := atomic.LoadUint64(&t.words[tkSeq]); seq&1 == 1 {
		for atomic.LoadUint64(&t.words[tkSeq]) == seq {
			runtime.Gosched() // a sweep takes a microsecond or so
		}
	}
	t.mu.Lock()
	t.free = append(t.free, i)
	t.mu.Unlock()
}

// tickSource is one instance's use of the ticker: its entry in the table
// and its global's storage. It implements interruptSource.
type tickSource struct {
	t     *ticker
	entry int
	slot  []byte // the global's 8 bytes, which the thread writes
	g     api.MutableGlobal
	taken atomic.Uint64 // firings the guest took (tests)
}

// tickerSource makes an instance's tickSource on the node's ticker.
func tickerSource(g api.MutableGlobal) (interruptSource, error) {
	t, err := nodeTicker()
	if err != nil {
		return nil, err
	}
	s, err := t.source(g)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (t *ticker) source(g api.MutableGlobal) (*tickSource, error) {
	slot, err := globalSlot(g)
	if err != nil {
		return nil, err
	}
	i, ok := t.acquire()
	if !ok {
		return nil, errors.New("worker: the interrupt ticker's table is full")
	}
	return &tickSource{t: t, entry: i, slot: slot, g: g}, nil
}

// start registers the guest: the next tick (within checkEvery) sets its
// flag. d is not used: ticks come every checkEvery, and a budget that
// ends between two is overrun by less than one.
func (s *tickSource) start(_, _ time.Duration) error {
	s.t.set(s.entry, uintptr(unsafe.Pointer(&s.slot[0])))
	return nil
}

// stop removes the guest from the table and clears a flag it did not
// take. A sweep in progress may set the flag again after that: the next
// start's first check then takes it (one call to the interrupt function).
func (s *tickSource) stop() {
	s.t.clear(s.entry)
	if s.g.Get() != 0 {
		s.g.Set(0)
	}
}

// take clears the flag, on the guest's thread: the next tick sets it.
func (s *tickSource) take(time.Duration) error {
	s.g.Set(0)
	s.taken.Add(1)
	return nil
}

// close releases the entry (the instance is about to be freed or parked).
func (s *tickSource) close() {
	s.t.release(s.entry)
	runtime.KeepAlive(s.slot)
}
