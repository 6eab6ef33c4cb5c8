package gitserve

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The hook channel. receive-pack runs the pre-receive hook, a fixed script
// that runs RunHook (pier git-hook), with two variables this server sets
// on receive-pack: envSocket (the unix socket this server listens on) and
// envPush (the push's random id, which only the receive-pack of that push
// knows). RunHook sends one hookRequest line and relays the server's
// hookReply lines to its stderr, which git sends to the client as
// "remote:" lines; the last reply says whether the push may go on.
const (
	envSocket = "PIER_GIT_HOOK_SOCKET"
	envPush   = "PIER_GIT_PUSH"
)

// maxUpdates bounds the ref updates of one push.
const maxUpdates = 32

// hookRequest is what RunHook sends: the ref updates (receive-pack's
// stdin lines) and where the quarantined objects are.
type hookRequest struct {
	Push       string      `json:"push"`
	Updates    []refUpdate `json:"updates"`
	Quarantine string      `json:"quarantine"`   // GIT_QUARANTINE_PATH
	ObjectDir  string      `json:"object_dir"`   // GIT_OBJECT_DIRECTORY
	Alternates string      `json:"alternates"`   // GIT_ALTERNATE_OBJECT_DIRECTORIES
	Shallow    string      `json:"shallow_file"` // GIT_SHALLOW_FILE, for a push from a shallow clone
}

type refUpdate struct {
	Old string `json:"old"`
	New string `json:"new"`
	Ref string `json:"ref"`
}

// hookReply is one line back: a message, or the end (Done) with OK.
type hookReply struct {
	Msg  string `json:"msg,omitempty"`
	Done bool   `json:"done,omitempty"`
	OK   bool   `json:"ok,omitempty"`
}

// RunHook is the pre-receive hook (pier git-hook): it reads the ref
// updates from stdin, hands them to the server that started receive-pack,
// writes what the server says to stderr and returns the exit code (0: the
// refs may move). getenv reads the hook's environment.
func RunHook(stdin io.Reader, stderr io.Writer, getenv func(string) string) int {
	req := hookRequest{
		Push:       getenv(envPush),
		Quarantine: getenv("GIT_QUARANTINE_PATH"),
		ObjectDir:  getenv("GIT_OBJECT_DIRECTORY"),
		Alternates: getenv("GIT_ALTERNATE_OBJECT_DIRECTORIES"),
		Shallow:    getenv("GIT_SHALLOW_FILE"),
	}
	sock := getenv(envSocket)
	if sock == "" || req.Push == "" {
		fmt.Fprintln(stderr, "pier: this hook runs only under pier serve")
		return 1
	}
	sc := bufio.NewScanner(io.LimitReader(stdin, 1<<20))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			fmt.Fprintln(stderr, "pier: unexpected hook input")
			return 1
		}
		if len(req.Updates) == maxUpdates {
			fmt.Fprintf(stderr, "pier: a push may update at most %d refs\n", maxUpdates)
			return 1
		}
		req.Updates = append(req.Updates, refUpdate{Old: f[0], New: f[1], Ref: f[2]})
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintln(stderr, "pier: cannot reach the server; nothing was published")
		return 1
	}
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		fmt.Fprintln(stderr, "pier: lost the server; nothing was published")
		return 1
	}
	dec := json.NewDecoder(bufio.NewReader(conn))
	for {
		var r hookReply
		if err := dec.Decode(&r); err != nil {
			fmt.Fprintln(stderr, "pier: lost the server; nothing was published")
			return 1
		}
		if r.Msg != "" {
			fmt.Fprintln(stderr, "pier: "+r.Msg)
		}
		if r.Done {
			if r.OK {
				return 0
			}
			return 1
		}
	}
}

// newPushID returns a fresh random push id.
func newPushID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// acceptHooks serves hook connections until Close.
func (s *Server) acceptHooks() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.cfg.Log.Error("git: accepting hook connections", "err", err)
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.serveHook(conn)
		}()
	}
}

// serveHook reads one hookRequest and runs the push's pre-receive step.
func (s *Server) serveHook(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var req hookRequest
	if err := json.NewDecoder(io.LimitReader(conn, 1<<20)).Decode(&req); err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	s.mu.Lock()
	p := s.pushes[req.Push]
	s.mu.Unlock()
	enc := json.NewEncoder(conn)
	if p == nil {
		_ = enc.Encode(hookReply{Msg: "unknown push; nothing was published", Done: true})
		return
	}
	say := func(format string, args ...any) {
		_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
		_ = enc.Encode(hookReply{Msg: fmt.Sprintf(format, args...)})
	}
	ok := p.preReceive(p.ctx, req, say)
	_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	_ = enc.Encode(hookReply{Done: true, OK: ok})
}

// registerPush makes p reachable by its id until the returned func runs.
func (s *Server) registerPush(p *push) (id string, done func()) {
	id = newPushID()
	s.mu.Lock()
	s.pushes[id] = p
	s.mu.Unlock()
	return id, func() {
		s.mu.Lock()
		delete(s.pushes, id)
		s.mu.Unlock()
	}
}
