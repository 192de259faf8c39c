package consistency

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/internal/backoff"
	"github.com/aside-go/aside/internal/validate"
	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
)

// Cache is the part of a cache that a [Keeper] drives. *cache.Cache[V]
// satisfies it for every V.
type Cache interface {
	// Prefix returns the prefix of the cache's Redis keys.
	Prefix() string
	// Delete removes keys from Redis and from this process's L1, and makes
	// this process's next Get of them start a new load.
	Delete(ctx context.Context, keys ...string) error
	// InvalidateLocal drops keys from this process's L1 only.
	InvalidateLocal(keys ...string)
	// FlushLocal drops every entry of this process's L1.
	FlushLocal()
	// LoadLatency returns the q-quantile of recent load durations, or 0
	// when none was observed.
	LoadLatency(q float64) time.Duration
}

// versioned is implemented by caches that can say whether their fills are
// versioned (*cache.Cache[V] does: cache.Options.VersionedFills). A Cache
// without the method is trusted in Strong mode.
type versioned interface{ VersionedFills() bool }

var (
	// ErrInvalidOptions is wrapped by the error [New] returns for invalid options.
	ErrInvalidOptions = errors.New("consistency: invalid options")
	// ErrNotVersioned is returned by [New] for [Strong] mode on a cache
	// whose fills are not versioned.
	ErrNotVersioned = errors.New("consistency: strong mode needs a cache with versioned fills")
	// ErrUnavailable is returned by [Keeper.Write], joined with the cause,
	// when the write's intent could not be recorded in Redis. The database
	// change was NOT run.
	ErrUnavailable = errors.New("consistency: cannot record the write intent, database not changed")
	// ErrPending is returned by [Keeper.Write], joined with the cause, when
	// the database change succeeded but its invalidation failed after
	// retries. It is not lost: the write's durable intent invalidates the
	// keys on some live instance within [Options.IntentTimeout] (+ poll).
	ErrPending = errors.New("consistency: database changed, invalidation pending")
	// ErrClosed is returned by [Keeper.Write] after [Keeper.Close].
	ErrClosed = errors.New("consistency: keeper closed")
)

// Keeper keeps one cache consistent with the database it caches. Its writes
// run the database change and then invalidate the affected keys in Redis,
// in this instance's L1 and, over pubsub, in every other instance's L1. It
// runs the durable second deletes of [DoubleDelete] and the intents of
// writers that died, whichever instance wrote them.
//
// A Keeper is safe for concurrent use. It owns one background goroutine
// (the schedule runner) and one pubsub subscription; [Keeper.Close] stops
// them. It never closes the Redis client it was given.
type Keeper struct {
	rdb   redis.UniversalClient
	cache Cache
	opt   Options
	sched *schedule
	id    string // this instance, to skip its own broadcasts

	ps  *pubsub.PubSub
	sub *pubsub.Subscription

	ctx    context.Context // canceled by Close; bounds background work
	cancel context.CancelFunc
	wake   chan struct{}
	mu     sync.Mutex // guards soonest
	// soonest is the earliest due time this instance scheduled since the
	// runner last looked.
	soonest   time.Time
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    atomic.Bool
	c         counters
	metrics   metric.Registration
}

// New returns a Keeper for cache c on rdb, and starts its schedule runner
// and its L1 invalidation subscription (unless [Options.NoBroadcast]).
// Every instance of a service creates one per cache, with the same Shards,
// Namespace and Topic. Call [Keeper.Close] when done.
func New(rdb redis.UniversalClient, c Cache, opt *Options) (*Keeper, error) {
	if validate.Nil(rdb) || validate.Nil(c) {
		return nil, fmt.Errorf("%w: nil client or cache", ErrInvalidOptions)
	}
	o, err := opt.withDefaults(c.Prefix())
	if err != nil {
		return nil, err
	}
	if o.Mode == Strong {
		if v, ok := c.(versioned); ok && !v.VersionedFills() {
			return nil, ErrNotVersioned
		}
	}
	k := &Keeper{
		rdb:   rdb,
		cache: c,
		opt:   o,
		sched: newSchedule(rdb, o.Namespace, c.Prefix(), o.Shards),
		id:    newID(),
		wake:  make(chan struct{}, 1),
	}
	if k.metrics, err = registerMetrics(o.MeterProvider, c.Prefix(), &k.c); err != nil {
		return nil, fmt.Errorf("consistency: metrics: %w", err)
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	if !o.NoBroadcast {
		if err := k.subscribe(); err != nil {
			k.cancel()
			_ = k.metrics.Unregister()
			return nil, err
		}
	}
	k.wg.Add(1)
	go k.run()
	return k, nil
}

// Mode returns the Keeper's mode.
func (k *Keeper) Mode() Mode { return k.opt.Mode }

// Delay returns the delay the next write's second delete would get: zero
// unless the mode is [DoubleDelete].
func (k *Keeper) Delay() time.Duration {
	if k.opt.Mode != DoubleDelete {
		return 0
	}
	if k.opt.Delay > 0 {
		return k.opt.Delay
	}
	d := time.Duration(float64(k.cache.LoadLatency(0.99)) * k.opt.DelayFactor)
	return max(d, k.opt.MinDelay)
}

// Write runs the database change fn and invalidates keys afterwards:
//
//  1. it records an intent to invalidate keys, due after
//     [Options.IntentTimeout], in Redis (if that fails, fn is not run and
//     the error wraps [ErrUnavailable]);
//  2. it runs fn with ctx; if fn fails, Write returns its error as is and
//     the keys are left to the intent (a failed COMMIT may have committed);
//  3. it deletes keys through the cache (Redis, this instance's L1 and
//     in-flight loads: the writing instance reads its own write), then
//     tells every other instance to drop them from its L1, each step
//     retried on error; this runs detached from ctx, bounded by
//     [Options.InvalidateTimeout];
//  4. in [DoubleDelete] mode it schedules the second delete, and it drops
//     the intent.
//
// If step 3 or 4 fails, the error wraps [ErrPending]: the change is made and
// the intent will finish the invalidation on a live instance. Write is safe
// for concurrent use. Keys are the cache's user keys (without prefix).
func (k *Keeper) Write(ctx context.Context, fn func(ctx context.Context) error, keys ...string) error {
	if k.closed.Load() {
		return ErrClosed
	}
	if len(keys) == 0 {
		if fn == nil {
			return nil
		}
		return fn(ctx)
	}
	keys = dedupe(keys)
	groups := k.sched.byShard(newID(), keys)
	delay := k.Delay()
	if err := k.sched.addIntents(ctx, groups, k.opt.IntentTimeout); err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	if fn != nil {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	k.c.writes.Add(1)
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opt.InvalidateTimeout)
	defer cancel()
	if err := k.invalidate(ictx, keys); err != nil {
		k.c.pending.Add(1)
		return errors.Join(ErrPending, err)
	}
	if err := k.retry(ictx, func(ctx context.Context) error { return k.sched.commit(ctx, groups, delay) }); err != nil {
		// The keys are invalidated; the intent stays and serves as a late
		// second delete.
		k.c.pending.Add(1)
		return errors.Join(ErrPending, err)
	}
	if delay > 0 {
		k.c.scheduled.Add(int64(len(keys)))
		k.notify(time.Now().Add(delay))
	}
	return nil
}

// dedupe returns keys without repeats, in first-seen order.
func dedupe(keys []string) []string {
	if len(keys) < 2 {
		return keys
	}
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Invalidate invalidates keys as [Keeper.Write] does after a database change
// made elsewhere (for instance by a trigger or another service): Redis, this
// instance's L1 and every other instance's L1, plus the second delete in
// [DoubleDelete] mode.
func (k *Keeper) Invalidate(ctx context.Context, keys ...string) error {
	return k.Write(ctx, nil, keys...)
}

// invalidate deletes keys through the cache and broadcasts them to the other
// instances, each step retried.
func (k *Keeper) invalidate(ctx context.Context, keys []string) error {
	if err := k.retry(ctx, func(ctx context.Context) error { return k.cache.Delete(ctx, keys...) }); err != nil {
		return err
	}
	k.c.invalidated.Add(int64(len(keys)))
	if k.ps == nil {
		return nil
	}
	return k.retry(ctx, func(ctx context.Context) error { return k.publish(ctx, keys) })
}

// retry runs op until it succeeds, Options.Retries retries are spent or ctx
// ends, with exponential backoff and jitter from 20 ms (internal/backoff).
func (k *Keeper) retry(ctx context.Context, op func(context.Context) error) error {
	wait := backoff.Backoff{Min: 20 * time.Millisecond, Max: 5 * time.Second}
	for i := 0; ; i++ {
		err := op(ctx)
		if err == nil || i >= k.opt.Retries {
			return err
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		k.c.retries.Add(1)
		t := time.NewTimer(wait.Next())
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		}
	}
}

// notify wakes the runner if due is earlier than what it waits for.
func (k *Keeper) notify(due time.Time) {
	k.mu.Lock()
	if k.soonest.IsZero() || due.Before(k.soonest) {
		k.soonest = due
	}
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// Close stops the schedule runner (waiting for a running batch of deletes)
// and the L1 invalidation subscription. Deletes that fall due later are run
// by the other instances. Close is idempotent; it never closes the Redis
// client. Write returns [ErrClosed] after Close.
func (k *Keeper) Close() error {
	var err error
	k.closeOnce.Do(func() {
		k.closed.Store(true)
		k.cancel()
		k.wg.Wait()
		_ = k.metrics.Unregister()
		if k.sub != nil {
			err = k.sub.Close()
		}
		if k.ps != nil {
			err = errors.Join(err, k.ps.Close())
		}
	})
	return err
}

func (k *Keeper) onError(err error) {
	k.c.errors.Add(1)
	if k.opt.OnError != nil {
		k.opt.OnError(err)
	}
}
