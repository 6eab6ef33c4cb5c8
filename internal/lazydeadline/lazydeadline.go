// Package lazydeadline wraps a listener so that its connections' far-off
// read and write deadlines cost no runtime timer: a deadline more than a
// tick away is only recorded, and one goroutine per listener applies it
// to the connection once it has passed, at most a tick late. A deadline
// within a tick of now, one in the past (which net/http uses to interrupt
// a pending read) and clearing a deadline still take effect at once.
//
// net/http's server sets a read or write deadline several times per
// request when its timeouts are on (headers, whole request, response,
// idle wait); each one re-arms a timer in the runtime's poller, about a
// microsecond per request in all on a small VM (docs/architecture.md, "The
// edge's timeouts"). With the wrapper the server keeps its timeouts and
// their meaning, and enforces them to within a tick.
//
// Only cmd/pier imports it, to wrap the edge's and the admin's listeners.
//
// # Notes
//
//   - A recorded deadline returns no error from SetReadDeadline, even on a
//     closed connection; the error comes from the next Read, as usual.
//   - Deadlines are compared on the monotonic clock, like the runtime's,
//     when they carry a monotonic reading (time.Now().Add does); one that
//     does not (time.Unix, a deadline that went through Round(0)) is
//     compared on the wall clock, so a far one fires late by as much as
//     the wall clock is stepped forward meanwhile.
//   - A slow client gains at most a tick (plus the watcher's scheduling
//     delay) on each timeout: net/http's 5 s header timeout becomes at
//     most 5.25 s with the default tick.
//   - A deadline more than Blind after the clock's latest reading (the
//     watcher's, every tick, or a deadline call's) is recorded without
//     reading the clock again: net/http's deadlines, seconds away, cost
//     no clock reading. Only a watcher starved for longer than Blind less
//     a tick (with no deadline call reading the clock meanwhile) could
//     have a near deadline taken for a far one, and applied once it runs.
package lazydeadline

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTick is the lateness bound Listen uses for a tick of zero.
const DefaultTick = 250 * time.Millisecond

// Blind is how far after the clock's latest reading a deadline must be to
// count as far without reading the clock (four ticks if that is longer).
const Blind = 2 * time.Second

// Listen returns ln with each accepted connection's deadlines enforced as
// the package comment describes, at most tick late (DefaultTick if zero).
// The goroutine that applies them runs while the listener is open or a
// connection it accepted is.
func Listen(ln net.Listener, tick time.Duration) net.Listener {
	if tick <= 0 {
		tick = DefaultTick
	}
	l := &listener{Listener: ln, tick: tick, blind: int64(max(Blind, 4*tick)), epoch: time.Now(), wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go l.watch()
	return l
}

type listener struct {
	net.Listener
	tick  time.Duration
	blind int64     // Blind, at least four ticks
	epoch time.Time // the monotonic origin of every due time
	// read is the clock's latest reading, since epoch (ns): never ahead
	// of the clock, never moved back.
	read atomic.Int64
	wake chan struct{}
	// stopped is closed when watch returns.
	stopped chan struct{}

	mu     sync.Mutex
	conns  []*conn // the open connections; conn.idx is the position
	closed bool    // Close was called
	due    []*conn // watch's scratch list
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w := &conn{Conn: c, l: l}
	l.mu.Lock()
	if l.closed {
		// Accepted as Close ran: the watcher may be gone already, and
		// would never apply this connection's deadlines.
		l.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	w.idx = len(l.conns)
	l.conns = append(l.conns, w)
	l.mu.Unlock()
	return w, nil
}

func (l *listener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return l.Listener.Close()
}

func (l *listener) remove(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.idx < 0 {
		return
	}
	last := len(l.conns) - 1
	l.conns[c.idx] = l.conns[last]
	l.conns[c.idx].idx = c.idx
	l.conns[last] = nil
	l.conns = l.conns[:last]
	c.idx = -1
}

// watch applies, every tick, the recorded deadlines that have passed,
// until the listener is closed and its last connection is.
func (l *listener) watch() {
	defer close(l.stopped)
	t := time.NewTicker(l.tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.wake:
		}
		now := l.now()
		l.mu.Lock()
		if l.closed && len(l.conns) == 0 {
			l.mu.Unlock()
			return
		}
		due := l.due[:0]
		for _, c := range l.conns {
			if c.read.passed(now) || c.write.passed(now) {
				due = append(due, c)
			}
		}
		l.mu.Unlock()
		for i, c := range due {
			c.fire(now)
			due[i] = nil
		}
		l.due = due[:0]
	}
}

// conn is an accepted connection whose deadlines the listener keeps.
type conn struct {
	net.Conn
	l   *listener
	idx int // in l.conns, guarded by l.mu; -1 once closed

	mu          sync.Mutex // serialises the deadline calls on Conn
	read, write side
}

// side is one direction's deadline.
type side struct {
	want time.Time    // the deadline last asked for
	due  atomic.Int64 // want since epoch while it is only recorded, else 0
	set  bool         // Conn has a non-zero deadline (want, applied)
}

func (s *side) passed(now int64) bool {
	d := s.due.Load()
	return d != 0 && d <= now
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if apply, v := c.ask(&c.read, t); apply {
		return c.Conn.SetReadDeadline(v)
	}
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if apply, v := c.ask(&c.write, t); apply {
		return c.Conn.SetWriteDeadline(v)
	}
	return nil
}

func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, rv := c.ask(&c.read, t)
	w, wv := c.ask(&c.write, t)
	switch {
	case r && w && rv.Equal(wv):
		return c.Conn.SetDeadline(rv)
	case r && w:
		return errors.Join(c.Conn.SetReadDeadline(rv), c.Conn.SetWriteDeadline(wv))
	case r:
		return c.Conn.SetReadDeadline(rv)
	case w:
		return c.Conn.SetWriteDeadline(wv)
	}
	return nil
}

// ask records t as s's deadline and reports whether Conn's deadline must
// be set now, and to what: to t when t is near (within a tick of now, so
// possibly past); to none when t is far (then only recorded) or zero and
// Conn still has an earlier deadline. c.mu is held.
//
// The clock is read here, unless t is Blind after its latest reading, so
// that a deadline of now or earlier acts at once however late the watcher
// runs (a starved process; crypto/tls sets one on Close).
func (c *conn) ask(s *side, t time.Time) (apply bool, v time.Time) {
	s.want = t
	if !t.IsZero() {
		d := int64(t.Sub(c.l.epoch))
		// d <= 0: before the listener opened, so past without reading
		// the clock (net/http interrupts a read with a deadline of 1970).
		if d <= 0 || d <= c.l.read.Load()+c.l.blind && d <= c.l.now()+int64(c.l.tick) {
			s.due.Store(0)
			s.set = true
			return true, t
		}
		s.due.Store(d)
	} else {
		s.due.Store(0)
	}
	if s.set {
		s.set = false
		return true, time.Time{}
	}
	return false, time.Time{}
}

// now reads the clock (since epoch) and keeps the reading, unless a
// later one was kept meanwhile.
func (l *listener) now() int64 {
	now := int64(time.Since(l.epoch))
	for {
		old := l.read.Load()
		if old >= now || l.read.CompareAndSwap(old, now) {
			return now
		}
	}
}

// fire applies each recorded deadline that has passed by now.
func (c *conn) fire(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read.passed(now) {
		c.read.due.Store(0)
		c.read.set = true
		_ = c.Conn.SetReadDeadline(c.read.want)
	}
	if c.write.passed(now) {
		c.write.due.Store(0)
		c.write.set = true
		_ = c.Conn.SetWriteDeadline(c.write.want)
	}
}

func (c *conn) Close() error {
	c.l.remove(c)
	return c.Conn.Close()
}

// ReadFrom keeps the connection's own ReadFrom (sendfile, splice) for
// net/http's response.ReadFrom.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite shuts the writing side down (net/http's closeWriteAndWait).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}

// CloseRead shuts the reading side down.
func (c *conn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return errNoHalfClose
}

var errNoHalfClose = errors.New("lazydeadline: the connection has no half close")

// writerOnly hides every method but Write (io.Copy must not call ReadFrom
// again).
type writerOnly struct{ io.Writer }

var (
	_ net.Listener  = (*listener)(nil)
	_ net.Conn      = (*conn)(nil)
	_ io.ReaderFrom = (*conn)(nil)
)
