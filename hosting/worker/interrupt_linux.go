//go:build linux

package worker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"
)

// kernelTimer sets an instance's interrupt global without the Go
// scheduler. Compiled guest code has no Go safe point, so a stop-the-world
// pause that begins while a guest spins waits for it, and with GOMAXPROCS
// spinning guests no P is left for a timer goroutine: either way a
// goroutine could never set the flag. Instead goroutines locked to their
// own threads stay blocked in read(2) on a timerfd, with the global's
// storage as the buffer: when the timer expires the kernel writes the
// expiration count (non-zero) there and the guest calls the interrupt
// function at its next check, while the reader's thread is still in the
// system call and needs no P. The interrupt function (meter.interrupted)
// is Go code: there a pending stop-the-world pause or a preemption takes
// the guest's thread, and the function reads the thread's CPU clock to
// decide whether to stop the guest or to take the firing (take) and arm
// the timer again.
//
// There are two readers. A firing wakes one of them (the other finds no
// expiration and goes on waiting in the kernel), so while the woken one
// finds its way back into read(2), which needs a P, the other is there:
// the guest goes on at once, after checking that one reader is in read(2)
// (waitInRead, one pread of a /proc file). With a single reader the guest
// would wait each time for that reader to be scheduled.
//
// The timer fires at least every checkEvery while a guest runs (a pending
// timer due soon enough is kept), and stop disarms it: a firing while no
// guest runs wakes a reader, which then needs a P to note it and holds
// that P in read(2) until the scheduler's monitor takes it back (up to
// 10 ms on a quiet process, during which no goroutine runs on it with
// GOMAXPROCS=1): far more than the two timerfd_settime calls a request
// costs. A firing that comes while no guest runs all the same is taken by
// the reader itself. Two threads per live instance.
type kernelTimer struct {
	fd      int
	procFDs [2]int // /proc/self/task/<tid>/syscall of each reader; -1 if not open
	inRead  []byte // what that file shows while the reader is blocked in read(2) on fd
	g       api.MutableGlobal
	exited  chan struct{} // a reader has returned for good (one send each)
	closing atomic.Bool

	mu         sync.Mutex
	armedUntil time.Duration // when the pending firing is due (mono); 0 when none is
	guest      bool          // a guest runs (between start and stop)
	unchecked  bool          // a reader left read(2) since one was last seen in it
	fires      uint64        // firings the readers saw
	taken      uint64        // firings the guest took
}

func newKernelTimer(g api.MutableGlobal) (*kernelTimer, error) {
	slot, err := globalSlot(g)
	if err != nil {
		return nil, err
	}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("worker: timerfd_create: %w", err)
	}
	kt := &kernelTimer{fd: fd, procFDs: [2]int{-1, -1}, g: g, exited: make(chan struct{}, 2),
		inRead: fmt.Appendf(nil, "%d 0x%x ", unix.SYS_READ, fd)}
	tids := make(chan int, 2)
	for range 2 {
		go kt.read(slot, tids)
	}
	for i := range 2 {
		tid := <-tids
		kt.procFDs[i], err = unix.Open(fmt.Sprintf("/proc/self/task/%d/syscall", tid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			kt.procFDs[i] = -1
			kt.close()
			return nil, fmt.Errorf("worker: watching the interrupt thread: %w", err)
		}
	}
	if err := kt.waitInRead(); err != nil {
		kt.close()
		return nil, err
	}
	return kt, nil
}

// read is a reader: it sends its thread's id, then waits in read(2) on the
// timerfd until the timer is closed.
func (kt *kernelTimer) read(slot []byte, tid chan<- int) {
	defer func() { kt.exited <- struct{}{} }()
	// Locked so that the thread waitInRead watches is the one in read.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid <- unix.Gettid()
	// The receiver of tid was made runnable on this P: let it run before
	// the blocking read holds the P until the scheduler's monitor takes it
	// back (up to 10 ms on an idle process).
	runtime.Gosched()
	// A plain system call, not unix.Read: the race detector would report
	// the kernel's write into the slot against the serving goroutine's
	// reads, which it cannot see ordered by the kernel.
	for {
		_, _, errno := unix.Syscall(unix.SYS_READ, uintptr(kt.fd), uintptr(unsafe.Pointer(&slot[0])), uintptr(len(slot)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || kt.closing.Load() {
			break
		}
		kt.fired()
	}
	runtime.KeepAlive(slot)
}

// fired notes an expiration, on a reader's goroutine. With no guest
// running it takes the firing itself: nothing reads the flag until the
// next start.
func (kt *kernelTimer) fired() {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	kt.fires++
	kt.unchecked = true
	if !kt.guest {
		kt.clear()
	}
}

// clear clears the flag: no firing is pending. kt.mu is held.
func (kt *kernelTimer) clear() {
	kt.g.Set(0)
	kt.armedUntil = 0
}

// start is called before a guest runs, on its thread, at now: a reader is in
// read(2) and the timer fires within d (a pending timer due sooner is
// kept; one that fired already has set the flag, and the guest takes it
// at its first check). An error means no reader is in read(2): the guest
// must not run.
func (kt *kernelTimer) start(d, now time.Duration) error {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	kt.guest = true
	if kt.unchecked {
		// Unlocked: a reader takes kt.mu on its way back to read(2).
		kt.mu.Unlock()
		err := kt.waitInRead()
		kt.mu.Lock()
		if err != nil {
			return err
		}
		kt.unchecked = false
		now = mono()
	}
	kt.armLocked(d, now)
	return nil
}

// stop is called when the guest stops running (it returned, or waits on
// the host). The timer keeps running; a firing the guest did not take is
// taken here.
func (kt *kernelTimer) stop() {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	kt.guest = false
	if kt.g.Get() != 0 {
		// A reader left read(2) with this firing and may not have noted
		// it yet (fired): the next start checks.
		kt.clear()
		kt.unchecked = true
	}
	if kt.armedUntil != 0 {
		kt.settime(0)
		kt.armedUntil = 0
	}
}

// take is called by the guest's interrupt function, on its thread, when
// the kernel set the flag: it clears the flag, checks that a reader is in
// read(2), so that the next firing reaches the guest whatever the Go
// scheduler does, and arms the timer to fire within d. An error means no
// reader is in read(2): the guest must be stopped.
func (kt *kernelTimer) take(d time.Duration) error {
	kt.mu.Lock()
	kt.clear()
	kt.taken++
	kt.mu.Unlock()
	// Unlocked: a reader takes kt.mu on its way back to read(2).
	if err := kt.waitInRead(); err != nil {
		return err
	}
	kt.mu.Lock()
	defer kt.mu.Unlock()
	kt.unchecked = false
	kt.armLocked(d, mono())
	return nil
}

// armLocked arms the timer to fire within d of now (mono, the current time).
func (kt *kernelTimer) armLocked(d, now time.Duration) {
	d = max(d, 1)
	// armedUntil is read before the timer is set, so the kernel's expiry
	// is never earlier: a pending timer due after now has not fired, and
	// setting it again loses no firing.
	if kt.armedUntil != 0 && kt.armedUntil <= now+d {
		return
	}
	kt.settime(d)
	kt.armedUntil = now + d
}

// settime arms the timer to fire once after d; 0 disarms it.
func (kt *kernelTimer) settime(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	_ = unix.TimerfdSettime(kt.fd, 0, &spec, nil) // cannot fail for a valid fd and spec
}

// close wakes the readers (closing the fd would not), one firing each,
// and releases the file descriptors.
func (kt *kernelTimer) close() {
	kt.closing.Store(true)
	for range 2 {
		kt.settime(1)
		<-kt.exited
	}
	_ = unix.Close(kt.fd)
	for _, fd := range kt.procFDs {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
}

// waitInRead waits until a reader's thread is blocked in read(2) on the
// timerfd, as /proc/self/task/<tid>/syscall shows: the system call
// number, then its arguments in hexadecimal. A reader still in Go code
// would be stopped with the world. The files are kept open and read again
// from offset 0, which shows the thread's state anew (one system call).
func (kt *kernelTimer) waitInRead() error {
	var buf [64]byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, fd := range kt.procFDs {
			if fd < 0 {
				continue
			}
			n, err := unix.Pread(fd, buf[:], 0)
			if err != nil {
				return fmt.Errorf("worker: watching the interrupt thread: %w", err)
			}
			if bytes.HasPrefix(buf[:n], kt.inRead) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("worker: the interrupt threads did not block in read")
		}
		runtime.Gosched()
	}
}

// globalSlot returns the 8 bytes where wazero v1.12.0's compiler engine
// keeps a defined global's value: a slot of the module engine's opaque
// buffer. wazero exposes no address for a global, so this walks its
// internals (mutableGlobal.g.Me.opaque) and confirms the slot by writing
// two sentinels through the public API; any mismatch is an error and the
// caller falls back to a Go timer.
func globalSlot(g api.MutableGlobal) ([]byte, error) {
	v := reflect.ValueOf(g)
	if v.Kind() != reflect.Struct {
		return nil, errors.New("worker: unexpected wazero global type")
	}
	inst := v.FieldByName("g")
	if inst.Kind() != reflect.Pointer || inst.IsNil() {
		return nil, errors.New("worker: wazero global has no instance")
	}
	me := reflect.NewAt(inst.Type().Elem(), inst.UnsafePointer()).Elem().FieldByName("Me")
	if me.Kind() != reflect.Interface || me.IsNil() || me.Elem().Kind() != reflect.Pointer {
		return nil, errors.New("worker: wazero global has no module engine (interpreter?)")
	}
	eng := me.Elem()
	opaque := reflect.NewAt(eng.Type().Elem(), eng.UnsafePointer()).Elem().FieldByName("opaque")
	if opaque.Kind() != reflect.Slice || opaque.Type().Elem().Kind() != reflect.Uint8 || opaque.Len() < 8 {
		return nil, errors.New("worker: wazero module engine has no opaque buffer")
	}
	buf := unsafe.Slice((*byte)(opaque.UnsafePointer()), opaque.Len())
	defer g.Set(0)
	slot := -1
	for _, sentinel := range []uint64{0x7069657231234567, 0x70696572fedcba98} {
		g.Set(sentinel & 0xffffffff) // an i32 global keeps the low 32 bits
		want := sentinel & 0xffffffff
		n, at := 0, -1
		for off := 0; off+8 <= len(buf); off += 8 {
			if binary.LittleEndian.Uint64(buf[off:]) == want {
				n, at = n+1, off
			}
		}
		if n != 1 || (slot >= 0 && at != slot) {
			return nil, errors.New("worker: cannot locate the interrupt global in wazero's module engine")
		}
		slot = at
	}
	return buf[slot : slot+8 : slot+8], nil
}
