//go:build linux

package worker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
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
// goroutine could never set the flag. Instead a goroutine locked to its own
// thread stays blocked in read(2) on a timerfd, with the global's storage
// as the buffer: when the timer expires the kernel writes the expiration
// count (non-zero) there and the guest traps at its next check, while that
// thread is still in the system call and needs no P.
//
// The reader enters read(2) when the instance is created and stays there
// across requests. Setting a timerfd is a system call, so the timer is
// armed lazily: an armed timer that fires within [d, d+kernelTimerSlack]
// is kept rather than set again, and disarm leaves it running. When it
// fires while no guest runs (an idle or paused instance), the next arm
// waits for the reader's write, clears the flag and waits until the reader
// is back in read(2) before the guest runs again. One thread per live
// instance.
type kernelTimer struct {
	fd   int
	tid  int
	g    api.MutableGlobal
	done chan struct{} // closed when the reader has returned for good

	fires   atomic.Uint64 // expirations the reader has written
	closing atomic.Bool

	// Guarded by the meter's mutex.
	armedUntil time.Time // when the timer fires; zero once a firing is consumed or before the first arm
	consumed   uint64    // expirations handled by consume
}

// kernelTimerSlack is how much later than asked an armed timer may fire
// and be kept: with it a busy instance sets its timer about once per
// kernelTimerSlack instead of twice per request, and the backstop stops a
// guest at most this much later.
const kernelTimerSlack = 5 * time.Millisecond

// fireGuard is how close to its expiry a timer is treated as (about to
// be) fired.
const fireGuard = time.Millisecond

func newKernelTimer(g api.MutableGlobal) (*kernelTimer, error) {
	slot, err := globalSlot(g)
	if err != nil {
		return nil, err
	}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("worker: timerfd_create: %w", err)
	}
	kt := &kernelTimer{fd: fd, g: g, done: make(chan struct{})}
	tid := make(chan int, 1)
	go func() {
		// Locked so that the thread waitInRead watches is the one in read.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		// A plain system call, not unix.Read: the race detector would
		// report the kernel's write into the slot against the serving
		// goroutine's reads, which it cannot see ordered by the kernel.
		for {
			_, _, errno := unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&slot[0])), uintptr(len(slot)))
			if errno == unix.EINTR {
				continue
			}
			if errno != 0 || kt.closing.Load() {
				break
			}
			kt.fires.Add(1)
		}
		runtime.KeepAlive(slot)
		close(kt.done)
	}()
	kt.tid = <-tid
	if err := waitInRead(kt.tid, fd); err != nil {
		kt.close()
		return nil, err
	}
	return kt, nil
}

// arm makes the timer fire between d and d+kernelTimerSlack from now. No
// guest runs: a firing of an earlier arm is consumed (its flag cleared).
func (kt *kernelTimer) arm(d time.Duration) { kt.set(d, true) }

// extend is arm while the guest runs: if the timer has (or is about to
// have) fired, it is left alone and the guest traps.
func (kt *kernelTimer) extend(d time.Duration) { kt.set(d, false) }

func (kt *kernelTimer) set(d time.Duration, idle bool) {
	d = max(d, 1)
	now := time.Now()
	if !kt.armedUntil.IsZero() {
		if now.Before(kt.armedUntil.Add(-fireGuard)) {
			// Not fired: keep it if it fires in [now+d, now+d+slack].
			if !kt.armedUntil.Before(now.Add(d)) && !kt.armedUntil.After(now.Add(d+kernelTimerSlack)) {
				return
			}
		} else {
			if !idle {
				return
			}
			kt.consume()
		}
	}
	kt.settime(d + kernelTimerSlack)
	kt.armedUntil = now.Add(d + kernelTimerSlack)
}

// consume waits for the firing of the armed timer to be written, clears
// the flag and waits until the reader is back in read(2).
func (kt *kernelTimer) consume() {
	for kt.fires.Load() <= kt.consumed {
		select {
		case <-kt.done:
			return
		default:
		}
		time.Sleep(20 * time.Microsecond)
	}
	kt.consumed = kt.fires.Load()
	kt.g.Set(0)
	_ = waitInRead(kt.tid, kt.fd) // fails only if the thread is gone
	kt.armedUntil = time.Time{}
}

func (kt *kernelTimer) settime(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(d, 1).Nanoseconds())}
	_ = unix.TimerfdSettime(kt.fd, 0, &spec, nil) // cannot fail for a valid fd and spec
}

// disarm leaves the timer running (see arm): the meter treats a timer
// past its time as fired.
func (kt *kernelTimer) disarm() {}

// close wakes the reader (closing the fd would not) and releases the fd.
func (kt *kernelTimer) close() {
	kt.closing.Store(true)
	select {
	case <-kt.done:
	default:
		kt.settime(1)
		<-kt.done
	}
	_ = unix.Close(kt.fd)
}

// waitInRead waits until thread tid is blocked in read(2) on fd, as
// /proc/self/task/<tid>/syscall shows: the system call number, then its
// arguments in hexadecimal. A reader still in Go code would be stopped with
// the world.
func waitInRead(tid, fd int) error {
	want := fmt.Sprintf("%d 0x%x ", unix.SYS_READ, fd)
	path := fmt.Sprintf("/proc/self/task/%d/syscall", tid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("worker: watching the interrupt thread: %w", err)
		}
		if strings.HasPrefix(string(b), want) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("worker: the interrupt thread did not block in read")
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
