package middleware

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter("github.com/aside-go/aside/middleware")
	type obs struct {
		name, desc, result string
		v                  *atomic.Int64
	}
	const req = "aside.middleware.cache.requests"
	list := []obs{
		{req, "GET and HEAD requests by how the cache answered them. Attribute result: hit, stale_hit, collapsed, forwarded, stale_on_error, bypassed.", "hit", &k.hits},
		{req, "", "stale_hit", &k.staleHits},
		{req, "", "collapsed", &k.collapsed},
		{req, "", "forwarded", &k.forwarded},
		{req, "", "stale_on_error", &k.staleOnError},
		{req, "", "bypassed", &k.bypassed},
		{"aside.middleware.cache.revalidated", "Handler calls answered 304 that refreshed a stored response.", "", &k.revalidated},
		{"aside.middleware.cache.stored", "Responses written to Redis.", "", &k.stored},
		{"aside.middleware.cache.refreshes", "Background revalidations run (stale-while-revalidate).", "", &k.refreshes},
		{"aside.middleware.cache.redis_errors", "Redis operations that failed or timed out.", "", &k.redisErrors},
	}
	insts := map[string]metric.Int64ObservableCounter{}
	var all []metric.Observable
	for _, o := range list {
		if _, ok := insts[o.name]; ok {
			continue
		}
		ctr, err := m.Int64ObservableCounter(o.name, metric.WithDescription(o.desc))
		if err != nil {
			return nil, err
		}
		insts[o.name] = ctr
		all = append(all, ctr)
	}
	base := attribute.String("aside.middleware.prefix", prefix)
	opts := make([]metric.ObserveOption, len(list))
	for i, o := range list {
		if o.result != "" {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(base, attribute.String("result", o.result)))
		} else {
			opts[i] = metric.WithAttributeSet(attribute.NewSet(base))
		}
	}
	return m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		for i, o := range list {
			ob.ObserveInt64(insts[o.name], o.v.Load(), opts[i])
		}
		return nil
	}, all...)
}
