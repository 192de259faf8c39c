package middleware

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"go.uber.org/goleak"
)

func TestNewCache_invalidOptions(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	for _, tc := range []struct {
		name string
		opt  CacheOptions
	}{
		{"negative MaxBodySize", CacheOptions{MaxBodySize: -1}},
		{"negative DefaultTTL", CacheOptions{DefaultTTL: -time.Second}},
		{"negative OpTimeout", CacheOptions{OpTimeout: -time.Second}},
		{"name not a token", CacheOptions{Name: "my cache"}},
		{"unkeyed header with a colon", CacheOptions{UnkeyedHeaders: []string{"X-A: b"}}},
		{"negative StaleOnError", CacheOptions{StaleOnError: -time.Second}},
		{"LastModifiedFraction 1", CacheOptions{LastModifiedFraction: 1}},
		{"LastModifiedFraction NaN", CacheOptions{LastModifiedFraction: math.NaN()}},
		{"targeted field with a colon", CacheOptions{TargetedFields: []string{"CDN-Cache-Control:"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCache(rdb, &tc.opt)
			if !errors.Is(err, ErrInvalidOptions) || strings.Contains(err.Error(), "\n") {
				t.Errorf("NewCache = %v, want ErrInvalidOptions on one line", err)
			}
		})
	}
	if _, err := NewCache(nil, nil); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("NewCache(nil) = %v, want ErrInvalidOptions", err)
	}
	opt := &CacheOptions{}
	if _, err := NewCache(rdb, opt); err != nil || opt.Name != "" {
		t.Errorf("NewCache changed the caller's options (%+v) or failed: %v", opt, err)
	}
}

// TestCache_Handler_panicNotStored checks that a handler that panics or
// aborts mid-body leaves nothing stored, and that the panic still reaches
// net/http (the client sees a broken response).
func TestCache_Handler_panicNotStored(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		for _, tc := range []struct {
			name  string
			panic any
		}{{"panic", "boom"}, {"abort", http.ErrAbortHandler}} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := newTestCache(t, tp.Client(t), nil, nil)
				var calls atomic.Int32
				srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n := calls.Add(1)
					w.Header().Set("Cache-Control", "max-age=60")
					w.Header().Set("Content-Length", "10")
					io.WriteString(w, "12345")
					if n == 1 {
						w.(http.Flusher).Flush()
						panic(tc.panic)
					}
					io.WriteString(w, "67890")
				})))
				resp, err := srv.Client().Get(srv.URL + "/p")
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil {
					t.Fatal("first request: the handler panicked mid-body, yet the client read a whole response")
				}
				resp, got := do(t, srv.Client(), "GET", srv.URL+"/p", nil)
				if got != "1234567890" || calls.Load() != 2 {
					t.Errorf("second request: body %q after %d calls, want the handler's full body from a 2nd call", got, calls.Load())
				}
				if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") {
					t.Errorf("second request: Cache-Status %q, want a uri-miss (nothing stored)", cs)
				}
				do(t, srv.Client(), "GET", srv.URL+"/p", nil)
				if calls.Load() != 2 {
					t.Errorf("third request called the handler: the complete response was not stored")
				}
			})
		}
	})
}

// TestCache_Handler_redisDown kills a private Redis: requests still get
// the handler's response (fail open), marked in Cache-Status, and Redis
// is left alone during the backoff.
func TestCache_Handler_redisDown(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	var reported atomic.Int32
	c := newTestCache(t, s.Client(t), &CacheOptions{OpTimeout: 2 * time.Second, Backoff: time.Hour,
		OnError: func(err error) {
			if err != nil && strings.HasPrefix(err.Error(), "middleware: redis: ") {
				reported.Add(1)
			}
		}}, nil)
	var calls atomic.Int32
	srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "v%d", calls.Add(1))
	})))
	do(t, srv.Client(), "GET", srv.URL+"/d", nil)
	if _, got := do(t, srv.Client(), "GET", srv.URL+"/d", nil); got != "v1" {
		t.Fatalf("before the kill: body %q, want the stored v1", got)
	}
	s.Kill()
	for i := range 3 {
		resp, got := do(t, srv.Client(), "GET", srv.URL+"/d", nil)
		if resp.StatusCode != 200 || got != fmt.Sprintf("v%d", i+2) {
			t.Errorf("Redis down, request %d: %d %q, want the handler's 200 v%d", i, resp.StatusCode, got, i+2)
		}
		if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=redis-unavailable") {
			t.Errorf("Redis down: Cache-Status %q, want detail=redis-unavailable", cs)
		}
	}
	resp, _ := do(t, srv.Client(), "POST", srv.URL+"/d", nil)
	if resp.StatusCode != 200 {
		t.Errorf("POST with Redis down: %d, want the handler's 200", resp.StatusCode)
	}
	before := calls.Load()
	resp, _ = do(t, srv.Client(), "GET", srv.URL+"/d", hdr("Cache-Control", "only-if-cached"))
	if resp.StatusCode != http.StatusGatewayTimeout || calls.Load() != before {
		t.Errorf("only-if-cached with Redis down: %d, want 504 without calling the handler", resp.StatusCode)
	}
	if n := reported.Load(); n != 1 {
		t.Errorf("OnError got %d Redis errors, want 1 (then Redis is left alone for Backoff)", n)
	}
}

// TestCache_Handler_redisSlow pauses a private Redis: each request waits at
// most about OpTimeout, then the handler answers.
func TestCache_Handler_redisSlow(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	c := newTestCache(t, s.Client(t), &CacheOptions{OpTimeout: 200 * time.Millisecond, Backoff: -1}, nil)
	srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "ok")
	})))
	s.Pause()
	defer s.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("Redis paused: %v, want the handler's response", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" || !strings.Contains(resp.Header.Get("Cache-Status"), "redis-unavailable") {
		t.Errorf("Redis paused: %q with Cache-Status %q, want ok marked redis-unavailable", b, resp.Header.Get("Cache-Status"))
	}
}

// TestCache_Handler_collapse sends 100 identical concurrent misses to two
// cache instances (each with its own client, as two processes): the
// handler runs once, every client gets its response.
func TestCache_Handler_collapse(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		const n = 100
		prefix := redistest.Prefix(t)
		var events atomic.Int32
		allWaiting := make(chan struct{})
		hook := func(string) {
			if events.Add(1) == n-1 {
				close(allWaiting)
			}
		}
		var calls atomic.Int32
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			select {
			case <-allWaiting:
			case <-time.After(30 * time.Second):
			}
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "the one response")
		})
		var urls [2]string
		for i := range urls {
			// Two servers, two ports: key by path so both see one URL.
			c := newTestCache(t, tp.Client(t), &CacheOptions{Prefix: prefix, Key: func(r *http.Request) string { return r.URL.Path }}, nil)
			c.hook = hook
			urls[i] = startServer(t, c.Handler(h)).URL + "/c"
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
		defer client.CloseIdleConnections()
		var wg sync.WaitGroup
		var collapsed atomic.Int32
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				resp, err := client.Get(urls[i%2])
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "the one response" {
					errs <- fmt.Errorf("body %q", b)
				}
				if strings.Contains(resp.Header.Get("Cache-Status"), "collapsed") {
					collapsed.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := calls.Load(); got != 1 {
			t.Errorf("handler calls = %d, want 1 for %d concurrent misses on 2 instances", got, n)
		}
		if got := collapsed.Load(); got != n-1 {
			t.Errorf("collapsed responses = %d, want %d", got, n-1)
		}
	})
}

// TestCache_Handler_streaming checks that Flush and
// http.ResponseController reach the client through the cache while the
// handler is still running, and that 1xx interim responses pass through.
func TestCache_Handler_streaming(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := newTestCache(t, tp.Client(t), nil, nil)
		gotFirst := make(chan struct{})
		srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "first;")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("ResponseController.SetWriteDeadline through Unwrap: %v", err)
			}
			select {
			case <-gotFirst:
			case <-time.After(20 * time.Second):
				t.Error("the client never saw the flushed first chunk")
			}
			io.WriteString(w, "second")
		})))
		var hints []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL+"/s", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		first := make([]byte, len("first;"))
		if _, err := io.ReadFull(br, first); err != nil || string(first) != "first;" {
			t.Fatalf("first chunk %q, %v", first, err)
		}
		close(gotFirst)
		rest, _ := io.ReadAll(br)
		resp.Body.Close()
		if string(rest) != "second" {
			t.Errorf("rest %q, want second", rest)
		}
		if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
			t.Errorf("1xx seen by the client: %q, want one 103 with the Link", hints)
		}
		resp2, got := do(t, srv.Client(), "GET", srv.URL+"/s", nil)
		if got != "first;second" || !strings.Contains(resp2.Header.Get("Cache-Status"), "hit") {
			t.Errorf("second request: %q %q, want the streamed response stored and hit", got, resp2.Header.Get("Cache-Status"))
		}
	})
}

// TestCache_Handler_largeBodyStreams checks that a response whose
// Content-Length is over MaxBodySize streams to the client while the
// handler still writes, and is not stored.
func TestCache_Handler_largeBodyStreams(t *testing.T) {
	t.Parallel()
	c := newTestCache(t, redistest.Standalone.Client(t), &CacheOptions{MaxBodySize: 1024}, nil)
	const chunk, chunks = 4096, 64
	var calls atomic.Int32
	next := make(chan struct{})
	srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", fmt.Sprint(chunk*chunks))
		buf := []byte(strings.Repeat("x", chunk))
		w.Write(buf)
		w.(http.Flusher).Flush()
		<-next
		for range chunks - 1 {
			w.Write(buf)
		}
	})))
	resp, err := srv.Client().Get(srv.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, chunk)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("first chunk before the handler finished: %v", err)
	}
	close(next)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(rest) != chunk*(chunks-1) {
		t.Errorf("got %d bytes after the first chunk, want %d", len(rest), chunk*(chunks-1))
	}
	if !c.st.isEmpty(t, c.st.urlKey(srv.URL+"/big")) {
		t.Error("a body over MaxBodySize was stored")
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d", calls.Load())
	}
}

// isEmpty reports whether no variant is stored under base.
func (s *store) isEmpty(tb testing.TB, base string) bool {
	tb.Helper()
	n, err := s.rdb.HLen(context.Background(), base).Result()
	if err != nil {
		tb.Fatal(err)
	}
	return n == 0
}

func TestCache_PurgeURL(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := newTestCache(t, tp.Client(t), nil, nil)
		var calls atomic.Int32
		srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Vary", "Accept-Language")
			fmt.Fprintf(w, "v%d", calls.Add(1))
		})))
		for _, lang := range []string{"en", "fr", "en", "fr"} {
			do(t, srv.Client(), "GET", srv.URL+"/p?q=1", hdr("Accept-Language", lang))
		}
		if calls.Load() != 2 {
			t.Fatalf("calls = %d before purge, want 2 (two variants)", calls.Load())
		}
		if err := c.PurgeURL(context.Background(), srv.URL+"/p?q=1"); err != nil {
			t.Fatal(err)
		}
		for _, lang := range []string{"en", "fr"} {
			resp, _ := do(t, srv.Client(), "GET", srv.URL+"/p?q=1", hdr("Accept-Language", lang))
			if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=") {
				t.Errorf("%s after purge: Cache-Status %q, want a forward", lang, cs)
			}
		}
		if calls.Load() != 4 {
			t.Errorf("calls = %d after purge, want 4 (both variants purged)", calls.Load())
		}
		if err := c.PurgeURL(context.Background(), "http://nothing.example/x"); err != nil {
			t.Errorf("purging what is not stored: %v", err)
		}
	})
}

func TestCache_PurgeTags(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := newTestCache(t, tp.Client(t), nil, nil)
		var calls atomic.Int32
		srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Surrogate-Key", r.URL.Query().Get("tags"))
			io.WriteString(w, r.URL.RawQuery)
		})))
		paths := []string{"/a?tags=user:1+all", "/b?tags=user:2+all", "/c?tags=user:1"}
		for _, p := range paths {
			do(t, srv.Client(), "GET", srv.URL+p, nil)
		}
		n, err := c.PurgeTags(context.Background(), "user:1")
		if err != nil || n != 2 {
			t.Fatalf("PurgeTags(user:1) = %d, %v; want 2 URLs", n, err)
		}
		for i, want := range []int32{4, 4, 5} {
			do(t, srv.Client(), "GET", srv.URL+paths[i], nil)
			if calls.Load() != want {
				t.Errorf("after purge, GET %s: calls = %d, want %d", paths[i], calls.Load(), want)
			}
		}
		if n, err := c.PurgeTags(context.Background(), "all", "nope"); err != nil || n != 2 {
			t.Errorf("PurgeTags(all, nope) = %d, %v; want 2", n, err)
		}
	})
}

// TestCache_Handler_purgeDuringFill checks that a fill that began before a
// purge does not store its (possibly old) response afterwards.
func TestCache_Handler_purgeDuringFill(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := newTestCache(t, tp.Client(t), nil, nil)
		inHandler, purged := make(chan struct{}), make(chan struct{})
		var calls atomic.Int32
		srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				close(inHandler)
				<-purged
			}
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "old")
		})))
		go func() {
			<-inHandler
			if err := c.PurgeURL(context.Background(), srv.URL+"/f"); err != nil {
				t.Error(err)
			}
			close(purged)
		}()
		do(t, srv.Client(), "GET", srv.URL+"/f", nil)
		do(t, srv.Client(), "GET", srv.URL+"/f", nil)
		if calls.Load() != 2 {
			t.Errorf("calls = %d: the response of a fill overtaken by a purge was stored", calls.Load())
		}
	})
}

// TestCache_Close_noLeak checks that Close waits for background
// revalidations and leaves no goroutine behind.
func TestCache_Close_noLeak(t *testing.T) {
	rdb := redistest.Standalone.NewClient(t) // starts the shared server first
	opt := goleak.IgnoreCurrent()
	clk := newClock()
	c, err := NewCache(rdb, &CacheOptions{Prefix: redistest.Prefix(t), OpTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.now = clk.now
	release := make(chan struct{})
	var calls atomic.Int32
	srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600")
		io.WriteString(w, "x")
	})))
	do(t, srv.Client(), "GET", srv.URL+"/l", nil)
	clk.advance(10 * time.Second)
	do(t, srv.Client(), "GET", srv.URL+"/l", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := c.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a refresh blocked = %v, want DeadlineExceeded", err)
	}
	cancel()
	close(release)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv.Client().CloseIdleConnections()
	rdb.Close()
	goleak.VerifyNone(t, opt)
}

// TestCache_Handler_oneBackgroundRefresh serves a stale-while-revalidate
// response from two instances at once: the handler revalidates it once.
func TestCache_Handler_oneBackgroundRefresh(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix, clk := redistest.Prefix(t), newClock()
		var calls atomic.Int32
		refreshing, release := make(chan struct{}), make(chan struct{})
		var refresher string // host of the instance whose refresh runs
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 2 {
				refresher = r.Host
				close(refreshing)
				<-release
			}
			w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=600")
			fmt.Fprintf(w, "v%d", calls.Load())
		})
		var caches [2]*Cache
		var urls [2]string
		for i := range caches {
			caches[i] = newTestCache(t, tp.Client(t), &CacheOptions{Prefix: prefix, Key: func(r *http.Request) string { return r.URL.Path }}, clk)
			urls[i] = startServer(t, caches[i].Handler(h)).URL + "/bg"
		}
		do(t, http.DefaultClient, "GET", urls[0], nil)
		clk.advance(time.Minute)
		for _, u := range urls {
			if resp, got := do(t, http.DefaultClient, "GET", u, nil); got != "v1" || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
				t.Errorf("stale GET: %q %q, want the stale v1 served as a hit", got, resp.Header.Get("Cache-Status"))
			}
		}
		wait(t, refreshing, "the background refresh to call the handler")
		// The other instance's refresh (if it started) meets the lease
		// while this one runs: let it end before releasing.
		for i, c := range caches {
			if !strings.Contains(urls[i], refresher) {
				c.waitBackground()
			}
		}
		close(release)
		for _, c := range caches {
			c.waitBackground()
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("handler calls = %d, want 2 (the fill and one background refresh for both instances)", n)
		}
		if _, got := do(t, http.DefaultClient, "GET", urls[1], nil); got != "v2" {
			t.Errorf("after the refresh: %q, want v2", got)
		}
	})
}
