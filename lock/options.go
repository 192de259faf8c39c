package lock

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/validate"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/aside-go/aside/internal/keys"
)

// RedisClient is the part of a go-redis client that a [Client] uses: Lua
// scripts and BLPOP. [redis.UniversalClient] (a *redis.Client, a
// *redis.ClusterClient or a Sentinel failover client) satisfies it.
type RedisClient interface {
	redis.Scripter
	BLPop(ctx context.Context, timeout time.Duration, keys ...string) *redis.StringSliceCmd
}

// Options configures a [Client]. The zero value is valid.
type Options struct {
	// Prefix is put before every lock and semaphore name: the lock "job"
	// lives in the Redis keys "{Prefix|job}", "{Prefix|job}:fence" and
	// "{Prefix|job}:wake", which share one Cluster hash slot. It must not
	// contain '{', '}' or '|'. If empty, "aside:lock".
	Prefix string

	// MaxBlocking is the most Redis connections the Client keeps blocked
	// in BLPOP at once, waiting for wake-ups: one for each key that some
	// of its callers wait on (the callers waiting on one key share it).
	// Each is taken from rdb's pool, so keep it well below the pool size
	// (per node, on a Cluster). Callers waiting on keys beyond it retry
	// with a jittered backoff (10 ms doubling to 1 s) until a slot frees
	// up. If zero, a quarter of rdb's PoolSize when rdb is a *redis.Client
	// or *redis.ClusterClient (at least 1), else 4.
	MaxBlocking int

	// FenceTTL is how long a lock's fence counter is kept after the lock
	// was last obtained, so lock names built from request input do not
	// leave one key per name forever. A counter that expired, or was lost
	// with a Redis restart, starts again from the server clock in
	// microseconds, above every fence handed out before, so fences keep
	// growing either way (as long as the Redis server's clock does not go
	// back). If zero, 7 days; if negative, counters never expire.
	FenceTTL time.Duration

	// WaitReplicas, when above zero, makes every obtain wait (Redis WAIT,
	// on the connection that took the lock) until that many replicas have
	// the hold and its fence: Redis replicates asynchronously, so without
	// it a failover right after an obtain can hand the lock to a second
	// holder. An obtain that fewer replicas acknowledge within WaitTimeout
	// is released and counts as a failed attempt (ErrUnavailable once they
	// keep failing for OpTimeout). rdb must then be a *redis.Client or
	// *redis.ClusterClient. If zero, no wait.
	WaitReplicas int

	// WaitTimeout bounds the wait for WaitReplicas; it must be below the
	// client's ReadTimeout. If zero, 500 ms.
	WaitTimeout time.Duration

	// OpTimeout bounds each attempt to obtain (one script call). An
	// obtaining call retries failed attempts with backoff, and returns
	// [ErrUnavailable] once Redis has given no answer for OpTimeout, over
	// two attempts at least. For the
	// bound to cut a read that hangs, rdb needs ContextTimeoutEnabled
	// (go-redis otherwise waits for its ReadTimeout). If zero, 1 second.
	OpTimeout time.Duration

	// MeterProvider receives the Client's OpenTelemetry counters
	// (aside.lock.*). If nil, the global provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
}

// Option tweaks one call of [Client.Obtain], [Client.TryObtain],
// [Client.Do], [Semaphore.Acquire] or [Semaphore.TryAcquire].
type Option func(*callOptions)

type callOptions struct {
	watchdog    bool
	watchdogSet bool
	noWait      bool
}

// WithWatchdog turns automatic renewal on or off for one lock. With it on,
// a background goroutine renews the lease every TTL/3 until
// [Lock.Release], and cancels [Lock.Context] as soon as a renewal finds the
// lock gone or none could be confirmed before the lease would end. It is
// off by default for Obtain, TryObtain, Acquire and TryAcquire (the lease
// then simply ends after its TTL, and Context is canceled then), and on by
// default for Do.
func WithWatchdog(on bool) Option {
	return func(o *callOptions) { o.watchdog, o.watchdogSet = on, true }
}

// NoWait makes [Client.Do] try the lock once and return [ErrNotObtained]
// at once if it is held, instead of waiting for it. It has no effect on
// the other calls.
func NoWait() Option {
	return func(o *callOptions) { o.noWait = true }
}

func applyOptions(watchdogDefault bool, opts []Option) callOptions {
	o := callOptions{watchdog: watchdogDefault}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// Client obtains locks and semaphore permits on one Redis deployment
// (standalone, Sentinel or Cluster). It is safe for concurrent use. Make
// one per process with [New] and share it: goroutines of one Client that
// wait for the same key share one blocked Redis connection. The zero
// value is not usable.
type Client struct {
	rdb        RedisClient
	prefix     string
	hub        *lease.Hub // wake-one waiting, one watcher per key waited on
	opTimeout  time.Duration
	durable    redis.UniversalClient // set when WaitReplicas > 0
	replicas   int
	waitFor    time.Duration
	fenceTTLms int64 // 0: never expires

	wg     sync.WaitGroup // background clean-ups (abandon)
	mu     sync.Mutex     // guards closed and wg.Add
	closed bool

	stats   counters
	metrics metric.Registration
}

// background runs f on a context of its own (bounded by
// lease.PassOnTimeout), tracked by Close; after Close it runs before
// background returns.
func (c *Client) background(f func(ctx context.Context)) {
	run := func() {
		ctx, cancel := context.WithTimeout(context.Background(), lease.PassOnTimeout)
		defer cancel()
		f(ctx)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		run()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		run()
	}()
}

// New returns a Client that uses rdb, which it never closes. A nil opt
// means the defaults.
func New(rdb RedisClient, opt *Options) (*Client, error) {
	if validate.Nil(rdb) {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidOptions)
	}
	var o Options
	if opt != nil {
		o = *opt
	}
	if o.Prefix == "" {
		o.Prefix = "aside:lock"
	}
	if keys.CheckPrefix(o.Prefix) != nil {
		return nil, fmt.Errorf("%w: Prefix %q contains '{', '}' or '|'", ErrInvalidOptions, o.Prefix)
	}
	if o.MaxBlocking < 0 {
		return nil, fmt.Errorf("%w: MaxBlocking %d is negative", ErrInvalidOptions, o.MaxBlocking)
	}
	if o.MaxBlocking == 0 {
		o.MaxBlocking = defaultMaxBlocking(rdb)
	}
	if o.OpTimeout < 0 {
		return nil, fmt.Errorf("%w: OpTimeout %v is negative", ErrInvalidOptions, o.OpTimeout)
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = time.Second
	}
	switch {
	case o.FenceTTL == 0:
		o.FenceTTL = 7 * 24 * time.Hour
	case o.FenceTTL > 0 && o.FenceTTL < time.Minute:
		return nil, fmt.Errorf("%w: FenceTTL %v is below 1 minute", ErrInvalidOptions, o.FenceTTL)
	}
	c := &Client{rdb: rdb, prefix: o.Prefix, opTimeout: o.OpTimeout}
	if o.WaitReplicas < 0 {
		return nil, fmt.Errorf("%w: WaitReplicas %d is negative", ErrInvalidOptions, o.WaitReplicas)
	}
	if o.WaitReplicas > 0 {
		u, ok := rdb.(redis.UniversalClient)
		if !ok {
			return nil, fmt.Errorf("%w: WaitReplicas %d needs a *redis.Client or *redis.ClusterClient, not %T", ErrInvalidOptions, o.WaitReplicas, rdb)
		}
		c.durable, c.replicas, c.waitFor = u, o.WaitReplicas, o.WaitTimeout
		if c.waitFor == 0 {
			c.waitFor = 500 * time.Millisecond
		}
	}
	if o.FenceTTL > 0 {
		c.fenceTTLms = o.FenceTTL.Milliseconds()
	}
	c.hub = lease.NewHub(rdb, o.MaxBlocking, func(err error) {
		if err == nil {
			c.stats.passedOn.Add(1)
		}
	})
	var err error
	if c.metrics, err = registerMetrics(o.MeterProvider, o.Prefix, &c.stats); err != nil {
		return nil, fmt.Errorf("lock: metrics: %w", err)
	}
	return c, nil
}

func defaultMaxBlocking(rdb RedisClient) int {
	pool := 0
	switch c := rdb.(type) {
	case interface{ Options() *redis.Options }:
		pool = c.Options().PoolSize
	case interface{ Options() *redis.ClusterOptions }:
		pool = c.Options().PoolSize
	default:
		return 4
	}
	return max(1, pool/4)
}

// Close unregisters the Client's metrics, stops the goroutines that wait for wake-ups on behalf of blocked
// [Client.Obtain] and [Semaphore.Acquire] calls and waits for them (at most
// about one second, the BLPOP timeout). Calls still waiting then retry only
// when the holder's lease would end; close a Client after its callers have
// returned. Close does not release held locks (release them first) and
// does not close the Redis client. It is idempotent and returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.metrics.Unregister()
	c.hub.Close()
	c.wg.Wait()
	return nil
}

// maxTTL is the longest lease a lock or permit may be taken for: a longer
// one is a mistake (a unit error, a lease that should be renewed).
const maxTTL = 24 * time.Hour

func checkTTL(ttl time.Duration) error {
	switch {
	case ttl < time.Millisecond:
		return fmt.Errorf("lock: ttl %v is below 1ms", ttl)
	case ttl > maxTTL:
		return fmt.Errorf("lock: ttl %v is above %v: take a shorter lease and renew it (WithWatchdog)", ttl, maxTTL)
	}
	return nil
}
