package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// The proxy in front of a real origin: a miss goes to the origin and is
// stored, a hit does not, CDN-Cache-Control is obeyed, ranges come from the
// stored copy, and with the origin gone the stale copy answers.
func TestProxy_cachesAndSurvivesOriginOutage(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		var calls atomic.Int32
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			switch r.URL.Path {
			case "/page":
				w.Header().Set("Cache-Control", "max-age=1")
				io.WriteString(w, "page one")
			case "/cdn":
				w.Header().Set("Cache-Control", "no-store") // for browsers
				w.Header().Set("CDN-Cache-Control", "max-age=60")
				io.WriteString(w, "cdn")
			default:
				http.NotFound(w, r)
			}
		}))
		target, _ := url.Parse(origin.URL)
		h, cache, err := newProxy(target, tp.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cache.Close() })
		// A unique host per run keeps the two topologies' keys apart.
		host := strings.ReplaceAll(redistest.Prefix(t), ":", "-") + ".example"
		get := func(path string, hdr ...string) *httptest.ResponseRecorder {
			r := httptest.NewRequest("GET", "http://"+host+path, nil)
			for i := 0; i+1 < len(hdr); i += 2 {
				r.Header.Set(hdr[i], hdr[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}

		if w := get("/page"); w.Body.String() != "page one" || calls.Load() != 1 {
			t.Fatalf("miss: %d %q, origin calls %d", w.Code, w.Body, calls.Load())
		}
		if w := get("/page"); w.Body.String() != "page one" || calls.Load() != 1 || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
			t.Errorf("hit: %q %q, origin calls %d", w.Body, w.Header().Get("Cache-Status"), calls.Load())
		}
		if w := get("/page", "Range", "bytes=0-3"); w.Code != http.StatusPartialContent || w.Body.String() != "page" {
			t.Errorf("range: %d %q", w.Code, w.Body)
		}
		get("/cdn")
		if w := get("/cdn"); calls.Load() != 2 || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("CDN-Cache-Control not obeyed: origin calls %d, Cache-Control %q", calls.Load(), w.Header().Get("Cache-Control"))
		}

		origin.Close()
		time.Sleep(1100 * time.Millisecond) // /page goes stale (max-age=1)
		w := get("/page")
		if w.Code != http.StatusOK || w.Body.String() != "page one" || !strings.Contains(w.Header().Get("Cache-Status"), "fwd-status=502") {
			t.Errorf("origin down: %d %q %q, want the stale page", w.Code, w.Body, w.Header().Get("Cache-Status"))
		}
	})
}

func TestRun_badArguments(t *testing.T) {
	for _, tc := range []struct{ origin, want string }{
		{"", "-origin is required"},
		{"example.com", "want an absolute URL"},
	} {
		if err := run(tc.origin, ":0", "redis://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want %q", tc.origin, err, tc.want)
		}
	}
}
