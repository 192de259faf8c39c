package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aside-go/aside/middleware"
)

// The middleware benchmarks measure a cache hit of the response cache: the
// same handler (it writes a body of the given size from memory, with
// Cache-Control: public, max-age=3600) with and without the middleware,
// in process (ServeHTTP into a minimal ResponseWriter) and over loopback
// HTTP (net/http client and server). Compare the in-process hit with
// BenchmarkFloor_GET (one go-redis GET of 1 KiB): a hit is one HMGET plus
// decoding and writing the stored response.

var middlewareSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}}

func middlewareHandler(size int) http.Handler {
	body := bytes.Repeat([]byte("a"), size)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

func newMiddlewareCache(b *testing.B) *middleware.Cache {
	b.Helper()
	c, err := middleware.NewCache(client(b), &middleware.CacheOptions{Prefix: prefix(b), OpTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// discardWriter is the least a ResponseWriter can do.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// serveInProcess runs b.N requests through h and reports req/s and
// latency percentiles.
func serveInProcess(b *testing.B, h http.Handler, size int) {
	req := httptest.NewRequest(http.MethodGet, "http://bench.example/item", nil)
	w := &discardWriter{h: make(http.Header)}
	h.ServeHTTP(w, req) // fill the cache
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		w.n, w.status = 0, 0
		t0 := time.Now()
		h.ServeHTTP(w, req)
		lat = append(lat, time.Since(t0))
		if w.n != size || w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("got %d bytes, status %d", w.n, w.status)
		}
	}
	reportRate(b, lat)
}

func reportRate(b *testing.B, lat []time.Duration) {
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	if total > 0 {
		b.ReportMetric(float64(len(lat))/total.Seconds(), "req/s")
	}
	b.ReportMetric(durMs(durPercentile(lat, 50)), "p50-ms")
	b.ReportMetric(durMs(durPercentile(lat, 99)), "p99-ms")
}

// BenchmarkMiddlewareHit_Aside is a cache hit through middleware.Cache,
// in process.
func BenchmarkMiddlewareHit_Aside(b *testing.B) {
	for _, s := range middlewareSizes {
		b.Run(s.name, func(b *testing.B) {
			c := newMiddlewareCache(b)
			h := c.Handler(middlewareHandler(s.size))
			serveInProcess(b, h, s.size)
			w := &discardWriter{h: make(http.Header)}
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://bench.example/item", nil))
			if cs := w.h.Get("Cache-Status"); len(cs) < 10 || cs[:10] != "aside; hit" {
				b.Fatalf("not a hit: Cache-Status %q", cs)
			}
		})
	}
}

// BenchmarkMiddlewareHit_NoMiddleware is the same handler called directly.
func BenchmarkMiddlewareHit_NoMiddleware(b *testing.B) {
	for _, s := range middlewareSizes {
		b.Run(s.name, func(b *testing.B) {
			serveInProcess(b, middlewareHandler(s.size), s.size)
		})
	}
}

// serveHTTP sends b.N requests over loopback HTTP to h.
func serveHTTP(b *testing.B, h http.Handler, size int) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	cl := srv.Client()
	get := func() {
		resp, err := cl.Get(srv.URL + "/item")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != int64(size) || resp.StatusCode != http.StatusOK {
			b.Fatalf("got %d bytes, status %d", n, resp.StatusCode)
		}
	}
	get()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		get()
		lat = append(lat, time.Since(t0))
	}
	reportRate(b, lat)
}

// BenchmarkMiddlewareHitHTTP_Aside is a cache hit through middleware.Cache
// over loopback HTTP.
func BenchmarkMiddlewareHitHTTP_Aside(b *testing.B) {
	for _, s := range middlewareSizes {
		b.Run(s.name, func(b *testing.B) {
			serveHTTP(b, newMiddlewareCache(b).Handler(middlewareHandler(s.size)), s.size)
		})
	}
}

// BenchmarkMiddlewareHitHTTP_NoMiddleware is the same handler over
// loopback HTTP without the middleware.
func BenchmarkMiddlewareHitHTTP_NoMiddleware(b *testing.B) {
	for _, s := range middlewareSizes {
		b.Run(s.name, func(b *testing.B) {
			serveHTTP(b, middlewareHandler(s.size), s.size)
		})
	}
}

// BenchmarkMiddlewareHit_RedisGET is the floor of a hit: one plain go-redis
// GET of a value of the body's size (BenchmarkFloor_GET is the 1 KiB case
// without latency percentiles).
func BenchmarkMiddlewareHit_RedisGET(b *testing.B) {
	for _, s := range middlewareSizes {
		b.Run(s.name, func(b *testing.B) {
			rdb := client(b)
			ctx := context.Background()
			key := prefix(b) + ":body"
			if err := rdb.Set(ctx, key, bytes.Repeat([]byte("a"), s.size), 0).Err(); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.SetBytes(int64(s.size))
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				v, err := rdb.Get(ctx, key).Bytes()
				lat = append(lat, time.Since(t0))
				if err != nil || len(v) != s.size {
					b.Fatalf("GET: %d bytes, %v", len(v), err)
				}
			}
			reportRate(b, lat)
		})
	}
}
