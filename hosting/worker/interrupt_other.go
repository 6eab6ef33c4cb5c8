//go:build !linux

package worker

import (
	"errors"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// kernelTimer is Linux-only (timerfd); elsewhere the meter uses a Go timer,
// which a stop-the-world pause during a spinning guest can hold up.
type kernelTimer struct{}

func newKernelTimer(api.MutableGlobal) (*kernelTimer, error) {
	return nil, errors.New("worker: kernel-delivered interrupts need Linux")
}

func tickerSource(api.MutableGlobal) (interruptSource, error) {
	return nil, errors.New("worker: the interrupt ticker needs Linux")
}

func (*kernelTimer) start(_, _ time.Duration) error { return nil }
func (*kernelTimer) stop()                          {}
func (*kernelTimer) take(time.Duration) error       { return nil }
func (*kernelTimer) close()                         {}
