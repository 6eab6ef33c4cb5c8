package pier

import (
	"log"
	"log/slog"
	"net/http"
	"slices"
	"testing"
)

func TestInstall(t *testing.T) {
	transport, client := http.DefaultTransport, http.DefaultClient.Transport
	logger, logFlags, logOut := slog.Default(), log.Flags(), log.Writer()
	t.Cleanup(func() {
		http.DefaultTransport, http.DefaultClient.Transport = transport, client
		slog.SetDefault(logger)
		log.SetFlags(logFlags)
		log.SetOutput(logOut)
	})

	f := newFakeHost()
	install(f)
	if _, ok := http.DefaultTransport.(*Transport); !ok {
		t.Errorf("DefaultTransport is %T, want *pier.Transport", http.DefaultTransport)
	}
	if _, ok := http.DefaultClient.Transport.(*Transport); !ok {
		t.Errorf("DefaultClient.Transport is %T, want *pier.Transport", http.DefaultClient.Transport)
	}
	slog.Info("from slog", "k", "v")
	log.Printf("from log %d", 1)
	want := []string{"level=INFO msg=\"from slog\" k=v", "from log 1"}
	if !slices.Equal(f.logs, want) {
		t.Errorf("log lines\n got %q\nwant %q", f.logs, want)
	}

	install(nil) // outside the host: nothing changes
	if _, ok := http.DefaultTransport.(*Transport); !ok {
		t.Errorf("install(nil) changed DefaultTransport to %T", http.DefaultTransport)
	}
}
