// Command cachingproxy is a shared HTTP cache in front of an origin: a
// net/http/httputil.ReverseProxy behind aside's response cache, so every
// instance of the proxy serves what one of them fetched, and a stale copy
// answers while the origin is down.
//
//	REDIS_URL=redis://127.0.0.1:6379 go run ./examples/cachingproxy -origin https://example.com -listen :8080
//	curl -si localhost:8080/ | grep -i cache-status     # fwd=uri-miss; ...; stored
//	curl -si localhost:8080/ | grep -i cache-status     # hit; ttl=...
//
// The settings that make sense for a proxy (see newProxy): CDN-Cache-Control
// obeyed as the origin's instructions to this cache, stale responses served
// for an hour when the origin cannot be reached, heuristic freshness from
// Last-Modified for responses that say nothing, and the forwarding fields a
// client sends kept out of the cache key's reach (the default).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/middleware"
)

func main() {
	origin := flag.String("origin", "", "origin URL to proxy, e.g. https://example.com")
	listen := flag.String("listen", ":8080", "address to listen on")
	flag.Parse()
	if err := run(*origin, *listen, os.Getenv("REDIS_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "cachingproxy:", err)
		os.Exit(1)
	}
}

func run(origin, listen, redisURL string) error {
	if origin == "" {
		return errors.New("-origin is required")
	}
	target, err := url.Parse(origin)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("-origin %q: want an absolute URL", origin)
	}
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379"
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	h, cache, err := newProxy(target, rdb)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = cache.Shutdown(sctx) // background revalidations
	}()
	log.Printf("cachingproxy: %s -> %s (Redis %s)", listen, target, opt.Addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newProxy returns the caching reverse proxy to target and its cache, which
// the caller closes.
func newProxy(target *url.URL, rdb redis.UniversalClient) (http.Handler, *middleware.Cache, error) {
	// The proxy defaults: CDN-Cache-Control obeyed, a stale copy served
	// for up to an hour when the origin cannot be reached (ReverseProxy
	// answers 502), heuristic freshness (a tenth of the age, at most 24 h)
	// for responses that carry only Last-Modified; no DefaultTTL, so
	// responses that say nothing are not stored.
	opt := middleware.ProxyOptions()
	opt.Prefix = "proxy:" + target.Host
	opt.OnError = func(err error) { log.Print(err) }
	cache, err := middleware.NewCache(rdb, opt)
	if err != nil {
		return nil, nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
	}
	return cache.Handler(proxy), cache, nil
}
