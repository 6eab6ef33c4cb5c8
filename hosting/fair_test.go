package hosting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
)

// TestSlowBodies: connections sending a POST body at a byte now and then
// to a worker that reads its body hold none of its instances, so a
// genuine request beside them is answered at once; when the server's read
// deadline ends them, they are answered 408 and counted and logged as the
// client's failure, not as the worker's exception. Before bodies were
// read ahead, the genuine request waited for the slow ones' deadline and
// each slow one was a worker_exception.
func TestSlowBodies(t *testing.T) {
	hub := logstream.New(64)
	e := newWorkerEnv(t, Config{Logs: hub}) // one instance per worker
	e.workerSite("up", "d1", "body", workerFiles, tenants.DeploymentConfig{})
	const readTimeout = 4 * time.Second
	srv := httptest.NewUnstartedServer(e.edge)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	post := func(body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/upload", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "up.pier.test"
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("warm"); code != 200 || body != "warm" {
		t.Fatalf("first request: %d %q", code, body)
	}
	events := hub.Subscribe("up")
	defer events.Close()

	const slow = 4
	conns := make([]net.Conn, slow)
	for i := range conns {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: up.pier.test\r\nAccept: application/json\r\nContent-Length: 100\r\n\r\nx")
		conns[i] = c
	}
	sw := siteWorkerOf(e, "up")
	testenv.WaitFor(t, testenv.Patience, func() error { // all four in the worker's dispatch
		sw.mu.Lock()
		defer sw.mu.Unlock()
		if sw.inflight != slow {
			return fmt.Errorf("%d requests in the worker, want %d", sw.inflight, slow)
		}
		return nil
	})
	start := time.Now()
	if code, body := post("genuine"); code != 200 || body != "genuine" {
		t.Errorf("genuine request: %d %q", code, body)
	}
	// It needs milliseconds; held up by the slow bodies, it would wait
	// for their read deadline.
	if took := time.Since(start); took > readTimeout/2 {
		t.Errorf("the genuine request took %v beside slow bodies", took)
	}

	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(testenv.Patience))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"code":"request_timeout"`) {
			t.Errorf("slow client %d: %d %s", i, resp.StatusCode, b)
		}
	}
	u := e.edge.Usage("up")
	if len(u.Violations) != 0 || u.ByOutcome[worker.OutcomeOK] != 2 || u.Invocations != 2 {
		t.Errorf("invocations %d by outcome %v, violations %v; want the 2 genuine ones, ok", u.Invocations, u.ByOutcome, u.Violations)
	}
	if u.Requests["4xx"] != slow || u.Requests["2xx"] != 2 {
		t.Errorf("requests %v, want 2 2xx and %d 4xx", u.Requests, slow)
	}
	var timeouts int
	for timeouts < slow {
		ev := nextEvent(t, events)
		switch {
		case ev.Kind == logstream.KindInvocation && ev.Outcome == worker.OutcomeOK:
		case ev.Kind == logstream.KindRequest && ev.Outcome == logstream.OutcomeClientError && ev.Status == 408 &&
			ev.Message == "worker not run: the client did not send its request body in time":
			timeouts++
		default:
			t.Fatalf("event %+v", ev)
		}
	}
}

// TestWorkerBusy: a request that gets no turn to run its worker in time
// is answered 503 worker_busy with Retry-After, counted as a 5xx request
// of the site but not as an invocation, and logged as the platform's
// error.
func TestWorkerBusy(t *testing.T) {
	// No garbage collection during this test: its pauses would stretch
	// the waiting requests' 100 ms on a busy machine.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	rt, err := worker.New(context.Background(), worker.Config{MaxRunning: 1, QueueTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	hub := logstream.New(1 << 16)
	e := newWorkerEnv(t, Config{Workers: rt, Logs: hub})
	e.reg.mu.Lock()
	tn := e.reg.tenants[testTenant]
	tn.Limits.CPUMs = 500 // spin holds the slot far longer than the queue timeout
	// No 429 from the sites' rate limits (the test's clock stands still)
	// nor from the tenant's CPU rate: this is about run slots.
	tn.Limits.RequestsPerSecond, tn.Limits.RequestBurst = 1<<30, 1<<30
	tn.Limits.CPUMsPerSecond = 1 << 30
	e.reg.tenants[testTenant] = tn
	e.reg.mu.Unlock()
	e.workerSite("spin", "s1", "spin", workerFiles, tenants.DeploymentConfig{})
	e.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	e.get("/missing", "app.pier.test") // load app's worker
	events := hub.Subscribe("app")
	defer events.Close()
	spun := make(chan int, 1)
	spunBody := make(chan string, 1)
	go func() {
		w := e.get("/missing", "spin.pier.test", "Accept", "application/json")
		spunBody <- w.Body.String()
		spun <- w.Code
	}()
	testenv.WaitFor(t, testenv.Patience, func() error { // spin's request in its worker
		sw := siteWorkerOf(e, "spin")
		if sw == nil {
			return errors.New("spin's worker is not loaded")
		}
		sw.mu.Lock()
		defer sw.mu.Unlock()
		if sw.inflight == 0 || sw.w == nil {
			return errors.New("spin's request is not in its worker")
		}
		return nil
	})
	// The runaway holds the only slot for its budget; app's requests
	// queue behind it, and give up after 100 ms.
	var busy, served int
	for busy == 0 {
		select {
		case code := <-spun:
			t.Fatalf("the runaway ended (%d %s) before any of %d requests waited for its slot", code, <-spunBody, served)
		default:
		}
		w := e.get("/missing", "app.pier.test", "Accept", "application/json")
		switch w.Code {
		case 201:
			served++
			continue
		case 503:
		default:
			t.Fatalf("app: %d %s", w.Code, w.Body)
		}
		if !strings.Contains(w.Body.String(), `"code":"worker_busy"`) || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("busy answer: %v %s", w.Header(), w.Body)
		}
		busy++
	}
	<-spun
	u := e.edge.Usage("app")
	if u.Requests["5xx"] != int64(busy) || len(u.Violations) != 0 {
		t.Errorf("requests %v violations %v, want %d 5xx and no violation", u.Requests, u.Violations, busy)
	}
	found := false
	for range served + busy {
		ev := nextEvent(t, events)
		if ev.Kind == logstream.KindInvocation {
			continue
		}
		if ev.Kind != logstream.KindRequest || ev.Outcome != logstream.OutcomeError || ev.Status != 503 ||
			ev.Message != "worker not run: the request waited 100 ms for a turn to run (worker_busy)" {
			t.Errorf("event %+v", ev)
		}
		found = true
		break
	}
	if !found {
		t.Error("no request event for the busy answer")
	}
}

// TestWorkerCPURate: once a tenant's workers have used their CPU rate, a
// request to any of its workers is answered 429 worker_cpu_rate_exceeded
// with Retry-After, counted as a 4xx request but not as an invocation, and
// logged as rate_limited; its static files are still served.
func TestWorkerCPURate(t *testing.T) {
	hub := logstream.New(1 << 16)
	e := newWorkerEnv(t, Config{Logs: hub})
	e.reg.mu.Lock()
	tn := e.reg.tenants[testTenant]
	tn.Limits.CPUMs, tn.Limits.CPUMsPerSecond = 10, 20 // a burst of two runaways
	tn.Limits.RequestsPerSecond, tn.Limits.RequestBurst = 1<<30, 1<<30
	e.reg.tenants[testTenant] = tn
	e.reg.mu.Unlock()
	e.workerSite("spin", "s1", "spin", workerFiles, tenants.DeploymentConfig{})
	events := hub.Subscribe("spin")
	defer events.Close()
	var codes []int
	var refused *httptest.ResponseRecorder
	for range 20 {
		w := e.get("/missing", "spin.pier.test", "Accept", "application/json")
		codes = append(codes, w.Code)
		if w.Code == 429 {
			refused = w
			break
		}
	}
	// Two runaways fit the burst; a loaded machine, on which each takes
	// longer, lets the bucket refill for a few more.
	if refused == nil || len(codes) < 3 || len(codes) > 13 {
		t.Fatalf("answers %v: want two or a few more 503 worker_cpu_exceeded, then 429", codes)
	}
	if ra, err := strconv.Atoi(refused.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 2 ||
		!strings.Contains(refused.Body.String(), `"code":"worker_cpu_rate_exceeded"`) {
		t.Errorf("refusal: %v %s", refused.Header(), refused.Body)
	}
	if w := e.get("/style.css", "spin.pier.test"); w.Code != 200 {
		t.Errorf("a static file of the site: %d", w.Code)
	}
	u := e.edge.Usage("spin")
	if u.Requests["4xx"] != 1 || u.Invocations != int64(len(codes)-1) || u.ByOutcome[worker.OutcomeCPURateLimited] != 0 {
		t.Errorf("requests %v, %d invocations %v", u.Requests, u.Invocations, u.ByOutcome)
	}
	for {
		ev := nextEvent(t, events)
		if ev.Kind == logstream.KindRequest && ev.Status == 429 {
			if ev.Outcome != logstream.OutcomeRateLimited || !strings.Contains(ev.Message, "CPU rate of 20 ms per second") {
				t.Errorf("event %+v", ev)
			}
			break
		}
	}
}
