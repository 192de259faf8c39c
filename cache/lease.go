package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/lease"
	"github.com/aside-go/aside/internal/script"
)

// loadResult is what one shared load hands every waiter.
type loadResult[V any] struct {
	v     V
	neg   bool
	panic *PanicError
}

// load runs (or joins) the one load of key in this process. The load is
// detached from ctx; ctx bounds this caller's wait only.
func (c *Cache[V]) load(ctx context.Context, key string, l Loader[V], bad string) (V, error) {
	r, err := c.loadWait(ctx, key, l, bad)
	return unpack(r, err)
}

// loadWait is load returning the shared outcome as is.
func (c *Cache[V]) loadWait(ctx context.Context, key string, l Loader[V], bad string) (*loadResult[V], error) {
	if l == nil {
		return nil, ErrNoLoader
	}
	detached := context.WithoutCancel(ctx)
	ch := c.sf.DoChan(key, func() (any, error) {
		if !c.track() {
			return nil, ErrClosed
		}
		defer c.wg.Done()
		lctx, cancel := context.WithTimeout(detached, c.opt.LoadTimeout)
		defer cancel()
		return c.loadShared(lctx, key, l, bad)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		lr, _ := r.Val.(*loadResult[V])
		return lr, r.Err
	}
}

// unpack turns a shared load's outcome into one caller's answer,
// re-panicking with the loader's *PanicError in every waiter.
func unpack[V any](r *loadResult[V], err error) (V, error) {
	var zero V
	if r != nil && r.panic != nil {
		panic(r.panic)
	}
	if err != nil {
		return zero, err
	}
	if r.neg {
		return zero, ErrNotFound
	}
	return r.v, nil
}

// loadShared gets key's value for the whole fleet: it returns a value that
// landed meanwhile, or takes the lease and loads, or waits for the lease
// holder's fill (and takes over if the holder dies).
func (c *Cache[V]) loadShared(ctx context.Context, key string, l Loader[V], bad string) (*loadResult[V], error) {
	epoch := c.epoch.Load()
	if c.opt.DisableLease {
		// A caller that missed just before another load's fill landed
		// finds the value here instead of loading again.
		octx, cancel := c.opCtx(ctx)
		s, err := c.rdb.Get(octx, keys.Base(c.opt.Prefix, key)).Result()
		cancel()
		if err == nil && s != bad {
			if e, v, derr := decodeEntry(c.codec, s); derr == nil {
				return &loadResult[V]{v: v, neg: e.neg}, nil
			}
		}
		return c.loadAndFill(ctx, key, l, epoch, "", "", bad)
	}
	base := keys.Base(c.opt.Prefix, key)
	ks := []string{base, keys.Sub(base, "lease"), keys.Sub(base, "wake"), keys.Sub(base, "ver")}
	token := lease.Token()
	versioned := "0"
	if c.opt.VersionedFills {
		versioned = "1"
	}
	waited := false
	for {
		var res []any
		err := errBackingOff
		if !c.redisDown() {
			octx, cancel := c.opCtx(ctx)
			res, err = script.CacheAcquire.Run(octx, c.rdb, ks, token, c.opt.LeaseTTL.Milliseconds(), versioned, "0", bad).Slice()
			cancel()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != errBackingOff {
				c.redisFailed()
			}
			if c.opt.FailPolicy == FailClosed {
				return nil, errors.Join(ErrUnavailable, err)
			}
			r, err := c.loadDirect(ctx, key, l)
			if err == nil && c.local != nil && r.panic == nil && c.epoch.Load() == epoch {
				c.local.set(key, r.v, r.neg, c.localCap(r.neg, c.opt.SoftTTL, c.opt.TTL))
			}
			return r, err
		}
		switch kind, _ := res[0].(int64); kind {
		case 1:
			s, _ := res[1].(string)
			e, v, derr := decodeEntry(c.codec, s)
			if derr != nil {
				c.ctr.corrupt.Add(1)
				bad = s
				continue
			}
			if c.local != nil && c.epoch.Load() == epoch {
				c.local.set(key, v, e.neg, c.localCap(e.neg, c.opt.SoftTTL, c.opt.TTL))
			}
			return &loadResult[V]{v: v, neg: e.neg}, nil
		case 2:
			marker, _ := res[1].(string)
			return c.loadAndFill(ctx, key, l, epoch, token, marker, bad)
		default:
			if !waited {
				waited = true
				c.ctr.leaseWaits.Add(1)
			}
			tok, err := c.waitWake(ctx, ks[2])
			if err != nil {
				return nil, err
			}
			if len(tok) > 1 { // the holder handed over the entry it wrote
				if e, v, derr := decodeEntry(c.codec, tok); derr == nil {
					if c.local != nil && c.epoch.Load() == epoch {
						c.local.set(key, v, e.neg, c.localCap(e.neg, c.opt.SoftTTL, c.opt.TTL))
					}
					return &loadResult[V]{v: v, neg: e.neg}, nil
				}
			}
		}
	}
}

// waitWake blocks on key's wake list for a short while: until the lease
// holder's fill pushes to it, or the step times out (so a dead holder's
// lease is noticed when it expires). The wait is [lease.WaitAll]: short
// steps, since go-redis does not interrupt it when ctx ends, and every
// waiter is woken by one push. It returns the wake message: the entry the
// holder wrote, "1" (read again), or "" after a timeout.
func (c *Cache[V]) waitWake(ctx context.Context, wake string) (string, error) {
	step := min(c.opt.LeaseTTL/4, 250*time.Millisecond)
	if dl, ok := ctx.Deadline(); ok {
		step = min(step, time.Until(dl))
	}
	if step < 10*time.Millisecond {
		step = 10 * time.Millisecond
	}
	msg, _, err := lease.WaitAll(ctx, c.rdb, wake, step)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		c.ctr.redisErrors.Add(1)
		// Do not spin on a failing Redis: the next acquire sees the error.
		t := time.NewTimer(step)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
		return "", nil
	}
	return msg, nil
}

// loadAndFill calls the loader, writes the outcome to Redis (releasing
// the lease if token is set) and to L1. marker is the version marker read
// with the lease; old is a stale or corrupt entry the outcome replaces.
func (c *Cache[V]) loadAndFill(ctx context.Context, key string, l Loader[V], epoch uint64, token, marker, old string) (*loadResult[V], error) {
	start := time.Now()
	v, pe, err := callLoader(ctx, l, key)
	neg := errors.Is(err, ErrNotFound)
	failed := pe != nil || (err != nil && !neg)
	c.observeLoad(ctx, time.Since(start), failed)
	base := keys.Base(c.opt.Prefix, key)
	wakeMs := c.opt.LeaseTTL.Milliseconds()
	if failed {
		if token != "" {
			rctx, cancel := c.opCtx(context.WithoutCancel(ctx))
			_ = script.CacheRelease.Run(rctx, c.rdb, []string{keys.Sub(base, "lease"), keys.Sub(base, "wake")}, token, wakeMs).Err()
			cancel()
		}
		if pe != nil {
			return &loadResult[V]{panic: pe}, nil
		}
		return nil, err
	}
	r := &loadResult[V]{v: v, neg: neg}
	if ctx.Err() != nil {
		// Past LoadTimeout: the version marker may have expired, so the
		// fill is dropped; the callers still get the value.
		return r, nil
	}
	if err := c.fill(ctx, key, r, token, marker, old); err != nil {
		c.ctr.redisErrors.Add(1)
	}
	if c.local != nil && c.epoch.Load() == epoch && (!neg || c.opt.NegativeTTL > 0) {
		c.local.set(key, r.v, neg, c.localCap(neg, c.opt.SoftTTL, c.opt.TTL))
	}
	return r, nil
}

// fill writes a load's outcome under key and wakes the lease waiters.
func (c *Cache[V]) fill(ctx context.Context, key string, r *loadResult[V], token, marker, old string) error {
	base := keys.Base(c.opt.Prefix, key)
	ttl := jitter(c.opt.TTL, c.opt.Jitter)
	if r.neg {
		ttl = jitter(c.opt.NegativeTTL, c.opt.Jitter)
	}
	var b []byte
	if !r.neg || c.opt.NegativeTTL > 0 {
		e := c.envelopeFor(r.neg, c.opt.SoftTTL)
		e.version = parseMarker(marker)
		var err error
		if b, err = encodeEntry(c.codec, e, r.v); err != nil {
			return fmt.Errorf("cache: encode %q: %w", key, err)
		}
	}
	octx, cancel := c.opCtx(ctx)
	defer cancel()
	if b == nil { // negative caching off: only release the lease
		if token == "" {
			return nil
		}
		return script.CacheRelease.Run(octx, c.rdb, []string{keys.Sub(base, "lease"), keys.Sub(base, "wake")}, token, c.opt.LeaseTTL.Milliseconds()).Err()
	}
	if c.opt.DisableLease && !r.neg && old == "" {
		return c.rdb.Set(octx, base, b, ttl).Err()
	}
	versioned, negFlag := "0", "0"
	if c.opt.VersionedFills {
		versioned = "1"
	}
	if r.neg {
		negFlag = "1"
	}
	return script.CacheFill.Run(octx, c.rdb,
		[]string{base, keys.Sub(base, "lease"), keys.Sub(base, "wake"), keys.Sub(base, "ver")},
		b, ttl.Milliseconds(), token, versioned, marker, negFlag, c.opt.LeaseTTL.Milliseconds(), old).Err()
}

// loadDirect calls the loader without Redis, at most MaxFailOpenLoads at
// once in this process.
func (c *Cache[V]) loadDirect(ctx context.Context, key string, l Loader[V]) (*loadResult[V], error) {
	if err := c.sem.Acquire(ctx, 1); err != nil {
		return nil, errors.Join(ErrUnavailable, err)
	}
	defer c.sem.Release(1)
	start := time.Now()
	v, pe, err := callLoader(ctx, l, key)
	neg := errors.Is(err, ErrNotFound)
	c.observeLoad(ctx, time.Since(start), pe != nil || (err != nil && !neg))
	if pe != nil {
		return &loadResult[V]{panic: pe}, nil
	}
	if err != nil && !neg {
		return nil, err
	}
	c.ctr.failOpen.Add(1)
	return &loadResult[V]{v: v, neg: neg}, nil
}
