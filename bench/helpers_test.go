package bench

import (
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// durPercentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method; ds is sorted in place. It returns 0 for no samples.
func durPercentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(float64(len(ds))*p/100+0.999999) - 1 // ceil(n*p/100) - 1
	rank = max(0, min(rank, len(ds)-1))
	return ds[rank]
}

// durMs converts d to float milliseconds for b.ReportMetric(v, "p99-ms").
func durMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// poolClient returns a client of the shared standalone server, as
// [client] does, but with a pool of size connections (go-redis's default
// is 10 per GOMAXPROCS), closed at tb's cleanup. A library that keeps one
// connection per blocking reader, or many goroutines sharing the client,
// needs a pool larger than its goroutines, or it measures waits for a
// connection.
func poolClient(tb testing.TB, size int) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  client(tb).Options().Addr,
		ContextTimeoutEnabled: true,
		PoolSize:              size,
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
