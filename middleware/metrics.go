package middleware

import (
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/otelx"
)

// CacheStats are the counts of one [Cache] since [NewCache]. The same
// counts are exported as OpenTelemetry counters (see README).
type CacheStats struct {
	Hits         int64 // answered from Redis without calling the handler (fresh, or stale allowed)
	StaleHits    int64 // of Hits, stale responses served under stale-while-revalidate or max-stale
	Collapsed    int64 // answered with the response another request's handler call produced
	Forwarded    int64 // handler calls made for GET and HEAD requests (misses, revalidations)
	Revalidated  int64 // of Forwarded, answered 304: the stored response was refreshed and served
	StaleOnError int64 // stale responses served because the handler failed (stale-if-error)
	Stored       int64 // responses written to Redis
	Refreshes    int64 // background revalidations run (stale-while-revalidate)
	Bypassed     int64 // requests passed to the handler because Redis was unavailable
	RedisErrors  int64 // Redis operations that failed or timed out
}

// cacheCounters are the live atomics behind CacheStats.
type cacheCounters struct {
	hits, staleHits, collapsed, forwarded, revalidated, staleOnError,
	stored, refreshes, bypassed, redisErrors atomic.Int64
}

// Stats returns the counts since [NewCache]. It is safe for concurrent use.
func (c *Cache) Stats() CacheStats {
	k := &c.ctr
	return CacheStats{
		Hits: k.hits.Load(), StaleHits: k.staleHits.Load(), Collapsed: k.collapsed.Load(),
		Forwarded: k.forwarded.Load(), Revalidated: k.revalidated.Load(),
		StaleOnError: k.staleOnError.Load(), Stored: k.stored.Load(),
		Refreshes: k.refreshes.Load(), Bypassed: k.bypassed.Load(), RedisErrors: k.redisErrors.Load(),
	}
}

// registerCacheMetrics exports the counters as OpenTelemetry observable
// counters read at collection time, so requests pay one atomic add each.
func registerCacheMetrics(mp metric.MeterProvider, prefix string, k *cacheCounters) (metric.Registration, error) {
	m := otelx.Meter(mp, "github.com/aside-go/aside/middleware")
	const req = "aside.middleware.cache.requests"
	list := []otelx.Counter{
		{Name: req, Desc: "GET and HEAD requests by how the cache answered them. Attribute result: hit, stale_hit, collapsed, forwarded, stale_on_error, bypassed.", Attr: attribute.String("result", "hit"), V: &k.hits},
		{Name: req, Attr: attribute.String("result", "stale_hit"), V: &k.staleHits},
		{Name: req, Attr: attribute.String("result", "collapsed"), V: &k.collapsed},
		{Name: req, Attr: attribute.String("result", "forwarded"), V: &k.forwarded},
		{Name: req, Attr: attribute.String("result", "stale_on_error"), V: &k.staleOnError},
		{Name: req, Attr: attribute.String("result", "bypassed"), V: &k.bypassed},
		{Name: "aside.middleware.cache.revalidated", Desc: "Handler calls answered 304 that refreshed a stored response.", V: &k.revalidated},
		{Name: "aside.middleware.cache.stored", Desc: "Responses written to Redis.", V: &k.stored},
		{Name: "aside.middleware.cache.refreshes", Desc: "Background revalidations run (stale-while-revalidate).", V: &k.refreshes},
		{Name: "aside.middleware.cache.redis_errors", Desc: "Redis operations that failed or timed out.", V: &k.redisErrors},
	}
	return otelx.ObserveCounters(m, attribute.String("aside.middleware.prefix", prefix), list)
}

// IdempotencyStats are the counts of one [Idempotency] since
// [NewIdempotency], by how each guarded request was answered. The same
// counts are exported as the OpenTelemetry counter
// aside.middleware.idempotency.requests (attribute result).
type IdempotencyStats struct {
	Ran         int64 // first requests of their key: the handler ran
	Replayed    int64 // answered with the stored response
	InProgress  int64 // 409: the first request of the key still runs
	Mismatch    int64 // 422: the key was used with another payload
	Refused     int64 // 400 or 413: no key where required, a malformed key, no client, a body too large
	Unavailable int64 // 503: Redis failed (FailOpen off)
	FailedOpen  int64 // Redis failed and the handler ran unguarded (FailOpen)
	Unguarded   int64 // requests without a key passed through (Required off)
	RedisErrors int64 // Redis operations that failed or timed out
}

type idemCounters struct {
	ran, replayed, inProgress, mismatch, refused, unavailable, failedOpen, unguarded, redisErrors atomic.Int64
}

// Stats returns the counts since [NewIdempotency]. It is safe for
// concurrent use.
func (m *Idempotency) Stats() IdempotencyStats {
	k := &m.ctr
	return IdempotencyStats{
		Ran: k.ran.Load(), Replayed: k.replayed.Load(), InProgress: k.inProgress.Load(),
		Mismatch: k.mismatch.Load(), Refused: k.refused.Load(), Unavailable: k.unavailable.Load(),
		FailedOpen: k.failedOpen.Load(), Unguarded: k.unguarded.Load(), RedisErrors: k.redisErrors.Load(),
	}
}

func registerIdemMetrics(mp metric.MeterProvider, prefix string, k *idemCounters) (metric.Registration, error) {
	m := otelx.Meter(mp, "github.com/aside-go/aside/middleware")
	const req = "aside.middleware.idempotency.requests"
	list := []otelx.Counter{
		{Name: req, Desc: "Guarded requests by how they were answered. Attribute result: ran, replayed, in_progress, mismatch, refused, unavailable, failed_open, unguarded.", Attr: attribute.String("result", "ran"), V: &k.ran},
		{Name: req, Attr: attribute.String("result", "replayed"), V: &k.replayed},
		{Name: req, Attr: attribute.String("result", "in_progress"), V: &k.inProgress},
		{Name: req, Attr: attribute.String("result", "mismatch"), V: &k.mismatch},
		{Name: req, Attr: attribute.String("result", "refused"), V: &k.refused},
		{Name: req, Attr: attribute.String("result", "unavailable"), V: &k.unavailable},
		{Name: req, Attr: attribute.String("result", "failed_open"), V: &k.failedOpen},
		{Name: req, Attr: attribute.String("result", "unguarded"), V: &k.unguarded},
		{Name: "aside.middleware.idempotency.redis_errors", Desc: "Redis operations that failed or timed out.", V: &k.redisErrors},
	}
	return otelx.ObserveCounters(m, attribute.String("aside.middleware.prefix", prefix), list)
}
