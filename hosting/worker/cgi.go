package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/pierhq/pier/internal/cgimeta"
	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/net/http/httpguts"
)

// serveCGI runs a WAGI command: a fresh instance per request, CGI
// meta-variables and vars in the environment, the body on stdin, a CGI
// response on stdout and stderr to the log stream (RFC 3875).
//
// Serve has read the body ahead (a *bufferedBody) if there is one.
func (w *Worker) serveCGI(rw http.ResponseWriter, r *http.Request, host Host, hold *cpuHold) Result {
	var stdin io.Reader = bytes.NewReader(nil)
	bodyLen := 0
	if b, ok := r.Body.(*bufferedBody); ok {
		stdin, bodyLen = b, int(b.n)
	}
	stdout := &cappedBuffer{max: w.lim.MaxResponseBody + 64<<10}
	stderr := &lineWriter{}
	cfg := w.modCfg.WithArgs("worker").WithStdin(stdin).WithStdout(stdout).WithStderr(stderr)
	for _, kv := range w.cgiEnv(r, bodyLen) {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	ctx := context.WithoutCancel(r.Context())
	mem := &capturedMemory{alloc: w.alloc}
	mod, err := w.rt.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, mem), w.shared.mod, cfg)
	if err != nil {
		return w.fail(Result{Outcome: OutcomeException, Err: fmt.Errorf("worker: instantiating: %w", err)})
	}
	in, err := w.bind(mod)
	if err != nil {
		_ = mod.Close(ctx)
		return w.fail(Result{Outcome: OutcomeException, Err: err})
	}
	defer in.close(ctx)
	in.memory = mem
	c := &in.call
	c.reset(r, host)
	c.hold = hold
	c.reqBody, c.reqEOF = nil, true
	stderr.c = c
	if retry := hold.start(mono()); retry > 0 {
		return w.fail(Result{Outcome: OutcomeCPURateLimited, RetryAfter: retry})
	}
	fired, used, busy := in.run(r.Context(), w.lim.CPU, true, func() {
		err = mod.ExportedFunction(exportStart).CallWithStack(in.ctx, in.stack[:])
	})
	if busy != nil {
		return w.fail(w.unavailable(r, busy))
	}
	stderr.flush()
	res := Result{Outcome: OutcomeOK, CPU: used, SubRequests: c.subrequests}
	c.kv.count(&res)
	if err != nil {
		res = w.classify(in, res, fired, err)
		if res.Outcome != OutcomeOK {
			return w.fail(res)
		}
	}
	if stdout.overflow {
		return w.fail(Result{Outcome: OutcomeResponseTooLarge, CPU: used, SubRequests: c.subrequests, KVReads: res.KVReads, KVWrites: res.KVWrites, KVBytes: res.KVBytes, Err: errResponseBodyTooLarge})
	}
	if err := parseCGIResponse(stdout.Bytes(), c); err != nil {
		res.Outcome, res.Err = OutcomeException, err
		return w.fail(res)
	}
	if int64(c.body.Len()) > w.lim.MaxResponseBody {
		return w.fail(Result{Outcome: OutcomeResponseTooLarge, CPU: used, SubRequests: c.subrequests, KVReads: res.KVReads, KVWrites: res.KVWrites, KVBytes: res.KVBytes, Err: errResponseBodyTooLarge})
	}
	switch {
	case mem.refusedSince():
		res.Outcome, res.Detail = OutcomeExceededMemory, w.detail(Result{Outcome: OutcomeExceededMemory})
	case c.subrefused:
		res.Outcome = OutcomeExceededSubrequests
	case c.kv.refused:
		res.Outcome = OutcomeExceededKVOps
	}
	res.Status = c.status
	writeBuffered(rw, c)
	return res
}

// cgiEnv returns the environment: the deployment's vars, the site's
// secrets (which win over vars of the same name), then the RFC 3875
// meta-variables (which win over both).
func (w *Worker) cgiEnv(r *http.Request, bodyLen int) [][2]string {
	meta := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "pier",
		"SERVER_PROTOCOL":   r.Proto,
		"REQUEST_METHOD":    r.Method,
		"REQUEST_URI":       r.URL.RequestURI(),
		"SCRIPT_NAME":       "",
		"PATH_INFO":         r.URL.Path,
		"QUERY_STRING":      r.URL.RawQuery,
		"HTTP_HOST":         r.Host,
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	meta["SERVER_NAME"], meta["SERVER_PORT"] = host, port
	if r.TLS != nil {
		meta["HTTPS"] = "on"
	}
	if ra, rp, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		meta["REMOTE_ADDR"], meta["REMOTE_PORT"] = ra, rp
	} else if r.RemoteAddr != "" {
		meta["REMOTE_ADDR"] = r.RemoteAddr
	}
	if bodyLen > 0 || r.ContentLength >= 0 && r.Method != http.MethodGet && r.Method != http.MethodHead {
		meta["CONTENT_LENGTH"] = strconv.Itoa(bodyLen)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		meta["CONTENT_TYPE"] = ct
	}
	for k, v := range r.Header {
		if k == "Proxy" || k == "Content-Type" || k == "Content-Length" { // Proxy: httpoxy
			continue
		}
		meta["HTTP_"+strings.ReplaceAll(strings.ToUpper(k), "-", "_")] = strings.Join(v, ", ")
	}
	env := make([][2]string, 0, len(w.vars)+len(w.secrets)+len(meta))
	// A var or secret named like a meta-variable never enters the
	// environment, whether or not this request sets it (internal/cgimeta).
	for k, v := range w.vars {
		if _, taken := meta[k]; taken || cgimeta.Is(k) || !validEnv(k, v) {
			continue
		}
		if _, secret := w.secrets[k]; secret {
			continue
		}
		env = append(env, [2]string{k, v})
	}
	for k, v := range w.secrets {
		if _, taken := meta[k]; taken || cgimeta.Is(k) || !validEnv(k, v) {
			continue
		}
		env = append(env, [2]string{k, v})
	}
	for k, v := range meta {
		if validEnv(k, v) {
			env = append(env, [2]string{k, v})
		}
	}
	return env
}

func validEnv(k, v string) bool {
	return k != "" && !strings.ContainsAny(k, "=\x00") && !strings.ContainsRune(v, 0)
}

// parseCGIResponse reads a CGI response (headers, a blank line, the body)
// into c's status, header and body.
func parseCGIResponse(out []byte, c *call) error {
	br := bufio.NewReader(bytes.NewReader(out))
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		if len(out) == 0 {
			return errors.New("worker: the CGI program wrote no response")
		}
		return fmt.Errorf("worker: invalid CGI response header: %w", err)
	}
	c.status = http.StatusOK
	if s := h.Get("Status"); s != "" {
		code, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(strings.TrimSpace(s), " ", 2)[0]))
		if err != nil || code < 200 || code > 599 {
			return fmt.Errorf("worker: invalid CGI status %q", s)
		}
		c.status = code
		delete(h, "Status")
	} else if h.Get("Location") != "" {
		c.status = http.StatusFound
	}
	c.header = http.Header(h)
	for k, vs := range c.header {
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("worker: invalid CGI header %q", k)
			}
		}
	}
	c.body.Reset()
	_, _ = c.body.ReadFrom(br)
	return nil
}

// cappedBuffer is stdout: it keeps up to max bytes and then fails writes.
type cappedBuffer struct {
	bytes.Buffer
	max      int64
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len()+len(p)) > b.max {
		b.overflow = true
		return 0, errResponseBodyTooLarge
	}
	return b.Buffer.Write(p)
}

// lineWriter is stderr: each line goes to the log stream.
type lineWriter struct {
	c   *call
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(bytes.TrimSuffix(l.buf[:i], []byte("\r"))))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 16<<10 { // a very long line: send what we have
		l.emit(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *lineWriter) emit(line string) {
	if l.c != nil {
		l.c.log(line)
	}
}

func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}
