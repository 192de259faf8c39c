package middleware

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/middleware/internal/httprule"
)

// TestCache_Handler_collapsedNeedRevalidation: requests that waited on
// another request's fill get its response only when they could be served
// it as a fresh hit. A page personalised by Cookie that must be revalidated
// on every use (no-cache, or max-age=0 with must-revalidate) reaches each
// user as that user's own page, though all of them asked while the first
// was running.
func TestCache_Handler_collapsedNeedRevalidation(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		for _, cc := range []string{"no-cache", "max-age=0, must-revalidate"} {
			t.Run(cc, func(t *testing.T) {
				t.Parallel()
				const users = 4
				var followers atomic.Int32
				allWaiting := make(chan struct{})
				var calls atomic.Int32
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if calls.Add(1) == 1 {
						select {
						case <-allWaiting:
						case <-time.After(30 * time.Second):
						}
					}
					user := r.Header.Get("Cookie")
					etag := `"` + user + `"`
					w.Header().Set("Cache-Control", cc)
					w.Header().Set("ETag", etag)
					if httprule.ETagMatch(r.Header.Values("If-None-Match"), etag) {
						w.WriteHeader(http.StatusNotModified)
						return
					}
					io.WriteString(w, "page of "+user)
				})
				c := newTestCache(t, rdb, nil, nil)
				c.hook = func(ev string) {
					if ev == "follower" && followers.Add(1) == users-1 {
						close(allWaiting)
					}
				}
				srv := startServer(t, c.Handler(h))
				var wg sync.WaitGroup
				got := make([]string, users)
				for i := range users {
					wg.Go(func() {
						_, got[i] = do(t, srv.Client(), "GET", srv.URL+"/me", http.Header{"Cookie": {fmt.Sprintf("user=%d", i)}})
					})
					// The first request must lead; the others arrive while it runs.
					for i == 0 && calls.Load() == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				wg.Wait()
				for i, body := range got {
					if want := fmt.Sprintf("page of user=%d", i); body != want {
						t.Errorf("user %d got %q, want %q", i, body, want)
					}
				}
				// The same user again: the stored page (whoever's it is) goes
				// to the handler for revalidation; user 1 gets user 1's page.
				resp, body := do(t, srv.Client(), "GET", srv.URL+"/me", http.Header{"Cookie": {"user=1"}})
				if body != "page of user=1" || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=stale") {
					t.Errorf("user 1 again: %q with Cache-Status %q, want user 1's page after a revalidation", body, resp.Header.Get("Cache-Status"))
				}
			})
		}
	})
}

// TestCache_Handler_collapsedFreshShared: a fresh response is shared with
// the requests that waited for it, unless a waiting request's own
// directives refuse it (max-age=0), in which case that request goes to the
// handler itself.
func TestCache_Handler_collapsedFreshShared(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		const waiting = 3
		var followers atomic.Int32
		allWaiting := make(chan struct{})
		var calls atomic.Int32
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			if n == 1 {
				select {
				case <-allWaiting:
				case <-time.After(30 * time.Second):
				}
			}
			w.Header().Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "response %d", n)
		})
		c := newTestCache(t, tp.Client(t), nil, nil)
		c.hook = func(ev string) {
			if ev == "follower" && followers.Add(1) == waiting {
				close(allWaiting)
			}
		}
		srv := startServer(t, c.Handler(h))
		hdrs := []http.Header{nil, nil, nil, {"Cache-Control": {"max-age=0"}}}
		got := make([]string, len(hdrs))
		var wg sync.WaitGroup
		for i, hdr := range hdrs {
			wg.Go(func() { _, got[i] = do(t, srv.Client(), "GET", srv.URL+"/p", hdr) })
			for i == 0 && calls.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		wg.Wait()
		for i := range 3 {
			if got[i] != "response 1" {
				t.Errorf("request %d: %q, want the shared response 1", i, got[i])
			}
		}
		if got[3] != "response 2" {
			t.Errorf("request with max-age=0: %q, want its own response 2", got[3])
		}
	})
}

// A cacheable response without Content-Length whose body outgrows
// MaxBodySize is not stored, and its Cache-Status does not say "stored":
// the cache holds the header back until it knows whether the body fits.
func TestCache_Handler_storedOnlyWhenTheBodyFits(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		var calls atomic.Int32
		c := newTestCache(t, tp.Client(t), &CacheOptions{MaxBodySize: 1000}, nil)
		srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Cache-Control", "max-age=60")
			n := 600
			if r.URL.Path == "/big" {
				n = 3000
			}
			for range n / 100 {
				io.WriteString(w, strings.Repeat("x", 100))
			}
		})))
		for range 2 {
			resp, body := do(t, srv.Client(), "GET", srv.URL+"/big", nil)
			if len(body) != 3000 || strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
				t.Fatalf("big: %d bytes, Cache-Status %q; want all 3000 and no stored", len(body), resp.Header.Get("Cache-Status"))
			}
		}
		if n := calls.Load(); n != 2 {
			t.Fatalf("handler calls for the big response = %d, want 2 (never stored)", n)
		}
		resp, body := do(t, srv.Client(), "GET", srv.URL+"/small", nil)
		if len(body) != 600 || !strings.HasSuffix(resp.Header.Get("Cache-Status"), "; stored") {
			t.Fatalf("small: %d bytes, Cache-Status %q; want 600 and stored", len(body), resp.Header.Get("Cache-Status"))
		}
		if resp, _ := do(t, srv.Client(), "GET", srv.URL+"/small", nil); !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Fatalf("small again: Cache-Status %q, want a hit", resp.Header.Get("Cache-Status"))
		}
	})
}
