package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/middleware"
)

func init() {
	register(scenario{order: 60, name: "middleware", title: "an HTTP response cache (RFC 9111) and Idempotency-Key handling for net/http", run: demoMiddleware})
}

func demoMiddleware(ctx context.Context, env *demoEnv) error {
	c, err := middleware.NewCache(env.rdb, &middleware.CacheOptions{
		Prefix:    env.prefix + ":http",
		OpTimeout: time.Second,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	idem, err := middleware.NewIdempotency(env.rdb, &middleware.IdempotencyOptions{Prefix: env.prefix + ":idem", Required: true})
	if err != nil {
		return err
	}

	var productCalls, orders atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		productCalls.Add(1)
		time.Sleep(30 * time.Millisecond) // the database query this cache saves
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("ETag", `"p-`+r.PathValue("id")+`-v1"`)
		fmt.Fprintf(w, `{"id":%q,"name":"teapot"}`, r.PathValue("id"))
	})
	mux.Handle("POST /orders", idem.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := orders.Add(1)
		w.Header().Set("Location", fmt.Sprintf("/orders/%d", n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"order":%d}`, n)
	})))
	srv := httptest.NewServer(c.Handler(mux))
	defer srv.Close()
	client := srv.Client()

	get := func(path string, hdr ...string) (*http.Response, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			return nil, 0, err
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, time.Since(start), nil
	}

	env.say("A test HTTP server whose product handler takes 30 ms (a database query) and says")
	env.say("Cache-Control: public, max-age=60, behind the cache middleware.")
	resp, d, err := get("/products/1")
	if err != nil {
		return err
	}
	env.say("1st GET /products/1: %d in %v, Cache-Status: %s", resp.StatusCode, d.Round(10*time.Microsecond), resp.Header.Get("Cache-Status"))
	env.say("   (a miss: the handler ran, and the response was stored in Redis for every instance)")
	resp, d, err = get("/products/1")
	if err != nil {
		return err
	}
	env.say("2nd GET /products/1: %d in %v, Age: %s, Cache-Status: %s", resp.StatusCode, d.Round(10*time.Microsecond),
		resp.Header.Get("Age"), resp.Header.Get("Cache-Status"))
	env.say("   (a hit: served from Redis, the handler did not run; ttl is the freshness left in seconds)")
	etag := resp.Header.Get("ETag")
	resp, _, err = get("/products/1", "If-None-Match", etag)
	if err != nil {
		return err
	}
	env.say("GET with If-None-Match: %s -> %d %s, no body sent: the client's copy is still good.", etag, resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode != http.StatusNotModified {
		return fmt.Errorf("conditional GET answered %d, want 304", resp.StatusCode)
	}

	// Twenty clients ask for an uncached product at once: one handler call.
	before := productCalls.Load()
	var wg sync.WaitGroup
	var collapsed atomic.Int32
	var firstErr error
	var errOnce sync.Once
	for range 20 {
		wg.Go(func() {
			resp, _, err := get("/products/2")
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			if strings.Contains(resp.Header.Get("Cache-Status"), "collapsed") {
				collapsed.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	env.say("20 concurrent GETs of an uncached product: the handler ran %d time(s); %d requests waited for",
		productCalls.Load()-before, collapsed.Load())
	env.say("   that call (Cache-Status: collapsed) instead of all hitting the database at once, and the")
	env.say("   rest were served from the cache.")

	// Idempotency-Key: a retried POST does not create a second order.
	post := func(key string) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/orders", strings.NewReader(`{"item":"teapot"}`))
		if err != nil {
			return nil, "", err
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		req.Header.Set("Authorization", "Bearer demo-user") // keys are kept per client
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), nil
	}
	key := `"` + env.prefix + `-order-1"`
	r1, b1, err := post(key)
	if err != nil {
		return err
	}
	r2, b2, err := post(key)
	if err != nil {
		return err
	}
	env.say("POST /orders with Idempotency-Key %s: %d %s", key, r1.StatusCode, b1)
	env.say("The same POST again (a client retry after a timeout): %d %s, Idempotent-Replayed: %s",
		r2.StatusCode, b2, r2.Header.Get("Idempotent-Replayed"))
	env.say("   Orders created: %d. The retry got the stored response; nothing was charged twice.", orders.Load())
	r3, b3, err := post("")
	if err != nil {
		return err
	}
	env.say("A POST without the key: %d, %s", r3.StatusCode, strings.TrimSpace(b3))
	if orders.Load() != 1 || b1 != b2 {
		return fmt.Errorf("idempotent POST created %d orders (%q vs %q)", orders.Load(), b1, b2)
	}
	return nil
}
