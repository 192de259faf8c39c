package middleware

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// clock is a settable time source for a Cache: freshness and Age are
// computed by the cache from stored times, so advancing it ages entries
// without sleeping (Redis TTLs are far longer than any test).
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

// newClock starts before any real Date a handler may set, so a handler's
// own Date never adds apparent age.
func newClock() *clock { return &clock{t: time.Date(2000, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newTestCache returns a cache with a unique prefix and a generous
// per-operation timeout (the test machine is loaded), closed at cleanup.
func newTestCache(tb testing.TB, rdb redis.UniversalClient, opt *CacheOptions, clk *clock) *Cache {
	tb.Helper()
	var o CacheOptions
	if opt != nil {
		o = *opt
	}
	if o.Prefix == "" {
		o.Prefix = redistest.Prefix(tb)
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = 5 * time.Second
	}
	c, err := NewCache(rdb, &o)
	if err != nil {
		tb.Fatal(err)
	}
	if clk != nil {
		c.now = clk.now
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// waitBackground waits for the background revalidations running now.
func (c *Cache) waitBackground() { c.wg.Wait() }

// startServer serves h on a loopback httptest server with panics logged
// nowhere, closed at cleanup.
func startServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// do sends one request and returns the response with its body read.
func do(tb testing.TB, client *http.Client, method, url string, hdr http.Header) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, string(b)
}

// wait blocks until ch is closed (or sends), failing the test after 30 s
// instead of hanging it.
func wait[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		tb.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}
