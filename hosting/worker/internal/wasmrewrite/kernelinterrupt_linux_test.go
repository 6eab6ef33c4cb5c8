//go:build linux

package wasmrewrite

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"
)

// TestInterruptDuringStopTheWorld shows an interrupt delivery that does not
// need the Go scheduler (see the package documentation): a stop-the-world
// pause begins while the guest runs, so no goroutine can set the flag, and
// the kernel writes it instead: a blocking read(2) of a timerfd whose buffer
// is the global's storage, issued before the call. The garbage collector
// stays on here.
func TestInterruptDuringStopTheWorld(t *testing.T) {
	tests := []struct {
		name, file, fn string
		args           []uint64
	}{
		{"infinite loop", "loop.wasm", "spin", nil},
		{"deep recursion", "recurse.wasm", "deep", []uint64{100_000}},
		{"exponential call tree", "recurse.wasm", "fib", []uint64{40}},
	}
	rt := newRuntime(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := instantiate(t, rt, instrument(t, readTestdata(t, tt.file), Options{}), nil)
			slot, err := globalSlot(interruptGlobal(t, mod))
			if err != nil {
				t.Skipf("wazero internals changed: %v", err)
			}
			fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			spec := unix.ItimerSpec{Value: unix.NsecToTimespec((20 * time.Millisecond).Nanoseconds())}
			if err := unix.TimerfdSettime(fd, 0, &spec, nil); err != nil {
				t.Fatal(err)
			}
			fired := make(chan error, 1)
			tid := make(chan int)
			go func() {
				// The kernel stores the expiration count, at least 1, in the
				// flag's low bytes, while this goroutine is parked in the
				// system call and so does not hold up the stop-the-world.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				tid <- unix.Gettid()
				_, err := unix.Read(fd, slot)
				fired <- err
			}()
			// The read must be under way before the guest starts: a reader
			// still in Go code when the world stops would be stopped too.
			waitInRead(t, <-tid, fd)
			gcDone := make(chan struct{})
			go func() {
				time.Sleep(5 * time.Millisecond) // the guest is running by now
				runtime.GC()
				close(gcDone)
			}()
			_, err = mod.ExportedFunction(tt.fn).Call(context.Background(), tt.args...)
			if err == nil || !strings.Contains(err.Error(), "wasm error: unreachable") {
				t.Fatalf("%s returned %v, want the unreachable trap", tt.fn, err)
			}
			if err := <-fired; err != nil {
				t.Fatalf("read timerfd: %v", err)
			}
			<-gcDone
		})
	}
}

// waitInRead waits until thread tid is blocked in read(2) on fd, as
// /proc/thread-self/syscall shows it: the syscall number, then its
// arguments in hexadecimal.
func waitInRead(t *testing.T, tid, fd int) {
	t.Helper()
	want := fmt.Sprintf("%d 0x%x ", unix.SYS_READ, fd)
	path := fmt.Sprintf("/proc/self/task/%d/syscall", tid)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Skipf("cannot see the reader's system call: %v", err)
		}
		if strings.HasPrefix(string(b), want) {
			return
		}
		runtime.Gosched()
	}
}

// globalSlot returns the 8 bytes where wazero v1.12.0's compiler keeps a
// defined global's value: a slot in the module engine's opaque buffer,
// found through the global's internals and confirmed by writing sentinels
// through the public API.
func globalSlot(g api.MutableGlobal) ([]byte, error) {
	v := reflect.ValueOf(g)
	if v.Kind() != reflect.Struct {
		return nil, errors.New("global is not a struct")
	}
	inst := v.FieldByName("g")
	if inst.Kind() != reflect.Pointer || inst.IsNil() {
		return nil, errors.New("no global instance")
	}
	me := reflect.NewAt(inst.Type().Elem(), inst.UnsafePointer()).Elem().FieldByName("Me")
	if me.Kind() != reflect.Interface || me.IsNil() || me.Elem().Kind() != reflect.Pointer {
		return nil, errors.New("no module engine")
	}
	eng := me.Elem()
	opaque := reflect.NewAt(eng.Type().Elem(), eng.UnsafePointer()).Elem().FieldByName("opaque")
	if opaque.Kind() != reflect.Slice || opaque.Type().Elem().Kind() != reflect.Uint8 || opaque.Len() == 0 {
		return nil, errors.New("no opaque buffer")
	}
	buf := unsafe.Slice((*byte)(opaque.UnsafePointer()), opaque.Len())
	found := -1
	for _, sentinel := range []uint64{0x5049455201234567, 0x50494552fedcba98} {
		g.Set(sentinel)
		matches := 0
		for off := 0; off+8 <= len(buf); off += 8 {
			if binary.LittleEndian.Uint64(buf[off:]) == sentinel {
				matches++
				if found < 0 || off == found {
					found = off
				}
			}
		}
		if matches != 1 || binary.LittleEndian.Uint64(buf[found:]) != sentinel {
			g.Set(0)
			return nil, errors.New("global slot not found")
		}
	}
	g.Set(0)
	return buf[found : found+8 : found+8], nil
}
