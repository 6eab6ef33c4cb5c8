package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc is a running server, its output in a log file.
type proc struct {
	name, logPath string
	cmd           *exec.Cmd
	log           *os.File
	done          chan struct{} // closed when it has exited
	err           error         // its exit status, once done
}

// startProc starts bin in its own process group (a terminal's Ctrl-C
// reaches this program, which stops the servers in order), killed if
// this program dies. Its output goes to logPath, and to echo if not nil.
// It waits until ready succeeds (bounded by startTimeout) and reports on
// exited when the process exits.
func startProc(ctx context.Context, name, bin string, env, args []string, logPath string, echo io.Writer, ready func(context.Context) error, exited chan<- *proc) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("trydomains: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(stripPier(os.Environ()), env...)
	var w io.Writer = f
	if echo != nil {
		w = io.MultiWriter(f, echo)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("trydomains: starting %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		select {
		case exited <- p:
		default:
		}
	}()

	rctx, cancel := context.WithTimeoutCause(ctx, startTimeout, errNotReady)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-rctx.Done():
		}
	}()
	if err := ready(rctx); err != nil {
		p.stop()
		select {
		case <-p.done:
			if ctx.Err() == nil {
				err = fmt.Errorf("exited (%v)", p.err)
			}
		default:
		}
		return nil, fmt.Errorf("trydomains: %s %s: %w; the end of %s:\n%s", name, args, err, logPath, p.tail())
	}
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after 10 s; stopping twice is harmless.
func (p *proc) stop() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.log.Close()
}

// tail is the end of the process's log.
func (p *proc) tail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	const max = 4000
	if len(b) > max {
		b = append([]byte("…"), b[len(b)-max:]...)
	}
	return string(b)
}
