package middleware_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/aside-go/aside/lock"
	"github.com/aside-go/aside/middleware"
	"github.com/redis/go-redis/v9"
)

// The examples run against the Redis at $REDIS_ADDR; under go test that is
// a private server the test harness starts.

// A shared response cache in front of a handler. The handler decides what
// is cacheable with ordinary HTTP fields.
func ExampleNewCache() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close() // after the cache
	c, err := middleware.NewCache(rdb, &middleware.CacheOptions{Prefix: "shop:http"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, s-maxage=60, stale-while-revalidate=30, stale-if-error=600")
		w.Header().Set("ETag", `"v7"`)
		w.Header().Set("Surrogate-Key", "product:"+r.PathValue("id")+" products")
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	h := c.Handler(mux) // in a server: http.ListenAndServe(":8080", c.Handler(mux))

	const url = "https://shop.example/products/42"
	defer c.PurgeURL(context.Background(), url) // the example leaves nothing behind
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
		status, _, _ := strings.Cut(w.Header().Get("Cache-Status"), "; ttl=") // the ttl counts down
		fmt.Println(w.Code, w.Body, status)
	}
	// Output:
	// 200 {"id":"42"} aside; fwd=uri-miss; fwd-status=200; stored
	// 200 {"id":"42"} aside; hit
}

// Purging: by URL after a change made outside HTTP, by tag for everything
// a handler tagged.
func ExampleCache_PurgeTags() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	c, err := middleware.NewCache(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	products := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Surrogate-Key", "product:42 products")
		fmt.Fprint(w, "a product page")
	}))
	for _, url := range []string{"https://shop.example/products/42", "https://shop.example/products/42/reviews"} {
		products.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", url, nil))
	}

	ctx := context.Background()
	if err := c.PurgeURL(ctx, "https://shop.example/"); err != nil { // after a change made outside HTTP
		log.Fatal(err)
	}
	n, err := c.PurgeTags(ctx, "product:42") // every page that showed product 42
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("purged", n, "URLs")
	// Output: purged 2 URLs
}

// Idempotency-Key handling for POST and PATCH, keys scoped per user: a
// retried request gets the first response again instead of a second charge.
func ExampleNewIdempotency() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	idem, err := middleware.NewIdempotency(rdb, &middleware.IdempotencyOptions{
		Required: true,
		Client:   func(r *http.Request) string { return r.Header.Get("X-User-ID") }, // from your auth middleware
		TTL:      24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer idem.Close()
	charges := 0
	pay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		charges++ // charge the card
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "payment %d", charges)
	})
	h := idem.Handler(pay) // in a server: http.Handle("POST /payments", idem.Handler(pay))

	key := rand.Text() // the client makes one key per logical payment
	for range 2 {
		r := httptest.NewRequest("POST", "/payments", strings.NewReader(`{"cents":500}`))
		r.Header.Set("X-User-ID", "ada")
		r.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body)
	}
	fmt.Println("charges:", charges)
	// Output:
	// 201 payment 1
	// 201 payment 1
	// charges: 1
}

// One request at a time per account, across every instance.
func ExampleNewLock() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	locker, err := lock.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close()
	perAccount, err := middleware.NewLock(locker, &middleware.LockOptions{
		Key:  func(r *http.Request) (string, bool) { return "account:" + r.PathValue("id"), true },
		TTL:  10 * time.Second,
		Wait: 2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /accounts/{id}/transfer", perAccount.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Runs under the account's lock; r.Context() is canceled if the lock is lost.
		fmt.Fprint(w, "transferred")
	})))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("POST", "/accounts/7/transfer", nil))
	fmt.Println(w.Code, w.Body)
	// Output: 200 transferred
}
