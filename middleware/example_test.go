package middleware_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/aside-go/aside/lock"
	"github.com/aside-go/aside/middleware"
	"github.com/redis/go-redis/v9"
)

// A shared response cache in front of a handler. The handler decides what
// is cacheable with ordinary HTTP fields.
func ExampleNewCache() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
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
	log.Fatal(http.ListenAndServe(":8080", c.Handler(mux)))
}

// Purging: by URL after a change made outside HTTP, by tag for everything
// a handler tagged.
func ExampleCache_PurgeTags() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	c, err := middleware.NewCache(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := c.PurgeURL(ctx, "https://shop.example/products/42"); err != nil {
		log.Print(err)
	}
	n, err := c.PurgeTags(ctx, "product:42")
	if err != nil {
		log.Print(err)
	}
	fmt.Println("purged", n, "URLs")
}

// Idempotency-Key handling for POST and PATCH, keys scoped per user.
func ExampleNewIdempotency() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	idem, err := middleware.NewIdempotency(rdb, &middleware.IdempotencyOptions{
		Required: true,
		Client:   func(r *http.Request) string { return r.Header.Get("X-User-ID") }, // from your auth middleware
		TTL:      24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	pay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated) // charge the card once
	})
	http.Handle("POST /payments", idem.Handler(pay))
}

// One request at a time per account, across every instance.
func ExampleNewLock() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	locker, err := lock.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	perAccount, err := middleware.NewLock(locker, &middleware.LockOptions{
		Key:  func(r *http.Request) (string, bool) { return "account:" + r.PathValue("id"), true },
		TTL:  10 * time.Second,
		Wait: 2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /accounts/{id}/transfer", perAccount.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// r.Context() is canceled if the lock is lost.
	})))
}
