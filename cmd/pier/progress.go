package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar for a deploy phase on a terminal:
//
//	hashing    [==========>         ]  512/1000 files   48.2 MiB/100.0 MiB
//
// A disabled progress (stderr is not a terminal) draws nothing; counting is
// still safe from any goroutine.
type progress struct {
	w          io.Writer
	enabled    bool
	label      string
	totalFiles int
	totalBytes int64
	files      atomic.Int64
	bytes      atomic.Int64

	stop chan struct{}
	done sync.WaitGroup
}

// progressInterval is how often a bar is redrawn.
const progressInterval = 100 * time.Millisecond

// startProgress starts drawing a bar on w when enabled.
func startProgress(w io.Writer, enabled bool, label string, totalFiles int, totalBytes int64) *progress {
	p := &progress{w: w, enabled: enabled, label: label, totalFiles: totalFiles, totalBytes: totalBytes}
	if !enabled {
		return p
	}
	p.stop = make(chan struct{})
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			io.WriteString(p.w, "\r"+p.render(40)+"\x1b[K")
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// addBytes counts n more bytes processed.
func (p *progress) addBytes(n int64) { p.bytes.Add(n) }

// addFile counts one more file completed.
func (p *progress) addFile() { p.files.Add(1) }

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if !p.enabled {
		return
	}
	close(p.stop)
	p.done.Wait()
	io.WriteString(p.w, "\r"+p.render(40)+"\x1b[K\n")
}

// render returns the bar's text with a bar of width cells.
func (p *progress) render(width int) string {
	files, bytes := p.files.Load(), p.bytes.Load()
	frac := 1.0
	switch {
	case p.totalBytes > 0:
		frac = float64(bytes) / float64(p.totalBytes)
	case p.totalFiles > 0:
		frac = float64(files) / float64(p.totalFiles)
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * float64(width))
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("%-10s [%s] %*d/%d files  %s/%s", p.label, bar,
		len(fmt.Sprint(p.totalFiles)), files, p.totalFiles, formatBytes(bytes), formatBytes(p.totalBytes))
}
