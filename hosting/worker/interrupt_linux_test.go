//go:build linux

package worker

import (
	"context"
	"testing"
)

// TestKernelInterrupt checks that on Linux instances get the kernel timer
// (wazero's internals are as globalSlot expects), not the Go fallback.
func TestKernelInterrupt(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	w := newWorker(t, rt, "hello", nil, Limits{})
	in, err := w.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.release(in, true)
	if in.meter.kt == nil {
		t.Fatal("the instance uses the Go timer fallback")
	}
	slot, err := globalSlot(in.meter.interrupt)
	if err != nil {
		t.Fatal(err)
	}
	slot[0] = 7 // what the kernel does
	if got := in.meter.interrupt.Get(); got != 7 {
		t.Fatalf("global = %d after writing its slot, want 7", got)
	}
	in.meter.interrupt.Set(0)
}
