package cache

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/otelx"
)

// Stats are the counts of one [Cache] since [New]. The same counts are
// exported as OpenTelemetry metrics (see README).
type Stats struct {
	LocalHits    int64 // answered from the L1 tier
	RedisHits    int64 // answered from Redis (fresh values)
	Misses       int64 // nothing usable in Redis: a load was needed
	Loads        int64 // loader calls (single and batch) that this process made
	LoadErrors   int64 // loader calls that failed or panicked (ErrNotFound is not an error)
	LeaseWaits   int64 // loads that waited for another process's lease
	StaleServed  int64 // stale values served past the soft TTL
	Refreshes    int64 // background refreshes started
	NegativeHits int64 // "not found" answered from a cached negative entry
	BloomRejects int64 // keys the bloom filter answered "not found"
	Corrupt      int64 // undecodable entries met (treated as misses)
	RedisErrors  int64 // Redis operations that failed
	FailOpen     int64 // values served from the loader while Redis failed

	// TrackingInvalidations counts L1 entries dropped because Redis
	// reported their key changed (LocalOptions.Tracking);
	// TrackingFlushes counts whole-L1 flushes because a tracking
	// connection was lost or Redis flushed its data; TrackingFallbacks is
	// 1 once the server refused tracking (Redis before 6, an ACL) and the
	// tier fell back to an untracked L1.
	TrackingInvalidations, TrackingFlushes, TrackingFallbacks int64

	// LoadP50 and LoadP99 are quantiles of the latest loader calls'
	// durations (up to 1,024 of them); zero before the first load.
	LoadP50, LoadP99 time.Duration
}

// counters are the live atomics behind Stats.
type counters struct {
	localHits, redisHits, misses, loads, loadErrors, leaseWaits,
	staleServed, refreshes, negativeHits, bloomRejects, corrupt,
	redisErrors, failOpen atomic.Int64
	trackingInvalidations, trackingFlushes, trackingFallbacks atomic.Int64
}

// instruments are the OpenTelemetry side of the counters: observable
// counters read the atomics (so the hot path pays nothing for OTel), and a
// histogram records each load.
type instruments struct {
	loadTime metric.Float64Histogram
	reg      metric.Registration
	attrs    metric.MeasurementOption
}

func newInstruments(mp metric.MeterProvider, prefix string, c *counters) (*instruments, error) {
	m := otelx.Meter(mp, "github.com/aside-go/aside/cache")
	in := &instruments{attrs: metric.WithAttributeSet(attribute.NewSet(attribute.String("aside.cache.prefix", prefix)))}
	var err error
	in.loadTime, err = m.Float64Histogram("aside.cache.load.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of loader calls."))
	if err != nil {
		return nil, err
	}
	list := []otelx.Counter{
		{Name: "aside.cache.hits", Desc: "Values answered from a cache tier.", Attr: attribute.String("aside.cache.tier", "local"), V: &c.localHits},
		{Name: "aside.cache.hits", Attr: attribute.String("aside.cache.tier", "redis"), V: &c.redisHits},
		{Name: "aside.cache.misses", Desc: "Lookups that needed a load.", V: &c.misses},
		{Name: "aside.cache.loads", Desc: "Loader calls.", V: &c.loads},
		{Name: "aside.cache.load_errors", Desc: "Loader calls that failed or panicked.", V: &c.loadErrors},
		{Name: "aside.cache.lease_waits", Desc: "Loads that waited on another process's lease.", V: &c.leaseWaits},
		{Name: "aside.cache.stale_served", Desc: "Stale values served past the soft TTL.", V: &c.staleServed},
		{Name: "aside.cache.refreshes", Desc: "Background refreshes started.", V: &c.refreshes},
		{Name: "aside.cache.negative_hits", Desc: "Not-found answers from negative entries.", V: &c.negativeHits},
		{Name: "aside.cache.bloom_rejects", Desc: "Keys rejected by the bloom filter.", V: &c.bloomRejects},
		{Name: "aside.cache.corrupt", Desc: "Undecodable entries met.", V: &c.corrupt},
		{Name: "aside.cache.redis_errors", Desc: "Failed Redis operations.", V: &c.redisErrors},
		{Name: "aside.cache.failopen", Desc: "Values served from the loader while Redis failed.", V: &c.failOpen},
		{Name: "aside.cache.tracking_invalidations", Desc: "L1 entries dropped because Redis reported their key changed.", V: &c.trackingInvalidations},
		{Name: "aside.cache.tracking_flushes", Desc: "Whole-L1 flushes because a tracking connection was lost or Redis flushed its data.", V: &c.trackingFlushes},
		{Name: "aside.cache.tracking_fallbacks", Desc: "Tracked L1 tiers that fell back to untracked because the server refused tracking.", V: &c.trackingFallbacks},
	}
	in.reg, err = otelx.ObserveCounters(m, attribute.String("aside.cache.prefix", prefix), list)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Stats returns the counts since [New]. It is safe for concurrent use.
func (c *Cache[V]) Stats() Stats {
	q := c.lat.Quantiles(0.5, 0.99)
	k := &c.ctr
	return Stats{
		LocalHits: k.localHits.Load(), RedisHits: k.redisHits.Load(), Misses: k.misses.Load(),
		Loads: k.loads.Load(), LoadErrors: k.loadErrors.Load(), LeaseWaits: k.leaseWaits.Load(),
		StaleServed: k.staleServed.Load(), Refreshes: k.refreshes.Load(),
		NegativeHits: k.negativeHits.Load(), BloomRejects: k.bloomRejects.Load(),
		Corrupt: k.corrupt.Load(), RedisErrors: k.redisErrors.Load(), FailOpen: k.failOpen.Load(),
		TrackingInvalidations: k.trackingInvalidations.Load(), TrackingFlushes: k.trackingFlushes.Load(),
		TrackingFallbacks: k.trackingFallbacks.Load(),
		LoadP50:           q[0], LoadP99: q[1],
	}
}

// LoadLatency returns the q-quantile (0..1) of the latest loader calls'
// durations, or zero before the first load. The consistency package uses
// it to size the delay of a double delete.
func (c *Cache[V]) LoadLatency(q float64) time.Duration { return c.lat.Quantiles(q)[0] }

// observeLoad counts one loader call that took d.
func (c *Cache[V]) observeLoad(ctx context.Context, d time.Duration, failed bool) {
	c.ctr.loads.Add(1)
	if failed {
		c.ctr.loadErrors.Add(1)
	}
	c.lat.Observe(d)
	c.ins.loadTime.Record(ctx, d.Seconds(), c.ins.attrs)
}
