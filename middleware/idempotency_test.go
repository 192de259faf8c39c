package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aside-go/aside/internal/otelx/otelxtest"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// post sends a POST with an optional Idempotency-Key and returns status,
// body and the response.
func post(tb testing.TB, url, key, body string, extra ...string) (*http.Response, string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Authorization", "Bearer alice")
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func newIdem(tb testing.TB, rdb redis.UniversalClient, opt IdempotencyOptions) *Idempotency {
	tb.Helper()
	opt.Prefix = redistest.Prefix(tb)
	if opt.OpTimeout == 0 {
		opt.OpTimeout = 5 * time.Second
	}
	m, err := NewIdempotency(rdb, &opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

func problemOf(tb testing.TB, resp *http.Response, body string) problemDetails {
	tb.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemDetails
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		tb.Errorf("problem body %q: %v", body, err)
	}
	if p.Status != resp.StatusCode {
		tb.Errorf("problem status %d in a %d response", p.Status, resp.StatusCode)
	}
	return p
}

func TestIdempotency_Handler(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		t.Run("first runs, retry replays, other payload 422", func(t *testing.T) {
			t.Parallel()
			m := newIdem(t, rdb, IdempotencyOptions{Required: true})
			var calls atomic.Int32
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				w.Header().Set("Location", "/orders/1")
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, "order %d for %s", calls.Add(1), b)
			})))
			resp, got := post(t, srv.URL+"/orders", `"k-1"`, "2 apples")
			if resp.StatusCode != 201 || got != "order 1 for 2 apples" {
				t.Fatalf("first: %d %q", resp.StatusCode, got)
			}
			resp, got = post(t, srv.URL+"/orders", `"k-1"`, "2 apples")
			if resp.StatusCode != 201 || got != "order 1 for 2 apples" || resp.Header.Get("Location") != "/orders/1" ||
				resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("retry: %d %q %v, want the stored 201 replayed", resp.StatusCode, got, resp.Header)
			}
			resp, got = post(t, srv.URL+"/orders", `"k-1"`, "3 pears")
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("same key, other body: %d, want 422", resp.StatusCode)
			}
			problemOf(t, resp, got)
			resp, got = post(t, srv.URL+"/orders", "", "2 apples")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("missing key: %d, want 400", resp.StatusCode)
			}
			if p := problemOf(t, resp, got); p.Title != "Idempotency-Key is missing" {
				t.Errorf("missing key: title %q", p.Title)
			}
			if resp, _ := post(t, srv.URL+"/orders", `""`, "x"); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("empty key: %d, want 400", resp.StatusCode)
			}
			resp, got = post(t, srv.URL+"/other", `"k-1"`, "2 apples")
			if resp.StatusCode != 201 || got != "order 2 for 2 apples" {
				t.Errorf("same key on another route: %d %q, want a new run", resp.StatusCode, got)
			}
			if calls.Load() != 2 {
				t.Errorf("calls = %d, want 2", calls.Load())
			}
		})
		t.Run("in progress 409", func(t *testing.T) {
			t.Parallel()
			m := newIdem(t, rdb, IdempotencyOptions{LockTTL: time.Second})
			started, release := make(chan struct{}), make(chan struct{})
			var startOnce, releaseOnce sync.Once
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				startOnce.Do(func() { close(started) })
				<-release
				io.WriteString(w, "done")
			})))
			unblock := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(unblock) // runs before the server's Close
			first := make(chan string, 1)
			go func() { _, b := post(t, srv.URL+"/pay", "k-2", "1"); first <- b }()
			wait(t, started, "the first request to run")
			// Longer than LockTTL: the lease is renewed (every LockTTL/3)
			// while the handler runs.
			time.Sleep(1500 * time.Millisecond)
			resp, got := post(t, srv.URL+"/pay", "k-2", "1")
			if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" {
				t.Errorf("retry while running: %d, want 409 with Retry-After", resp.StatusCode)
			}
			problemOf(t, resp, got)
			unblock()
			if b := wait(t, first, "the first request"); b != "done" {
				t.Errorf("first: %q", b)
			}
			if _, got := post(t, srv.URL+"/pay", "k-2", "1"); got != "done" {
				t.Errorf("after completion: %q, want the replay", got)
			}
		})
		t.Run("scoped per client", func(t *testing.T) {
			t.Parallel()
			m := newIdem(t, rdb, IdempotencyOptions{Client: func(r *http.Request) string { return r.Header.Get("X-User") }})
			var calls atomic.Int32
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%s %d", r.Header.Get("X-User"), calls.Add(1))
			})))
			_, a := post(t, srv.URL+"/t", "k", "x", "X-User", "alice")
			_, b := post(t, srv.URL+"/t", "k", "x", "X-User", "bob")
			_, a2 := post(t, srv.URL+"/t", "k", "x", "X-User", "alice")
			if a != "alice 1" || b != "bob 2" || a2 != "alice 1" {
				t.Errorf("alice %q, bob %q, alice again %q: want bob's key apart from alice's", a, b, a2)
			}
		})
		t.Run("5xx and panics release the key", func(t *testing.T) {
			t.Parallel()
			m := newIdem(t, rdb, IdempotencyOptions{})
			var calls atomic.Int32
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch calls.Add(1) {
				case 1:
					http.Error(w, "db down", http.StatusServiceUnavailable)
				case 2:
					panic("bug")
				default:
					io.WriteString(w, "ok")
				}
			})))
			if resp, _ := post(t, srv.URL+"/x", "k-5", "b"); resp.StatusCode != 503 {
				t.Errorf("first: %d", resp.StatusCode)
			}
			// The handler panics: net/http drops the connection. Go's
			// transport retries by itself on a reused connection (the
			// request carries an Idempotency-Key); else the client sees the
			// error and retries. The retry must run the handler again.
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader("b"))
			req.Header.Set("Idempotency-Key", "k-5")
			req.Header.Set("Authorization", "Bearer alice")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if calls.Load() != 3 {
					t.Errorf("the panic reached the client as %d without a retry", resp.StatusCode)
				}
			}
			if resp, got := post(t, srv.URL+"/x", "k-5", "b"); resp.StatusCode != 200 || got != "ok" || calls.Load() != 3 {
				t.Errorf("after a 5xx and a panic: %d %q after %d calls, want the handler run a 3rd time", resp.StatusCode, got, calls.Load())
			}

		})
		t.Run("oversized response: completed, not run again", func(t *testing.T) {
			t.Parallel()
			m := newIdem(t, rdb, IdempotencyOptions{MaxResponseSize: 8})
			var calls atomic.Int32
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Location", "/big/1")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, strings.Repeat("x", 100))
			})))
			if _, got := post(t, srv.URL+"/big", "k-6", "b"); len(got) != 100 {
				t.Errorf("first: %d bytes, want the whole 100", len(got))
			}
			resp, got := post(t, srv.URL+"/big", "k-6", "b")
			if resp.StatusCode != 201 || resp.Header.Get("Location") != "/big/1" || calls.Load() != 1 {
				t.Errorf("retry: %d, Location %q, %d calls; want the stored 201 and one call", resp.StatusCode, resp.Header.Get("Location"), calls.Load())
			}
			if p := problemOf(t, resp, got); p.Title != "Response not kept for replay" {
				t.Errorf("retry body: %q", got)
			}
		})
		t.Run("scoped per principal by default, no Set-Cookie replayed", func(t *testing.T) {
			t.Parallel()
			m := newIdem(t, rdb, IdempotencyOptions{SessionCookie: "sid"})
			var calls atomic.Int32
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				who := r.Header.Get("Authorization")
				if c, err := r.Cookie("sid"); err == nil {
					who = "sid " + c.Value
				}
				http.SetCookie(w, &http.Cookie{Name: "session", Value: "secret of " + who})
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, "order %d of %s", calls.Add(1), who)
			})))
			resp, a := post(t, srv.URL+"/orders", "k-7", "1 car")
			if resp.StatusCode != 201 || a != "order 1 of Bearer alice" || len(resp.Cookies()) != 1 {
				t.Fatalf("alice: %d %q, cookies %v", resp.StatusCode, a, resp.Cookies())
			}
			// Bob replays Alice's key and body: his own run, not her order.
			resp, b := post(t, srv.URL+"/orders", "k-7", "1 car", "Authorization", "Bearer bob")
			if b != "order 2 of Bearer bob" || resp.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("bob with alice's key: %q (replayed %q), want his own run", b, resp.Header.Get("Idempotent-Replayed"))
			}
			// Alice's retry is replayed, without the cookie of her first run.
			resp, a2 := post(t, srv.URL+"/orders", "k-7", "1 car")
			if a2 != a || resp.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("alice's retry: %q (replayed %q), want %q replayed", a2, resp.Header.Get("Idempotent-Replayed"), a)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("replay carries Set-Cookie %q", c)
			}
			// Without Authorization, the session cookie scopes the key.
			_, c1 := post(t, srv.URL+"/orders", "k-7", "1 car", "Authorization", "", "Cookie", "sid=c1")
			_, c2 := post(t, srv.URL+"/orders", "k-7", "1 car", "Authorization", "", "Cookie", "sid=c2")
			_, c1again := post(t, srv.URL+"/orders", "k-7", "1 car", "Authorization", "", "Cookie", "sid=c1")
			if c1 != "order 3 of sid c1" || c2 != "order 4 of sid c2" || c1again != c1 {
				t.Errorf("by cookie: %q, %q, %q again; want two runs and a replay", c1, c2, c1again)
			}
			// Nobody signed in: refused, not a scope shared with strangers.
			resp, got := post(t, srv.URL+"/orders", "k-7", "1 car", "Authorization", "", "Cookie", "other=1")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("anonymous: %d %q, want 400", resp.StatusCode, got)
			}
			if p := problemOf(t, resp, got); p.Title != "Idempotency-Key needs an identified client" {
				t.Errorf("anonymous: title %q", p.Title)
			}
			if calls.Load() != 4 {
				t.Errorf("handler calls = %d, want 4", calls.Load())
			}
		})
		t.Run("other methods pass through", func(t *testing.T) {
			t.Parallel()
			m := newIdem(t, rdb, IdempotencyOptions{Required: true})
			srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "get") })))
			if resp, got := do(t, srv.Client(), "GET", srv.URL+"/g", nil); resp.StatusCode != 200 || got != "get" {
				t.Errorf("GET: %d %q", resp.StatusCode, got)
			}
		})
	})
}

func TestIdempotency_Handler_redisDown(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	rdb := s.Client(t)
	closed := newIdem(t, rdb, IdempotencyOptions{OpTimeout: 300 * time.Millisecond})
	open := newIdem(t, rdb, IdempotencyOptions{OpTimeout: 300 * time.Millisecond, FailOpen: true})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ran") })
	sc, so := startServer(t, closed.Handler(h)), startServer(t, open.Handler(h))
	s.Kill()
	resp, got := post(t, sc.URL+"/a", "k", "b")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("fail closed: %d %q, want 503", resp.StatusCode, got)
	}
	problemOf(t, resp, got)
	if resp, got := post(t, so.URL+"/a", "k", "b"); resp.StatusCode != 200 || got != "ran" {
		t.Errorf("fail open: %d %q, want the handler's answer", resp.StatusCode, got)
	}
}

func TestNewIdempotency_invalidOptions(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	for _, tc := range []struct {
		name string
		opt  IdempotencyOptions
	}{
		{"LockTTL 1ns (NewTicker would panic)", IdempotencyOptions{LockTTL: time.Nanosecond}},
		{"LockTTL below 100ms", IdempotencyOptions{LockTTL: 50 * time.Millisecond}},
		{"negative LockTTL", IdempotencyOptions{LockTTL: -time.Second}},
		{"TTL below 1s", IdempotencyOptions{TTL: time.Millisecond}},
		{"lower-case method never matches", IdempotencyOptions{Methods: []string{"post"}}},
		{"negative MaxBodySize", IdempotencyOptions{MaxBodySize: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewIdempotency(rdb, &tc.opt)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("NewIdempotency = %v, want ErrInvalidOptions", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
	if _, err := NewIdempotency(rdb, &IdempotencyOptions{LockTTL: 100 * time.Millisecond, TTL: time.Second}); err != nil {
		t.Errorf("smallest valid LockTTL and TTL: %v", err)
	}
}

func TestParseIdempotencyKey(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`}, "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{[]string{`abc`}, "abc", true},
		{[]string{`"a\"b"`}, `a"b`, true},
		{[]string{`""`}, "", false},
		{[]string{"a", "b"}, "", false},
		{[]string{strings.Repeat("x", 256)}, "", false},
	} {
		got, ok := parseIdempotencyKey(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseIdempotencyKey(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// The middleware counts how it answered, in Stats and as OpenTelemetry
// counters.
func TestIdempotency_Stats_ExportedAsOTelCounters(t *testing.T) {
	t.Parallel()
	reader, mp := otelxtest.NewProvider(t)
	m := newIdem(t, redistest.Standalone.Client(t), IdempotencyOptions{MeterProvider: mp})
	srv := startServer(t, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })))
	post(t, srv.URL+"/a", "k", "x")
	post(t, srv.URL+"/a", "k", "x")
	post(t, srv.URL+"/a", "k", "other body")
	post(t, srv.URL+"/a", "", "no key")
	want := IdempotencyStats{Ran: 1, Replayed: 1, Mismatch: 1, Unguarded: 1}
	if got := m.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	sums := otelxtest.Sums(t, reader, "result")
	for res, n := range map[string]int64{"ran": 1, "replayed": 1, "mismatch": 1, "unguarded": 1} {
		if got := sums["aside.middleware.idempotency.requests/"+res]; got != n {
			t.Errorf("OTel %s = %d, want %d (all: %v)", res, got, n, sums)
		}
	}
}
