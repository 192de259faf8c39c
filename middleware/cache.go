package middleware

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/internal/validate"
	"github.com/aside-go/aside/middleware/internal/httprule"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
)

// Cache is a shared HTTP response cache (RFC 9111) kept in Redis, used as
// middleware through [Cache.Handler]. Every instance of a service that
// shares the Redis shares the cache. It is safe for concurrent use; its
// zero value is not usable: call [NewCache].
//
// Shutdown order: stop the HTTP server, call [Cache.Close] (it waits for
// background revalidations), then close the Redis client.
type Cache struct {
	opt   CacheOptions
	st    store
	rules httprule.StoreRules
	fr    httprule.Freshness
	// staleKeep is how long past freshness responses are kept: StaleKeep,
	// or StaleOnError if longer.
	staleKeep time.Duration
	now       func() time.Time

	flights   flightGroup
	hints     boundedMap[string] // URL hash key -> last Vary names seen
	passes    boundedMap[int64]  // URL|variant -> unix nano until which misses are not collapsed
	downUntil atomic.Int64       // unix nano until which Redis is left alone

	hook func(event string) // tests only: "follower", "waiter"

	ctr     cacheCounters
	metrics metric.Registration

	mu         sync.Mutex // guards closed, refreshing and wg.Add
	closed     bool
	refreshing map[string]bool
	wg         sync.WaitGroup
}

// NewCache returns a response cache that keeps its entries in rdb. It
// never closes rdb. For the per-operation timeout to cut a slow Redis,
// rdb needs ContextTimeoutEnabled (go-redis ignores context deadlines on
// reads otherwise and falls back on its ReadTimeout).
func NewCache(rdb redis.UniversalClient, opt *CacheOptions) (*Cache, error) {
	if validate.Nil(rdb) {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidOptions)
	}
	var o CacheOptions
	if opt != nil {
		o = *opt
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache{
		opt:        o,
		st:         store{rdb: rdb, prefix: o.Prefix},
		rules:      httprule.StoreRules{AllowCookies: o.AllowSetCookie, Unkeyed: o.UnkeyedHeaders},
		fr:         httprule.Freshness{DefaultTTL: o.DefaultTTL, LMFraction: o.LastModifiedFraction, Targeted: o.TargetedFields},
		staleKeep:  max(o.StaleKeep, o.StaleOnError),
		now:        time.Now,
		flights:    flightGroup{m: make(map[string]*flight)},
		refreshing: make(map[string]bool),
	}
	if c.metrics, err = registerCacheMetrics(o.MeterProvider, o.Prefix, &c.ctr); err != nil {
		return nil, fmt.Errorf("middleware: metrics: %w", err)
	}
	return c, nil
}

// Handler returns next wrapped by the cache. GET and HEAD are answered from
// the cache when the HTTP rules allow; other methods go to next, and when
// they succeed the cached responses of their URL (and of the Location and
// Content-Location on the same host) are purged.
func (c *Cache) Handler(next http.Handler) http.Handler {
	return &cacheHandler{c: c, next: next}
}

// PurgeURL removes every stored response (all Vary variants) of rawURL, an
// absolute URL such as "https://example.com/a?b=1", keyed as
// [CacheOptions.Key] keys requests. Purging what is not stored is not an
// error.
func (c *Cache) PurgeURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("middleware: purge %q: %w", rawURL, err)
	}
	return c.st.purge(ctx, c.st.urlKey(c.keyOf(requestFor(u))))
}

// PurgeTags removes every stored response that was tagged with one of tags
// (through [CacheOptions.TagHeader]) and returns how many URLs it purged.
// It reads only the tags' own sets, never the keyspace.
func (c *Cache) PurgeTags(ctx context.Context, tags ...string) (int, error) {
	total := 0
	for _, t := range tags {
		n, err := c.st.purgeTag(ctx, t)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Close stops new background revalidations and waits for running ones
// (each is bounded by RefreshTimeout). It is idempotent and returns nil.
// Requests served after Close still use the cache but never revalidate in
// the background. It never closes the Redis client.
func (c *Cache) Close() error { return c.Shutdown(context.Background()) }

// Shutdown is [Cache.Close] waiting at most until ctx ends; it then
// returns ctx.Err() and the revalidations still running finish on their
// own.
func (c *Cache) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		_ = c.metrics.Unregister()
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestFor builds the GET request a cache key is computed from.
func requestFor(u *url.URL) *http.Request {
	r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
	if strings.EqualFold(u.Scheme, "https") {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

func (c *Cache) keyOf(r *http.Request) string {
	if c.opt.Key != nil {
		return c.opt.Key(r)
	}
	return defaultKey(r)
}

// defaultKey is the absolute URL of r, with a lowercased host and no
// default port.
func defaultKey(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	host = strings.ToLower(host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	return scheme + "://" + host + r.URL.RequestURI()
}

// redisUp reports whether Redis is outside its backoff after a failure.
func (c *Cache) redisUp(now time.Time) bool { return now.UnixNano() >= c.downUntil.Load() }

// failed starts a backoff after a Redis error, unless the error is only
// the client going away.
func (c *Cache) failed(r *http.Request, err error) {
	if err == nil || r.Context().Err() != nil {
		return
	}
	c.ctr.redisErrors.Add(1)
	c.report(fmt.Errorf("middleware: redis: %w", err))
	if c.opt.Backoff < 0 {
		return
	}
	c.downUntil.Store(c.now().Add(c.opt.Backoff).UnixNano())
}

// report hands err to Options.OnError, if set.
func (c *Cache) report(err error) {
	if c.opt.OnError != nil {
		c.opt.OnError(err)
	}
}

func (c *Cache) opCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.opt.OpTimeout)
}

// detachedCtx is for writes that must finish even if the client left.
func (c *Cache) detachedCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), c.opt.OpTimeout)
}

// status formats this cache's Cache-Status member.
func (c *Cache) status(params string) string { return c.opt.Name + "; " + params }

// flightGroup collapses identical misses in process. Unlike
// golang.org/x/sync/singleflight, the leader runs the handler on its own
// goroutine, with its own ResponseWriter (streaming to its client), and
// each follower waits on its own request's context.
type flightGroup struct {
	mu sync.Mutex // guards m
	m  map[string]*flight
}

// flight is one in-process fill; res is written before done closes.
type flight struct {
	done chan struct{}
	res  *entry // the response to share, nil when it may not be shared
}

func (g *flightGroup) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

func (g *flightGroup) finish(key string, f *flight, res *entry) {
	g.mu.Lock()
	delete(g.m, key)
	g.mu.Unlock()
	f.res = res
	close(f.done)
}

// boundedMap is a concurrent map that forgets everything when it grows past
// maxHints entries: it holds hints, and a lost hint costs one round trip.
type boundedMap[V any] struct {
	m atomic.Pointer[sync.Map]
	n atomic.Int64
}

func (b *boundedMap[V]) get(k string) (V, bool) {
	var zero V
	m := b.m.Load()
	if m == nil {
		return zero, false
	}
	v, ok := m.Load(k)
	if !ok {
		return zero, false
	}
	return v.(V), true
}

func (b *boundedMap[V]) set(k string, v V) {
	m := b.m.Load()
	if m == nil || b.n.Load() >= maxHints {
		m = new(sync.Map)
		b.m.Store(m)
		b.n.Store(0)
	}
	if _, loaded := m.Swap(k, v); !loaded {
		b.n.Add(1)
	}
}
