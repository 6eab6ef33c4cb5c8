package worker

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

const mib = 1 << 20

// TestMemoryAllocator exercises the allocator directly: growth up to the
// cap and not past it, contents kept across grows (in place where
// reservations are supported), and the edge cases of the wasm limits.
func TestMemoryAllocator(t *testing.T) {
	pool := newMemPool()
	defer pool.close()
	a := memAllocator{pool: pool, limit: 8 * mib}

	m := a.Allocate(0, 4<<30)
	defer m.Free()
	b := m.Reallocate(wasmPageSize)
	if len(b) != wasmPageSize {
		t.Fatalf("len = %d", len(b))
	}
	b[0], b[wasmPageSize-1] = 1, 2
	base := unsafe.SliceData(b)
	for size := uint64(2 * wasmPageSize); size <= 8*mib; size += wasmPageSize {
		b = m.Reallocate(size)
		if uint64(len(b)) != size || b[0] != 1 || b[wasmPageSize-1] != 2 {
			t.Fatalf("after growing to %d: len %d, contents %d %d", size, len(b), b[0], b[wasmPageSize-1])
		}
		if mmapSupported && unsafe.SliceData(b) != base {
			t.Fatalf("growing to %d moved the memory", size)
		}
		b[size-1] = 3 // the new page is writable
	}
	if got := m.Reallocate(8*mib + wasmPageSize); got != nil {
		t.Fatalf("Reallocate past the cap = len %d, want nil", len(got))
	}

	// A module's own maximum below the cap wins.
	small := a.Allocate(0, 2*wasmPageSize)
	defer small.Free()
	if small.Reallocate(2*wasmPageSize) == nil || small.Reallocate(3*wasmPageSize) != nil {
		t.Error("a memory declared with 2 pages grew to 3 or not to 2")
	}
	// A memory of 0 pages exists and cannot grow.
	zero := a.Allocate(0, 0)
	defer zero.Free()
	if b := zero.Reallocate(0); b == nil || len(b) != 0 {
		t.Errorf("Reallocate(0) of an empty memory = %v", b)
	}
	if zero.Reallocate(wasmPageSize) != nil {
		t.Error("a 0-page memory grew")
	}
	// 65536 pages: the whole 4 GiB is reserved (address space only).
	full := memAllocator{pool: pool, limit: maxMemoryPages * wasmPageSize}.Allocate(0, maxMemoryPages*wasmPageSize)
	defer full.Free()
	if b := full.Reallocate(wasmPageSize); len(b) != wasmPageSize {
		t.Fatalf("4 GiB memory: len %d", len(b))
	}
	if full.Reallocate(maxMemoryPages*wasmPageSize+wasmPageSize) != nil {
		t.Error("grew past 65536 pages")
	}
}

// TestMemoryReuse frees a written memory and allocates one of the same
// size: it is the same reservation (on Linux) and reads as zeros.
func TestMemoryReuse(t *testing.T) {
	pool := newMemPool()
	defer pool.close()
	a := memAllocator{pool: pool, limit: 4 * mib}
	m := a.Allocate(0, 4*mib)
	b := m.Reallocate(4 * mib)
	for i := range b {
		b[i] = 0xa5
	}
	base := unsafe.SliceData(b)
	m.Free()
	if mmapSupported && pool.pooled() != 1 {
		t.Fatalf("pooled = %d after Free, want 1", pool.pooled())
	}
	m2 := a.Allocate(0, 4*mib)
	defer m2.Free()
	if mmapSupported && pool.pooled() != 0 {
		t.Fatalf("pooled = %d after reuse, want 0", pool.pooled())
	}
	b = m2.Reallocate(wasmPageSize)
	if mmapSupported && unsafe.SliceData(b) != base {
		t.Error("the freed reservation was not reused")
	}
	b = m2.Reallocate(4 * mib)
	if i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("reused memory is not zero at %d", i)
	}
}

// TestMemoryPoolBounded frees more memories than the pool keeps.
func TestMemoryPoolBounded(t *testing.T) {
	if !mmapSupported {
		t.Skip("no reservations here")
	}
	pool := newMemPool()
	defer pool.close()
	a := memAllocator{pool: pool, limit: wasmPageSize}
	var ms []experimental.LinearMemory
	for range memPoolPerSize + 5 {
		m := a.Allocate(0, wasmPageSize)
		m.Reallocate(wasmPageSize)[0] = 1
		ms = append(ms, m)
	}
	for _, m := range ms {
		m.Free()
	}
	if n := pool.pooled(); n != memPoolPerSize {
		t.Fatalf("pooled = %d, want %d", n, memPoolPerSize)
	}
	pool.close()
	if n := pool.pooled(); n != 0 {
		t.Fatalf("pooled = %d after close", n)
	}
	m := a.Allocate(0, wasmPageSize) // a closed pool still allocates, and unmaps on Free
	m.Reallocate(wasmPageSize)[0] = 1
	m.Free()
	if n := pool.pooled(); n != 0 {
		t.Fatalf("a closed pool took a memory back: %d", n)
	}
}

// TestMemoryConcurrent allocates, grows, checks and frees memories from
// many goroutines at once (run it with -race).
func TestMemoryConcurrent(t *testing.T) {
	pool := newMemPool()
	defer pool.close()
	a := memAllocator{pool: pool, limit: 2 * mib}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				m := a.Allocate(0, 2*mib)
				var b []byte
				for size := uint64(wasmPageSize); size <= 2*mib; size += 4 * wasmPageSize {
					b = m.Reallocate(size)
					if b[size-1] != 0 {
						errs <- fmt.Errorf("goroutine %d round %d: fresh byte at %d is %d", g, i, size-1, b[size-1])
						m.Free()
						return
					}
					b[size-1] = byte(g + 1)
				}
				for size := uint64(wasmPageSize); size <= 2*mib; size += 4 * wasmPageSize {
					if b[size-1] != byte(g+1) {
						errs <- fmt.Errorf("goroutine %d round %d: byte at %d is %d", g, i, size-1, b[size-1])
						m.Free()
						return
					}
				}
				m.Free()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMemoryRSSReleased touches 64 MiB of a memory and frees it: the
// process's resident set shrinks back although the reservation is pooled.
func TestMemoryRSSReleased(t *testing.T) {
	if !mmapSupported {
		t.Skip("no reservations here")
	}
	pool := newMemPool()
	defer pool.close()
	a := memAllocator{pool: pool, limit: 64 * mib}
	before := rss(t)
	m := a.Allocate(0, 64*mib)
	b := m.Reallocate(64 * mib)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	touched := rss(t)
	if touched-before < 48*mib {
		t.Fatalf("RSS grew by %d MiB touching 64 MiB; cannot measure", (touched-before)/mib)
	}
	m.Free()
	if pool.pooled() != 1 {
		t.Fatal("the reservation was not pooled")
	}
	if after := rss(t); after > before+16*mib {
		t.Fatalf("RSS %d MiB before, %d MiB touched, %d MiB after Free", before/mib, touched/mib, after/mib)
	}
}

// rss reads the resident set size from /proc/self/statm.
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		t.Fatal(err)
	}
	return resident * int64(os.Getpagesize())
}

// TestGrowStepsToCap runs testdata/growsteps.wat through Serve: with a 64
// MiB cap it grows 4 MiB at a time, 15 times (1 + 15×64 pages), and the
// 16th is refused inside the guest (reported as exceededMemory); every step reads as zeros first, also
// in the second instance, which reuses the first one's memory.
func TestGrowStepsToCap(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "growsteps", nil, Limits{MemoryBytes: 64 * mib, CPU: time.Second})
	for i := range 3 {
		rec := httptest.NewRecorder()
		res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, noNext(t))
		// The guest handles the refused grow, which is still a violation.
		if res.Outcome != OutcomeExceededMemory || rec.Body.String() != "p" {
			t.Fatalf("request %d: outcome %q (%v) body %q", i, res.Outcome, res.Err, rec.Body)
		}
	}
}

// BenchmarkGrowToCap instantiates testdata/growsteps.wat and grows its
// memory to 64 MiB in 4 MiB steps, with wazero's default allocator (each
// grow copies the whole memory) and with the pooled reservations.
func BenchmarkGrowToCap(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, ctx context.Context) {
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(1024))
		defer r.Close(ctx)
		if _, err := httpHandlerModule(r).Instantiate(ctx); err != nil {
			b.Fatal(err)
		}
		cm, err := r.CompileModule(ctx, guest(b, "growsteps"))
		if err != nil {
			b.Fatal(err)
		}
		cfg := wazero.NewModuleConfig().WithName("")
		b.ReportAllocs()
		for b.Loop() {
			mod, err := r.InstantiateModule(ctx, cm, cfg)
			if err != nil {
				b.Fatal(err)
			}
			var stack [1]uint64
			if err := mod.ExportedFunction("grow_to_cap").CallWithStack(ctx, stack[:]); err != nil || api.DecodeI32(stack[0]) != 15 {
				b.Fatal(stack[0], err)
			}
			_ = mod.Close(ctx)
		}
	}
	b.Run("default", func(b *testing.B) { run(b, ctx) })
	b.Run("pooled", func(b *testing.B) {
		pool := newMemPool()
		defer pool.close()
		run(b, experimental.WithMemoryAllocator(ctx, memAllocator{pool: pool, limit: 64 * mib}))
	})
}
