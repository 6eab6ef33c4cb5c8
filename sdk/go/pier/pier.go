package pier

import (
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

// hostABI returns the host's ABI, or nil outside the Pier host.
func hostABI() abi { return theHost }

// Var returns the deployment variable name (the [vars] table of pier.toml)
// and whether it is set; a site's secret of that name (see Secret) wins
// over the variable. Outside the Pier host no variable is set.
func Var(name string) (string, bool) {
	h := hostABI()
	if h == nil {
		return "", false
	}
	return getVar(h, name)
}

func getVar(h abi, name string) (string, bool) {
	var small [256]byte
	buf := small[:]
	for {
		n := h.getVar(name, buf)
		if n < 0 {
			return "", false
		}
		if int(n) <= len(buf) {
			return string(buf[:n]), true
		}
		buf = make([]byte, n)
	}
}

// Log appends msg to the site's live log stream (pier logs --site S), one
// line per line of msg. Outside the Pier host it writes to standard error.
func Log(msg string) {
	h := hostABI()
	if h == nil {
		io.WriteString(os.Stderr, strings.TrimSuffix(msg, "\n")+"\n")
		return
	}
	logLines(h, msg)
}

// logLines sends each line of msg to the host's log, skipping a final
// empty line.
func logLines(h abi, msg string) {
	msg = strings.TrimSuffix(msg, "\n")
	for {
		line, rest, more := strings.Cut(msg, "\n")
		h.log(strings.TrimSuffix(line, "\r"))
		if !more {
			return
		}
		msg = rest
	}
}

// logWriter is an [io.Writer] that sends each write to the host's log.
type logWriter struct{ h abi }

func (w logWriter) Write(p []byte) (int, error) {
	logLines(w.h, string(p))
	return len(p), nil
}

// NewLogHandler returns a [log/slog.Handler] that formats each record as
// one logfmt line (without a time: the log stream stamps lines itself) and
// appends it to the site's live log stream. Importing the package installs
// one at level Info as slog's default; call slog.SetDefault with
// NewLogHandler(&slog.HandlerOptions{Level: slog.LevelDebug}) for more.
func NewLogHandler(opts *slog.HandlerOptions) slog.Handler {
	return newLogHandler(hostABI(), opts)
}

func newLogHandler(h abi, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	replace := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		if replace != nil {
			return replace(groups, a)
		}
		return a
	}
	var w io.Writer = os.Stderr
	if h != nil {
		w = logWriter{h}
	}
	return slog.NewTextHandler(w, &o)
}

// install points the standard library's defaults at the host: the HTTP
// client's transport and the log and slog default loggers.
func install(h abi) {
	if h == nil {
		return
	}
	t := &Transport{}
	http.DefaultTransport = t
	http.DefaultClient.Transport = t
	slog.SetDefault(slog.New(newLogHandler(h, nil)))
	// slog.SetDefault routes the log package through slog; send its lines
	// to the stream as they are instead.
	log.SetOutput(logWriter{h})
	log.SetFlags(0)
}

func init() { install(hostABI()) }
