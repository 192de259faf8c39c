package bench

import (
	"context"
	"slices"
	"sync/atomic"
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

// rttCounter is a go-redis hook counting round trips to Redis: one per
// command sent alone (a blocking command counts one, however long it
// blocks) and one per pipeline or MULTI/EXEC transaction, however many
// commands it carries. Add it with rdb.AddHook before anything uses the
// client. It is safe for concurrent use.
type rttCounter struct{ n atomic.Int64 }

// load returns the round trips counted so far.
func (c *rttCounter) load() int64 { return c.n.Load() }

func (c *rttCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *rttCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *rttCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}
