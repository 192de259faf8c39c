package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aside-go/aside/cache"
)

func init() {
	register(scenario{order: 10, name: "cache", title: "cache-aside that survives stampedes, lookups of missing keys and mass expiry", run: demoCache})
}

type cacheDemoUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// cacheDemoDB is a pretend database that counts its queries.
type cacheDemoDB struct {
	queries atomic.Int64
	delay   time.Duration
	mu      sync.Mutex // guards rows
	rows    map[string]string
}

func (d *cacheDemoDB) load(ctx context.Context, id string) (cacheDemoUser, error) {
	d.queries.Add(1)
	if d.delay > 0 {
		select {
		case <-time.After(d.delay):
		case <-ctx.Done():
			return cacheDemoUser{}, ctx.Err()
		}
	}
	d.mu.Lock()
	name, ok := d.rows[id]
	d.mu.Unlock()
	if !ok {
		return cacheDemoUser{}, cache.ErrNotFound
	}
	return cacheDemoUser{ID: id, Name: name}, nil
}

func demoCache(ctx context.Context, env *demoEnv) error {
	// Metrics: the cache's own OTel counters and redisotel on the shared
	// client, both read here through an in-memory reader.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.WithoutCancel(ctx)) }()
	otelOK := redisotel.InstrumentMetrics(env.rdb, redisotel.WithMeterProvider(mp)) == nil

	db := &cacheDemoDB{delay: 50 * time.Millisecond, rows: map[string]string{}}
	for i := range 1000 {
		db.rows[fmt.Sprint("user-", i)] = fmt.Sprint("Name ", i)
	}
	prefix := env.prefix + ":users"
	newCache := func(o cache.Options[cacheDemoUser]) (*cache.Cache[cacheDemoUser], error) {
		o.Prefix = prefix
		o.MeterProvider = mp
		if o.Loader == nil {
			o.Loader = cache.LoaderFunc[cacheDemoUser](db.load)
		}
		return cache.New(env.rdb, &o)
	}

	// 1. Stampede on a cold key, two instances ("processes").
	a, err := newCache(cache.Options[cacheDemoUser]{})
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := newCache(cache.Options[cacheDemoUser]{})
	if err != nil {
		return err
	}
	defer b.Close()
	var wg sync.WaitGroup
	var got atomic.Int64
	start := time.Now()
	for _, c := range []*cache.Cache[cacheDemoUser]{a, b} {
		for range 100 {
			wg.Go(func() {
				if u, err := c.Get(ctx, "user-1"); err == nil && u.Name == "Name 1" {
					got.Add(1)
				}
			})
		}
	}
	wg.Wait()
	env.say("Stampede: 200 requests in 2 instances hit one cold key at once (the database takes 50 ms).")
	env.say("  %d got the value in %v; the database was queried %d time(s): one load in-process (singleflight),",
		got.Load(), time.Since(start).Round(time.Millisecond), db.queries.Load())
	env.say("  one across instances (a lease in Redis; the other instance waited to be woken, lease waits: %d).",
		a.Stats().LeaseWaits+b.Stats().LeaseWaits)
	if got.Load() != 200 {
		return fmt.Errorf("stampede: %d of 200 callers got the value", got.Load())
	}
	t0 := time.Now()
	for range 100 {
		if _, err := b.Get(ctx, "user-1"); err != nil {
			return err
		}
	}
	env.say("  The next 100 reads are plain GETs: %v each on average, Redis hits: %d.",
		(time.Since(t0) / 100).Round(time.Microsecond), b.Stats().RedisHits)

	// 2. Penetration: lookups of ids that do not exist.
	db.delay = 0
	db.queries.Store(0)
	for i := range 1000 {
		_, _ = a.Get(ctx, fmt.Sprint("ghost-", i%100))
	}
	env.say("Missing keys: 1,000 lookups of 100 ids that do not exist queried the database %d times:", db.queries.Load())
	env.say("  each \"not found\" is cached as a short-lived negative entry (negative hits: %d).", a.Stats().NegativeHits)

	bl, err := newCache(cache.Options[cacheDemoUser]{Bloom: &cache.BloomOptions{Expected: 2000, FalsePositive: 0.01, Shared: true,
		Source: func(_ context.Context, add func(string)) error {
			for i := range 1000 {
				add(fmt.Sprint("user-", i))
			}
			return nil
		}}})
	if err != nil {
		return err
	}
	defer bl.Close()
	if err := bl.RebuildBloom(ctx); err != nil {
		return err
	}
	db.queries.Store(0)
	for i := range 1000 {
		_, _ = bl.Get(ctx, fmt.Sprint("never-", i))
	}
	env.say("Bloom filter (shared in Redis, built from the 1,000 real ids): 1,000 lookups of other ids")
	env.say("  -> %d rejected after the Redis miss, %d database queries, no negative entries written.",
		bl.Stats().BloomRejects, db.queries.Load())

	// 3. Stale-while-revalidate.
	refreshed := make(chan struct{}, 1)
	sw, err := newCache(cache.Options[cacheDemoUser]{SoftTTL: time.Second,
		Loader: cache.LoaderFunc[cacheDemoUser](func(ctx context.Context, id string) (cacheDemoUser, error) {
			u, err := db.load(ctx, id)
			select {
			case refreshed <- struct{}{}:
			default:
			}
			return u, err
		})})
	if err != nil {
		return err
	}
	defer sw.Close()
	if _, err := sw.Get(ctx, "user-7"); err != nil {
		return err
	}
	<-refreshed
	db.mu.Lock()
	db.rows["user-7"] = "Renamed 7"
	db.mu.Unlock()
	time.Sleep(1100 * time.Millisecond) // let the value pass its soft TTL
	db.queries.Store(0)
	db.delay = 100 * time.Millisecond // a slow query: readers must not wait for it
	stale := 0
	t0 = time.Now()
	for range 20 {
		if u, err := sw.Get(ctx, "user-7"); err == nil && u.Name == "Name 7" {
			stale++
		}
	}
	fast := time.Since(t0)
	select {
	case <-refreshed:
	case <-time.After(5 * time.Second):
		return errors.New("stale-while-revalidate: no refresh")
	}
	var fresh cacheDemoUser
	for i := 0; i < 200 && fresh.Name != "Renamed 7"; i++ { // the refresh's write lands just after the load
		fresh, _ = sw.Get(ctx, "user-7")
		time.Sleep(5 * time.Millisecond)
	}
	env.say("Stale-while-revalidate: past the soft TTL, 20 reads took %v in all (the database query takes 100 ms):",
		fast.Round(time.Millisecond))
	env.say("  %d got the old value at once while %d background refresh ran (not 20); then reads return %q.",
		stale, db.queries.Load(), fresh.Name)

	// 4. Avalanche: jittered TTLs.
	for i := range 100 {
		if err := a.Set(ctx, fmt.Sprint("user-", i), cacheDemoUser{ID: fmt.Sprint(i)}); err != nil {
			return err
		}
	}
	var ttls []time.Duration
	for i := range 100 {
		d, err := env.rdb.PTTL(ctx, a.Key(fmt.Sprint("user-", i))).Result()
		if err == nil {
			ttls = append(ttls, d)
		}
	}
	if len(ttls) > 0 {
		slices.Sort(ttls)
		env.say("Mass expiry: 100 keys written together with TTL 1h expire between %v and %v (10%% jitter),",
			ttls[0].Round(time.Second), ttls[len(ttls)-1].Round(time.Second))
		env.say("  so they are not all reloaded in the same second.")
	}

	// 5. Corrupt bytes.
	if err := env.rdb.Set(ctx, a.Key("user-3"), "\x00garbage", time.Minute).Err(); err != nil {
		return err
	}
	if u, err := a.Get(ctx, "user-3"); err != nil || u.Name != "Name 3" {
		return fmt.Errorf("corrupt entry: got %+v, %v", u, err)
	}
	env.say("Corrupt bytes under a key are a miss: reloaded and overwritten (corrupt entries: %d), never a panic.", a.Stats().Corrupt)

	// 6. Metrics.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	sums := map[string]int64{}
	var redisCalls uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sums[m.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				if m.Name == "db.client.connections.use_time" {
					for _, p := range d.DataPoints {
						redisCalls += p.Count
					}
				}
			}
		}
	}
	env.say("OpenTelemetry (read in-process): aside.cache.hits=%d misses=%d loads=%d lease.waits=%d",
		sums["aside.cache.hits"], sums["aside.cache.misses"], sums["aside.cache.loads"], sums["aside.cache.lease_waits"])
	env.say("  negative.hits=%d bloom.rejects=%d stale.served=%d corrupt=%d",
		sums["aside.cache.negative_hits"], sums["aside.cache.bloom_rejects"], sums["aside.cache.stale_served"], sums["aside.cache.corrupt"])
	if otelOK {
		env.say("  and redisotel on the shared client timed %d Redis calls (db.client.connections.use_time).", redisCalls)
	}
	return nil
}
