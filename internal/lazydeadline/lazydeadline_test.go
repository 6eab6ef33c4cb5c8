package lazydeadline

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// pair returns a connection accepted through Listen (tick) and its peer.
func pair(t *testing.T, tick time.Duration) (*listener, net.Conn, net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listen(raw, tick).(*listener)
	t.Cleanup(func() { ln.Close() })
	peer, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ln, c, peer
}

// readErr runs a Read on c and delivers its error.
func readErr(c net.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	return done
}

// waitPast returns once the clock is past t: a check that something did
// not happen by then.
func waitPast(t time.Time) {
	for d := time.Until(t); d > 0; d = time.Until(t) {
		time.Sleep(d)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// TestFarDeadlineFires: a deadline several ticks away is only recorded,
// and the watcher stops a Read blocked past it: never before it.
func TestFarDeadlineFires(t *testing.T) {
	t.Parallel()
	tick := 20 * time.Millisecond
	_, c, _ := pair(t, tick)
	recordedThenFires(t, c, time.Now().Add(10*tick))
}

// recordedThenFires sets c's read deadline, far enough away to be only
// recorded, and checks that the watcher stops a Read blocked past it:
// never before it.
func recordedThenFires(t *testing.T, c net.Conn, deadline time.Time) {
	t.Helper()
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	if c.(*conn).read.due.Load() == 0 {
		t.Fatalf("a deadline %v away was applied, not recorded", time.Until(deadline))
	}
	select {
	case err := <-readErr(c):
		if !isTimeout(err) {
			t.Fatalf("Read: %v, want a timeout", err)
		}
		if now := time.Now(); now.Before(deadline) {
			t.Fatalf("Read timed out %v before its deadline", deadline.Sub(now))
		}
	case <-time.After(testenv.Patience):
		t.Fatal("a passed deadline never stopped the Read")
	}
}

// TestExtendedDeadline: extending a recorded deadline before it passes
// (net/http's idle wait, then a request) keeps the Read going.
func TestExtendedDeadline(t *testing.T) {
	t.Parallel()
	tick := 10 * time.Millisecond
	_, c, peer := pair(t, tick)
	first := time.Now().Add(5 * tick)
	c.SetReadDeadline(first)
	c.SetReadDeadline(time.Now().Add(time.Hour))
	done := readErr(c)
	// Past the first deadline and a few ticks more, the Read still waits.
	waitPast(first.Add(5 * tick))
	select {
	case err := <-done:
		t.Fatalf("Read ended with %v at the replaced deadline", err)
	default:
	}
	if _, err := peer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Read: %v", err)
	}
}

// TestPastDeadlineAtOnce: a deadline in the past interrupts a pending
// Read at once (net/http's abortPendingRead waits for it), however long
// the tick; clearing it lets Reads wait again.
func TestPastDeadlineAtOnce(t *testing.T) {
	t.Parallel()
	_, c, peer := pair(t, time.Hour)
	done := readErr(c)
	c.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("Read: %v, want a timeout", err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("a deadline in the past did not interrupt the Read (waiting for an hour's tick?)")
	}
	c.SetReadDeadline(time.Time{})
	done = readErr(c)
	if _, err := peer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Read after clearing the deadline: %v", err)
	}
}

// TestFarAfterNear: a far deadline replacing an applied near one removes
// the near one from the connection (only the far one counts).
func TestFarAfterNear(t *testing.T) {
	t.Parallel()
	tick := time.Hour
	_, c, peer := pair(t, tick)
	c.SetReadDeadline(time.Now().Add(time.Millisecond)) // near: applied
	c.SetReadDeadline(time.Now().Add(3 * tick))         // far: recorded, the near one lifted
	done := readErr(c)
	lifted := time.Now().Add(20 * time.Millisecond)
	waitPast(lifted)
	select {
	case err := <-done:
		t.Fatalf("Read ended with %v at a replaced deadline", err)
	default:
	}
	peer.Write([]byte("x"))
	if err := <-done; err != nil {
		t.Fatalf("Read: %v", err)
	}
}

// TestWriteDeadlineFires: a Write blocked on a peer that reads nothing is
// stopped once a recorded write deadline passes.
func TestWriteDeadlineFires(t *testing.T) {
	t.Parallel()
	tick := 20 * time.Millisecond
	_, c, _ := pair(t, tick)
	deadline := time.Now().Add(5 * tick)
	c.SetDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			if _, err := c.Write(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("Write: %v, want a timeout", err)
		}
		if time.Now().Before(deadline) {
			t.Fatal("Write timed out before its deadline")
		}
	case <-time.After(testenv.Patience):
		t.Fatal("a passed write deadline never stopped the Write")
	}
}

// TestRefireAfterExtension: after a recorded deadline fired, a new far
// one lets I/O go on, and fires in turn.
func TestRefireAfterExtension(t *testing.T) {
	t.Parallel()
	tick := 10 * time.Millisecond
	_, c, peer := pair(t, tick)
	c.SetReadDeadline(time.Now().Add(3 * tick))
	if err := <-readErr(c); !isTimeout(err) {
		t.Fatalf("Read: %v, want a timeout", err)
	}
	second := time.Now().Add(5 * tick)
	c.SetReadDeadline(second)
	peer.Write([]byte("x"))
	if err := <-readErr(c); err != nil {
		t.Fatalf("Read under the new deadline: %v", err)
	}
	if err := <-readErr(c); !isTimeout(err) || time.Now().Before(second) {
		t.Fatalf("Read: %v, want a timeout after the second deadline", err)
	}
}

// TestWatcherStops: the goroutine ends once the listener and its last
// connection are closed, not before.
func TestWatcherStops(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listen(raw, time.Millisecond).(*listener)
	peer, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	deadline := time.Now().Add(20 * time.Millisecond)
	c.SetReadDeadline(deadline)
	if err := <-readErr(c); !isTimeout(err) {
		t.Fatalf("Read on a closed listener's connection: %v, want its deadline's timeout", err)
	}
	select {
	case <-ln.stopped:
		t.Fatal("the watcher stopped while a connection was open")
	default:
	}
	c.Close()
	c.Close() // twice is harmless
	select {
	case <-ln.stopped:
	case <-time.After(testenv.Patience):
		t.Fatal("the watcher still runs with the listener and its connections closed")
	}
}

// TestReadFromKeepsSendfile: the wrapper passes ReadFrom to the TCP
// connection (net/http's response.ReadFrom looks for it).
func TestReadFromKeepsSendfile(t *testing.T) {
	t.Parallel()
	_, c, peer := pair(t, time.Second)
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("pier ", 50000)
	f.WriteString(want)
	f.Seek(0, 0)
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- string(b)
	}()
	n, err := c.(io.ReaderFrom).ReadFrom(f)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != want {
		t.Fatalf("peer read %d bytes, want %d", len(s), len(want))
	}
}

// TestConcurrentDeadlines sets deadlines from several goroutines while the
// watcher fires them (run with -race).
func TestConcurrentDeadlines(t *testing.T) {
	t.Parallel()
	_, c, _ := pair(t, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				d := time.Now().Add(time.Duration(i%7) * time.Millisecond)
				switch (g + i) % 4 {
				case 0:
					c.SetReadDeadline(d)
				case 1:
					c.SetWriteDeadline(d)
				case 2:
					c.SetDeadline(d)
				default:
					c.SetDeadline(time.Time{})
				}
			}
		})
	}
	wg.Wait()
	c.SetDeadline(time.Time{})
	if c.(*conn).read.set || c.(*conn).write.set {
		t.Fatal("a cleared deadline is still set on the connection")
	}
}

// TestServerTimeouts: net/http's timeouts hold over the wrapper: a client
// sending half a header is cut off after ReadHeaderTimeout, an idle
// keep-alive connection after IdleTimeout, and a client that keeps asking
// is served past both.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const header, idle = 200 * time.Millisecond, 400 * time.Millisecond
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: header, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: idle,
	}
	go srv.Serve(Listen(raw, 20*time.Millisecond))
	t.Cleanup(func() { srv.Close() })
	addr := raw.Addr().String()

	closedAfter := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(testenv.Patience))
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("want the server to close the connection, got %v", err)
		}
	}
	t.Run("half a header", func(t *testing.T) {
		t.Parallel()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		closedAfter(t, c, bufio.NewReader(c))
		if d := time.Since(start); d < header {
			t.Fatalf("closed after %v, before ReadHeaderTimeout %v", d, header)
		}
	})
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		// Requests one after another, for longer than both timeouts.
		var answered time.Time
		for start := time.Now(); time.Since(start) < 2*idle; {
			time.Sleep(header / 4)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("a busy keep-alive connection was cut: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answered = time.Now()
		}
		closedAfter(t, c, br)
		if d := time.Since(answered); d < idle {
			t.Fatalf("idle connection closed %v after its last answer, before IdleTimeout %v", d, idle)
		}
	})
}

// BenchmarkDeadlines sets what net/http sets per keep-alive request with
// its timeouts on (far deadlines, the abort's past one, clears), on a raw
// TCP connection and through the wrapper.
func BenchmarkDeadlines(b *testing.B) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	peer, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	tcp, err := raw.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer tcp.Close()
	ln := &listener{tick: DefaultTick, blind: int64(Blind), epoch: time.Now()}
	ln.now() // as the watcher reads the clock every tick
	wrapped := &conn{Conn: tcp, l: ln}
	perRequest := func(c net.Conn) {
		now := time.Now()
		c.SetReadDeadline(now.Add(5 * time.Second))  // headers
		c.SetReadDeadline(now.Add(30 * time.Second)) // whole request
		c.SetWriteDeadline(now.Add(3 * time.Minute)) // response
		c.SetReadDeadline(time.Time{})               // background read
		c.SetReadDeadline(time.Unix(1, 0))           // abortPendingRead
		c.SetReadDeadline(time.Time{})
		c.SetWriteDeadline(time.Time{})
		c.SetReadDeadline(now.Add(time.Minute)) // idle
		c.SetReadDeadline(now.Add(5 * time.Second))
	}
	for _, bc := range []struct {
		name string
		c    net.Conn
	}{{"tcp", tcp}, {"lazy", wrapped}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				perRequest(bc.c)
			}
		})
	}
}

// TestNowWithLateWatcher: a deadline of now acts at once even when the
// watcher's last tick is far behind (a starved process): crypto/tls sets
// one on Close.
func TestNowWithLateWatcher(t *testing.T) {
	t.Parallel()
	tick := 10 * time.Millisecond
	ln, c, _ := pair(t, tick)
	ln.mu.Lock() // the watcher stops at its next tick, its clock behind
	defer ln.mu.Unlock()
	waitPast(time.Now().Add(10 * tick))
	nowActsAtOnce(t, c)
}

// nowActsAtOnce checks that a deadline of now stops a blocked Read
// without waiting for the watcher.
func nowActsAtOnce(t *testing.T, c net.Conn) {
	t.Helper()
	done := readErr(c)
	c.SetReadDeadline(time.Now())
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("Read: %v, want a timeout", err)
		}
	case <-time.After(testenv.Patience):
		t.Fatal("a deadline of now waited for the watcher")
	}
}

// acceptAfterClose is a listener whose Accept returns a connection only
// once Close was called (the race of http.Server's Serve and Shutdown).
type acceptAfterClose struct {
	closed chan struct{}
	conn   net.Conn
}

func (a *acceptAfterClose) Accept() (net.Conn, error) { <-a.closed; return a.conn, nil }
func (a *acceptAfterClose) Close() error              { close(a.closed); return nil }
func (a *acceptAfterClose) Addr() net.Addr            { return &net.TCPAddr{} }

// TestAcceptAfterClose: a connection accepted as the listener closes is
// refused (closed), not served without a watcher for its deadlines.
func TestAcceptAfterClose(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	ln := Listen(&acceptAfterClose{closed: make(chan struct{}), conn: server}, time.Millisecond).(*listener)
	ln.Close()
	<-ln.stopped
	if c, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, %v; want net.ErrClosed", c, err)
	}
	if _, err := server.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("the refused connection is still open: Write = %v", err)
	}
}

// TestBlindFarDeadline: a deadline further than blind after the clock's
// latest reading is recorded without reading the clock again, and still
// fires once passed, never before; a deadline of now right after it acts
// at once.
func TestBlindFarDeadline(t *testing.T) {
	t.Parallel()
	tick := 20 * time.Millisecond
	ln, c, _ := pair(t, tick)
	ln.blind = int64(5 * tick) // before any deadline call: only ask reads it
	testenv.WaitFor(t, testenv.Patience, func() error {
		if ln.read.Load() == 0 {
			return errors.New("the watcher has not read the clock yet")
		}
		return nil
	})
	recordedThenFires(t, c, time.Now().Add(20*tick))
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	nowActsAtOnce(t, c)
}
