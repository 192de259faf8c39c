package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/internal/validate"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/quantile"
	"github.com/aside-go/aside/internal/script"
)

// ErrUnavailable is returned under [FailClosed] when Redis fails, joined
// with the cause.
var ErrUnavailable = errors.New("cache: redis unavailable")

// ErrClosed is returned by reads that need a load after [Cache.Close].
var ErrClosed = errors.New("cache: closed")

// Cache is a cache-aside over Redis for values of type V. It is safe for
// concurrent use. The zero Cache is not usable: create it with [New]; call [Cache.Close] when done to
// wait for background refreshes (Close never closes the Redis client).
type Cache[V any] struct {
	rdb     redis.UniversalClient
	opt     Options[V]
	codec   Codec[V]
	dec     entryDecoder[V] // decodes with codec
	cluster bool

	downUntil atomic.Int64 // monoNow until which Redis is left alone after a failure
	local     *local[V]    // nil without an L1 tier
	tracker   *tracker     // nil without LocalOptions.Tracking
	bloom     *bloomGuard  // nil without a bloom guard
	sem       *semaphore.Weighted
	sf        singleflight.Group // loads
	reads     *readTable[V]      // Redis reads of Get
	ctr       counters
	lat       quantile.Window
	ins       *instruments

	// epoch is bumped by every local invalidation (Set, Delete,
	// InvalidateLocal, FlushLocal); a load stores into L1 only if no
	// invalidation happened since it started.
	epoch atomic.Uint64

	base context.Context // canceled at the end of Close; parent of refreshes
	stop context.CancelFunc

	mu         sync.Mutex // guards closed, refreshing and wg.Add
	closed     bool
	refreshing map[string]struct{} // keys with a background refresh running
	wg         sync.WaitGroup      // loads and refreshes in flight
}

// New returns a cache over rdb. It validates and copies opt (nil means all
// defaults) and does no I/O.
func New[V any](rdb redis.UniversalClient, opt *Options[V]) (*Cache[V], error) {
	if validate.Nil(rdb) {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOptions)
	}
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache[V]{rdb: rdb, opt: o, codec: o.Codec, refreshing: map[string]struct{}{},
		reads: newReadTable[V](),
		sem:   semaphore.NewWeighted(int64(o.MaxFailOpenLoads))}
	c.dec = newEntryDecoder(o.Codec)
	_, c.cluster = rdb.(*redis.ClusterClient)
	if o.Local != nil {
		c.local = newLocal[V](o.Local.Size, o.Local.TTL, o.Jitter)
	}
	if o.Bloom != nil {
		c.bloom = newBloomGuard(rdb, o.Prefix, *o.Bloom)
	}
	c.ins, err = newInstruments(o.MeterProvider, o.Prefix, &c.ctr)
	if err != nil {
		return nil, fmt.Errorf("cache: metrics: %w", err)
	}
	c.base, c.stop = context.WithCancel(context.Background())
	if o.Local != nil && o.Local.Tracking {
		c.tracker = startTracking(c)
	}
	return c, nil
}

// report passes an error of background work to Options.OnError.
func (c *Cache[V]) report(err error) {
	if c.opt.OnError != nil {
		c.opt.OnError(err)
	}
}

// Prefix returns the key prefix: user key k lives in Redis under
// "{prefix|k}".
func (c *Cache[V]) Prefix() string { return c.opt.Prefix }

// Key returns the Redis key that holds the value of user key k.
func (c *Cache[V]) Key(k string) string { return keys.Base(c.opt.Prefix, k) }

// VersionedFills reports whether the cache was built with
// [Options.VersionedFills], so that a caller relying on fills being voided
// by Delete (the consistency package's strong mode) can refuse a cache
// without them.
func (c *Cache[V]) VersionedFills() bool { return c.opt.VersionedFills }

// Get returns the value of key: from the L1 tier, from Redis, or from
// [Options.Loader] (stored for later reads). It returns [ErrNotFound] for a
// missing key. ctx bounds this caller's wait only; the load itself runs
// detached and is shared by every caller of the key. Concurrent Gets of one
// key in this process share one Redis read too, and so may share the
// returned value: do not mutate it. A caller whose ctx ends does not fail
// the others (they read again), and after a Set, Delete or InvalidateLocal
// of key the next Get starts a new read.
func (c *Cache[V]) Get(ctx context.Context, key string) (V, error) {
	return c.get(ctx, key, c.opt.Loader)
}

// GetWith is [Cache.Get] with a per-call loader, for caches that serve
// several queries. Concurrent calls for one key share one load, whichever
// loader they pass.
func (c *Cache[V]) GetWith(ctx context.Context, key string, l Loader[V]) (V, error) {
	return c.get(ctx, key, l)
}

func (c *Cache[V]) get(ctx context.Context, key string, l Loader[V]) (V, error) {
	var zero V
	if c.local != nil {
		if e, ok := c.local.get(key); ok {
			if e.neg {
				c.ctr.negativeHits.Add(1)
				return zero, ErrNotFound
			}
			c.ctr.localHits.Add(1)
			return e.val, nil
		}
	}
	if c.bloom != nil && !c.bloom.opt.Shared && !c.bloom.test(ctx, key, &c.ctr) {
		c.ctr.bloomRejects.Add(1)
		return zero, ErrNotFound
	}
	for {
		id, f := c.reads.begin(key)
		if id != 0 {
			return c.lead(ctx, key, l, id)
		}
		// Another Get of key is reading: share its outcome.
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-f.done:
		}
		if f.pe != nil {
			panic(f.pe)
		}
		if !f.retry {
			if f.stat != nil {
				f.stat.Add(1)
			}
			return f.v, f.err
		}
		if err := ctx.Err(); err != nil {
			return zero, err
		}
	}
}

// lead does the read of key that concurrent Gets of key share, and hands
// them its outcome (see readTable).
func (c *Cache[V]) lead(ctx context.Context, key string, l Loader[V], id uint64) (v V, err error) {
	o := readOutcome[V]{own: true} // own also if read panics: the joined readers read again
	defer func() {
		if f := c.reads.finish(key, id); f != nil {
			f.v, f.err, f.pe, f.retry, f.stat = o.v, o.err, o.pe, o.own, o.stat
			close(f.done)
		}
	}()
	o = c.read(ctx, key, l)
	if o.pe != nil {
		panic(o.pe)
	}
	return o.v, o.err
}

// readOutcome is what one read of Get gives its leader and joined readers.
type readOutcome[V any] struct {
	v    V
	err  error
	pe   *PanicError
	own  bool          // not to be shared: it came from this caller's context
	stat *atomic.Int64 // the counter a joined reader bumps, as the leader did
}

// read gets key from Redis, or loads it.
func (c *Cache[V]) read(ctx context.Context, key string, l Loader[V]) readOutcome[V] {
	var epoch uint64
	if c.local != nil {
		epoch = c.epoch.Load()
	}
	if c.redisDown() {
		return c.withoutRedis(ctx, key, l)
	}
	octx, cancel := c.opCtx(ctx)
	s, err := c.rdb.Get(octx, keys.Base(c.opt.Prefix, key)).Result()
	cancel()
	var bad string // corrupt bytes to overwrite
	switch {
	case err == nil:
		e, v, derr := c.dec.decode(s)
		if derr != nil {
			c.ctr.corrupt.Add(1)
			bad = s
			break
		}
		v, stat, err := c.served(key, s, e, v, l, epoch)
		return readOutcome[V]{v: v, err: err, stat: stat}
	case errors.Is(err, redis.Nil):
	case ctx.Err() != nil:
		return readOutcome[V]{err: ctx.Err(), own: true}
	default:
		c.redisFailed()
		if c.opt.FailPolicy == FailClosed {
			// The caller's own deadline may have cut the round trip:
			// then the error is not the others'.
			return readOutcome[V]{err: errors.Join(ErrUnavailable, err), own: c.callerBound(ctx), stat: &c.ctr.redisErrors}
		}
		// Fail open through the shared load: it joins a load in flight,
		// and loads without Redis if the lease round trip fails too.
		return c.loadShare(ctx, key, l, "", &c.ctr.redisErrors)
	}
	if c.bloom != nil && c.bloom.opt.Shared && !c.bloom.test(ctx, key, &c.ctr) {
		// The shared filter is asked only on a miss, so hits stay one GET.
		if ctx.Err() != nil {
			return readOutcome[V]{err: ctx.Err(), own: true}
		}
		c.ctr.bloomRejects.Add(1)
		return readOutcome[V]{err: ErrNotFound, stat: &c.ctr.bloomRejects}
	}
	c.ctr.misses.Add(1)
	return c.loadShare(ctx, key, l, bad, &c.ctr.misses)
}

// errBackingOff is the cause of a Redis failure reported without asking
// Redis, within [Options.Backoff] of the last one.
var errBackingOff = errors.New("cache: redis failed recently; left alone until the backoff ends")

// redisDown reports whether Redis failed within the last Backoff.
func (c *Cache[V]) redisDown() bool {
	until := c.downUntil.Load()
	return until != 0 && monoNow() < until
}

// redisFailed counts a Redis failure (not one caused by the caller's
// context) and leaves Redis alone for Backoff.
func (c *Cache[V]) redisFailed() {
	c.ctr.redisErrors.Add(1)
	if c.opt.Backoff > 0 {
		c.downUntil.Store(monoNow() + int64(c.opt.Backoff))
	}
}

// withoutRedis answers a read while Redis is left alone: ErrUnavailable
// under FailClosed, else a load without Redis (bounded by
// MaxFailOpenLoads).
func (c *Cache[V]) withoutRedis(ctx context.Context, key string, l Loader[V]) readOutcome[V] {
	if c.opt.FailPolicy == FailClosed {
		return readOutcome[V]{err: errors.Join(ErrUnavailable, errBackingOff), stat: &c.ctr.redisErrors}
	}
	if l == nil {
		return readOutcome[V]{err: ErrNoLoader, own: true}
	}
	r, err := c.loadDirect(ctx, key, l)
	switch {
	case err != nil:
		return readOutcome[V]{err: err, own: true}
	case r.panic != nil:
		return readOutcome[V]{pe: r.panic, own: true}
	case r.neg:
		return readOutcome[V]{err: ErrNotFound, own: true}
	}
	return readOutcome[V]{v: r.v, own: true}
}

// loadShare is load for read: it returns a loader panic instead of
// re-panicking.
func (c *Cache[V]) loadShare(ctx context.Context, key string, l Loader[V], bad string, stat *atomic.Int64) readOutcome[V] {
	r, err := c.loadWait(ctx, key, l, bad)
	switch {
	case err != nil:
		return readOutcome[V]{err: err, own: ctx.Err() != nil, stat: stat}
	case r.panic != nil:
		return readOutcome[V]{pe: r.panic, stat: stat}
	case r.neg:
		return readOutcome[V]{err: ErrNotFound, stat: stat}
	}
	return readOutcome[V]{v: r.v, stat: stat}
}

// callerBound reports whether ctx's deadline is sooner than OpTimeout from
// now, so that it, not OpTimeout, may have bounded a round trip.
func (c *Cache[V]) callerBound(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && (c.opt.OpTimeout < 0 || dl.Before(time.Now().Add(c.opt.OpTimeout)))
}

// served turns a decoded Redis entry into Get's answer, serving stale
// values and starting refreshes as the soft TTL says.
//
// epoch is c.epoch before the read: L1 keeps the entry only if no
// invalidation happened since.
//
// It returns the counter it bumped.
func (c *Cache[V]) served(key, raw string, e envelope, v V, l Loader[V], epoch uint64) (V, *atomic.Int64, error) {
	if e.neg {
		c.ctr.negativeHits.Add(1)
		if c.local != nil && c.epoch.Load() == epoch {
			c.local.set(key, v, true, c.opt.NegativeTTL)
		}
		return v, &c.ctr.negativeHits, ErrNotFound
	}
	if e.softMs > 0 {
		left := time.Duration(e.softMs-time.Now().UnixMilli()) * time.Millisecond
		if left <= 0 {
			c.ctr.staleServed.Add(1)
			c.refresh(key, raw, l)
			return v, &c.ctr.staleServed, nil
		}
		if left < c.opt.RefreshAhead {
			c.refresh(key, raw, l)
		}
		if c.local != nil && c.epoch.Load() == epoch {
			c.local.set(key, v, false, left)
		}
	} else if c.local != nil && c.epoch.Load() == epoch {
		c.local.set(key, v, false, c.opt.TTL)
	}
	c.ctr.redisHits.Add(1)
	return v, &c.ctr.redisHits, nil
}

// SetOption tweaks one [Cache.Set].
type SetOption func(*setOptions)

type setOptions struct{ ttl time.Duration }

// WithTTL sets the TTL of one Set instead of [Options.TTL] (jittered like
// every TTL). The soft TTL stays [Options.SoftTTL], capped at d.
func WithTTL(d time.Duration) SetOption { return func(o *setOptions) { o.ttl = d } }

// Set stores v under key in Redis and in this process's L1 tier, adds key
// to the bloom filter, and makes the next Get of this process see v (an
// in-flight load of key is forgotten). With [Options.VersionedFills] it
// also bumps the key's version marker, so an older in-flight fill cannot
// overwrite v.
func (c *Cache[V]) Set(ctx context.Context, key string, v V, opts ...SetOption) error {
	so := setOptions{ttl: c.opt.TTL}
	for _, o := range opts {
		o(&so)
	}
	if so.ttl < time.Millisecond {
		return fmt.Errorf("%w: Set TTL %v under 1ms", ErrInvalidOptions, so.ttl)
	}
	c.invalidate(key)
	soft := min(c.opt.SoftTTL, so.ttl)
	b, err := encodeEntry(c.codec, c.envelopeFor(false, soft), v)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", key, err)
	}
	ttl := jitter(so.ttl, c.opt.Jitter)
	if c.bloom != nil {
		if err := c.bloom.add(ctx, key); err != nil {
			return err
		}
	}
	octx, cancel := c.opCtx(ctx)
	defer cancel()
	base := keys.Base(c.opt.Prefix, key)
	if c.opt.VersionedFills {
		err = script.CacheVersionedSet.Run(octx, c.rdb, []string{base, keys.Sub(base, "ver")},
			b, ttl.Milliseconds(), c.opt.markerTTL().Milliseconds()).Err()
	} else {
		err = c.rdb.Set(octx, base, b, ttl).Err()
	}
	if err != nil {
		c.ctr.redisErrors.Add(1)
		return fmt.Errorf("cache: set %q: %w", key, err)
	}
	if c.local != nil {
		c.local.set(key, v, false, c.localCap(false, soft, so.ttl))
	}
	return nil
}

// Delete removes keys from Redis and from this process's L1 tier, and
// forgets in-flight loads of them: their load leases are deleted too, so
// the next Get (in any process) starts a new load instead of waiting for
// the old one (read-your-writes for the writer). With
// [Options.VersionedFills] each key is deleted by a script that also bumps
// its version marker, so a fill whose read started before the delete never
// lands after it; without it, Delete is a plain DEL of the value, lease and
// wake list (one per hash slot), and an older in-flight fill may still land.
func (c *Cache[V]) Delete(ctx context.Context, keyList ...string) error {
	if len(keyList) == 0 {
		return nil
	}
	c.invalidate(keyList...)
	rkeys := make([]string, 0, 3*len(keyList)) // value, lease, wake list, ...
	for _, k := range keyList {
		b := keys.Base(c.opt.Prefix, k)
		rkeys = append(rkeys, b, keys.Sub(b, "lease"), keys.Sub(b, "wake"))
	}
	octx, cancel := c.opCtx(ctx)
	defer cancel()
	var err error
	if c.opt.VersionedFills {
		mttl := c.opt.markerTTL().Milliseconds()
		calls := make([]script.Call, len(keyList))
		for i := range calls {
			k := rkeys[3*i]
			calls[i] = script.Call{Script: script.CacheVersionedDel,
				Keys: []string{k, keys.Sub(k, "ver"), rkeys[3*i+1], rkeys[3*i+2]}, Args: []any{mttl}}
		}
		for _, cmd := range script.RunAll(octx, c.rdb, calls) {
			if cmd.Err() != nil {
				err = cmd.Err()
			}
		}
	} else {
		_, err = c.rdb.Pipelined(octx, func(p redis.Pipeliner) error {
			if !c.cluster {
				p.Del(octx, rkeys...)
				return nil
			}
			for _, g := range keys.GroupBySlot(rkeys) {
				ks := make([]string, len(g))
				for j, i := range g {
					ks[j] = rkeys[i]
				}
				p.Del(octx, ks...)
			}
			return nil
		})
	}
	if err != nil {
		c.ctr.redisErrors.Add(1)
		return fmt.Errorf("cache: delete: %w", err)
	}
	return nil
}

// InvalidateLocal drops keys from this process's L1 tier only (no Redis),
// and forgets in-flight loads of them. The consistency package calls it
// when another instance writes.
func (c *Cache[V]) InvalidateLocal(keyList ...string) { c.invalidate(keyList...) }

// FlushLocal drops every entry of this process's L1 tier.
func (c *Cache[V]) FlushLocal() {
	c.epoch.Add(1)
	c.reads.forgetAll()
	if c.local != nil {
		c.local.flush()
	}
}

func (c *Cache[V]) invalidate(keyList ...string) {
	c.epoch.Add(1)
	for _, k := range keyList {
		c.reads.forget(k)
		c.sf.Forget(k)
	}
	if c.local != nil {
		c.local.del(keyList...)
	}
}

// Close stops starting background refreshes and waits for the refreshes
// and detached loads in flight to end (each is bounded by
// [Options.LoadTimeout]), so their fills land. It is idempotent. It never
// closes the Redis client: close the client after the cache. After Close,
// hits are still served, and reads that need a load return [ErrClosed].
func (c *Cache[V]) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.stop()
	if c.tracker != nil {
		c.tracker.close()
	}
	if !already {
		return c.ins.reg.Unregister()
	}
	return nil
}

// track registers background work; it returns false after Close.
func (c *Cache[V]) track() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// opCtx bounds one Redis operation by [Options.OpTimeout] with a real
// timeout: go-redis applies its deadline to the socket (with
// ContextTimeoutEnabled), and its end stops go-redis' own dial retries and
// retry backoffs, so a Redis that refuses connections costs OpTimeout, not
// the sum of every retry. A caller's deadline that comes sooner already
// does all that: then ctx is used as it is (no timer, no allocation).
func (c *Cache[V]) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opt.OpTimeout < 0 || c.callerBound(ctx) {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, c.opt.OpTimeout)
}

func noCancel() {}

// localCap is the most an L1 entry may live: not past the entry's soft
// expiry, nor its Redis TTL (the L1 TTL caps it further); negative (do not
// store) for a not-found answer when negative caching is off.
func (c *Cache[V]) localCap(neg bool, soft, ttl time.Duration) time.Duration {
	if neg {
		return c.opt.NegativeTTL
	}
	if soft > 0 {
		return soft
	}
	return ttl
}

// envelopeFor returns the header of a new entry.
func (c *Cache[V]) envelopeFor(neg bool, soft time.Duration) envelope {
	e := envelope{neg: neg}
	if soft > 0 && !neg {
		e.softMs = time.Now().Add(soft).UnixMilli()
	}
	return e
}

// parseMarker turns a version marker read from Redis into the envelope's
// version field.
func parseMarker(m string) uint64 {
	n, _ := strconv.ParseUint(m, 10, 64)
	return n
}
