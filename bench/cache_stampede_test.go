package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The stampede of issue 3: stampedeProcs instances of a library, each
// with its own *redis.Client (4 "processes"), stampedeCallers callers in
// each, all asking for the same cold key at once; the loader takes
// stampedeLoad. One iteration = one fresh key. Reported:
//
//	loads/op  loader calls per cold key (goal for aside: 1)
//	p50-ms    median latency of the 256 callers (all iterations pooled)
//	p99-ms    99th percentile (goal for aside: <= 1.2 x 50 ms = 60 ms)
const (
	stampedeProcs   = 4
	stampedeCallers = 64
	stampedeLoad    = 50 * time.Millisecond
)

// stampedeLoader is the slow "database" read every instance shares.
func stampedeLoader(loads *atomic.Int64) func(context.Context) (cacheVal, error) {
	return func(ctx context.Context) (cacheVal, error) {
		loads.Add(1)
		t := time.NewTimer(stampedeLoad)
		defer t.Stop()
		select {
		case <-t.C:
			return cacheValue, nil
		case <-ctx.Done():
			return cacheVal{}, ctx.Err()
		}
	}
}

// stampedeGetter is one instance's cache-aside call.
type stampedeGetter func(ctx context.Context, key string) (cacheVal, error)

// runStampede builds stampedeProcs instances with newProc (each given a
// new client and the shared loader) and runs b.N stampedes.
func runStampede(b *testing.B, newProc func(b *testing.B, rdb *redis.Client, load func(context.Context) (cacheVal, error)) stampedeGetter) {
	b.Helper()
	var loads atomic.Int64
	load := stampedeLoader(&loads)
	gets := make([]stampedeGetter, stampedeProcs)
	for i := range gets {
		gets[i] = newProc(b, client(b), load)
	}
	pfx := prefix(b)
	n := stampedeProcs * stampedeCallers
	var lat []time.Duration
	// One untimed stampede first, on its own key: it dials the clients'
	// pools and loads scripts, as in a service that has been up a while.
	// (Without it the first cold key of a run also measures connection
	// set-up, which differs by library: aside opens many connections,
	// see README.)
	for it := -1; it < b.N; it++ {
		if it == 0 {
			loads.Store(0)
			lat = lat[:0]
			b.ResetTimer()
		}
		key := fmt.Sprintf("%s:cold%d", pfx, it)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		iterLat := make([]time.Duration, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for c := range n {
			get := gets[c%stampedeProcs]
			wg.Go(func() {
				<-start
				t0 := time.Now()
				v, err := get(ctx, key)
				iterLat[c] = time.Since(t0)
				if err == nil && (v.ID != cacheValue.ID || len(v.Bio) != len(cacheValue.Bio)) {
					err = fmt.Errorf("wrong value %d", v.ID)
				}
				errs[c] = err
			})
		}
		close(start)
		wg.Wait()
		cancel()
		for c, err := range errs {
			if err != nil {
				b.Fatalf("iteration %d caller %d: %v", it, c, err)
			}
		}
		lat = append(lat, iterLat...)
	}
	b.StopTimer()
	b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
	b.ReportMetric(durMs(durPercentile(lat, 50)), "p50-ms")
	b.ReportMetric(durMs(durPercentile(lat, 99)), "p99-ms")
}

// BenchmarkCacheStampede_GoRedisCache: go-redis/cache Once, singleflight
// per process only.
func BenchmarkCacheStampede_GoRedisCache(b *testing.B) {
	runStampede(b, func(b *testing.B, rdb *redis.Client, load func(context.Context) (cacheVal, error)) stampedeGetter {
		var loads atomic.Int64 // the shared loader counts; this one is unused
		return goRedisCacheGet(newGoRedisCache(rdb, false), &loads, load)
	})
}

// BenchmarkCacheStampede_GoZero: go-zero TakeCtx, singleflight per
// process only.
func BenchmarkCacheStampede_GoZero(b *testing.B) {
	runStampede(b, func(b *testing.B, _ *redis.Client, load func(context.Context) (cacheVal, error)) stampedeGetter {
		var loads atomic.Int64
		return goZeroGet(newGoZeroCache(b), &loads, load)
	})
}

// BenchmarkCacheStampede_Jetcache: jetcache-go Once (remote only),
// singleflight per process only.
func BenchmarkCacheStampede_Jetcache(b *testing.B) {
	runStampede(b, func(b *testing.B, rdb *redis.Client, load func(context.Context) (cacheVal, error)) stampedeGetter {
		c := newJetcache(rdb, nil)
		b.Cleanup(c.Close)
		var loads atomic.Int64
		return jetcacheGet(c, &loads, load)
	})
}

// BenchmarkCacheStampede_Rockscache: rockscache Fetch2, a lock in Redis
// that the other processes poll every LockSleep (100 ms by default).
func BenchmarkCacheStampede_Rockscache(b *testing.B) {
	runStampede(b, func(b *testing.B, rdb *redis.Client, load func(context.Context) (cacheVal, error)) stampedeGetter {
		var loads atomic.Int64
		return rockscacheGet(newRockscache(rdb), &loads, load)
	})
}
