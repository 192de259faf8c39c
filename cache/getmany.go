package cache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/script"
)

// Result is one key's answer in [Cache.GetMany].
type Result[V any] struct {
	Value V    // the value, if Found
	Found bool // false if the key does not exist (loader, negative entry or bloom filter)
}

// GetMany returns the values of keyList in input order. Hits come from
// L1, then from Redis in one round trip per hash slot (one MGET on a
// single server; one pipelined MGET per slot on a Cluster). All misses are
// loaded by ONE call of [Options.BatchLoader] and written back in one
// pipeline; without a batch loader each miss goes through
// [Options.Loader] as in Get, concurrently. Batch loads take no
// cross-process lease (with [Options.VersionedFills] the markers are read
// before the batch load and the fills are conditional, as in Get). An
// error of Redis (under FailClosed) or of the loader fails the whole call.
func (c *Cache[V]) GetMany(ctx context.Context, keyList []string) ([]Result[V], error) {
	out := make([]Result[V], len(keyList))
	// pending: the indexes left for Redis to answer; nil for all of them
	// (no L1 and no local filter answers first).
	var pending []int
	if c.local != nil || (c.bloom != nil && !c.bloom.opt.Shared) {
		pending = make([]int, 0, len(keyList))
		for i, k := range keyList {
			if c.local != nil {
				if e, ok := c.local.get(k); ok {
					if e.neg {
						c.ctr.negativeHits.Add(1)
					} else {
						c.ctr.localHits.Add(1)
						out[i] = Result[V]{Value: e.val, Found: true}
					}
					continue
				}
			}
			if c.bloom != nil && !c.bloom.opt.Shared && !c.bloom.test(ctx, k, &c.ctr) {
				c.ctr.bloomRejects.Add(1)
				continue
			}
			pending = append(pending, i)
		}
		if len(pending) == 0 {
			return out, nil
		}
	}
	if len(keyList) == 0 {
		return out, nil
	}
	epoch := c.epoch.Load()
	ks := keyList
	if pending != nil && len(pending) < len(keyList) {
		ks = make([]string, len(pending))
		for j, i := range pending {
			ks[j] = keyList[i]
		}
	}
	var vals []string // "" for a missing key: no entry is empty (it has a header)
	err := errBackingOff
	if !c.redisDown() {
		vals, err = c.mget(ctx, ks)
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
		if pending == nil {
			pending = make([]int, len(keyList))
			for i := range pending {
				pending[i] = i
			}
		}
		return out, c.loadEach(ctx, keyList, pending, nil, out)
	}
	var misses []int
	var bad map[int]string // corrupt entries, to overwrite; rare
	var hits int64         // redisHits, added once: 100 atomic adds contend
	for j, s := range vals {
		i := j
		if pending != nil {
			i = pending[j]
		}
		if s == "" {
			misses = append(misses, i)
			continue
		}
		e, v, derr := c.dec.decode(s)
		if derr != nil {
			c.ctr.corrupt.Add(1)
			if bad == nil {
				bad = make(map[int]string)
			}
			bad[i] = s
			misses = append(misses, i)
			continue
		}
		if !e.neg && e.softMs == 0 && c.local == nil {
			hits++ // what served does for a plain hit, without its atomic add
			out[i] = Result[V]{Value: v, Found: true}
			continue
		}
		v, _, serr := c.served(keyList[i], s, e, v, c.opt.Loader, epoch)
		out[i] = Result[V]{Value: v, Found: serr == nil}
	}
	if hits > 0 {
		c.ctr.redisHits.Add(hits)
	}
	if c.bloom != nil && c.bloom.opt.Shared && len(misses) > 0 {
		misses = c.bloomFilterShared(ctx, keyList, misses)
	}
	if len(misses) == 0 {
		return out, nil
	}
	c.ctr.misses.Add(int64(len(misses)))
	if c.opt.BatchLoader == nil {
		return out, c.loadEach(ctx, keyList, misses, bad, out)
	}
	return out, c.loadBatch(ctx, keyList, misses, bad, out)
}

// mget reads the entries of the user keys ks with one MGET per hash slot,
// all in one pipeline. A missing key reads as "" (a StringSliceCmd: its
// reply needs no interface value per key, as a SliceCmd's does).
func (c *Cache[V]) mget(ctx context.Context, ks []string) ([]string, error) {
	octx, cancel := c.opCtx(ctx)
	defer cancel()
	if !c.cluster {
		args := keys.AppendBaseArgs(append(make([]any, 0, 1+len(ks)), "mget"), c.opt.Prefix, ks)
		cmd := redis.NewStringSliceCmd(octx, args...)
		_ = c.rdb.Process(octx, cmd)
		return cmd.Result()
	}
	rkeys := keys.Bases(c.opt.Prefix, ks)
	groups := keys.GroupBySlot(rkeys)
	cmds := make([]*redis.StringSliceCmd, len(groups))
	_, err := c.rdb.Pipelined(octx, func(p redis.Pipeliner) error {
		for g, idx := range groups {
			args := make([]any, 1, 1+len(idx))
			args[0] = "mget"
			for _, i := range idx {
				args = append(args, keys.StringArg(&rkeys[i]))
			}
			cmds[g] = redis.NewStringSliceCmd(octx, args...)
			_ = p.Process(octx, cmds[g])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]string, len(rkeys))
	for g, idx := range groups {
		for j, i := range idx {
			vals[i] = cmds[g].Val()[j]
		}
	}
	return vals, nil
}

// bloomFilterShared drops the missed keys the shared filter rejects, in
// one pipeline (asked only for misses, so hits stay one MGET per slot).
func (c *Cache[V]) bloomFilterShared(ctx context.Context, keyList []string, pending []int) []int {
	g := c.bloom
	calls := make([]script.Call, len(pending))
	for j, i := range pending {
		calls[j] = script.Call{Script: script.CacheBloomTest, Keys: []string{g.bits}, Args: g.positions(keyList[i])}
	}
	octx, cancel := c.opCtx(ctx)
	defer cancel()
	cmds := script.RunAll(octx, c.rdb, calls)
	kept := pending[:0]
	for j, i := range pending {
		if n, err := cmds[j].Int64(); err == nil && n == 0 {
			c.ctr.bloomRejects.Add(1)
			continue
		} else if err != nil {
			c.ctr.redisErrors.Add(1)
		}
		kept = append(kept, i)
	}
	return kept
}

// loadEach loads the given keys one by one through Loader (as Get does),
// at most 16 at once; under FailOpen a load falls back to the loader
// alone when Redis fails.
func (c *Cache[V]) loadEach(ctx context.Context, keyList []string, idx []int, bad map[int]string, out []Result[V]) error {
	if c.opt.Loader == nil {
		return ErrNoLoader
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, i := range idx {
		g.Go(func() error {
			v, err := c.load(gctx, keyList[i], c.opt.Loader, bad[i])
			switch {
			case err == nil:
				out[i] = Result[V]{Value: v, Found: true}
			case !errors.Is(err, ErrNotFound):
				return err
			}
			return nil
		})
	}
	return g.Wait()
}

// loadBatch loads every miss with one BatchLoader call and writes the
// outcomes back in one pipeline.
func (c *Cache[V]) loadBatch(ctx context.Context, keyList []string, misses []int, bad map[int]string, out []Result[V]) error {
	epoch := c.epoch.Load()
	seen := make(map[string]bool, len(misses))
	var uniq []string
	for _, i := range misses {
		if k := keyList[i]; !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, c.opt.LoadTimeout)
	defer cancel()
	markers := make([]string, len(uniq))
	if c.opt.VersionedFills {
		pipe := c.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(uniq))
		for j, k := range uniq {
			cmds[j] = pipe.Get(lctx, keys.Sub(keys.Base(c.opt.Prefix, k), "ver"))
		}
		if _, err := pipe.Exec(lctx); err != nil && !errors.Is(err, redis.Nil) {
			c.ctr.redisErrors.Add(1)
			return errors.Join(ErrUnavailable, err)
		}
		for j, cmd := range cmds {
			markers[j] = cmd.Val()
		}
	}
	start := time.Now()
	found, pe, err := callBatchLoader(lctx, c.opt.BatchLoader, uniq)
	c.observeLoad(lctx, time.Since(start), pe != nil || err != nil)
	if pe != nil {
		panic(pe)
	}
	if err != nil {
		return err
	}
	byKey := make(map[string]int, len(misses))
	for _, i := range misses {
		byKey[keyList[i]] = i
	}
	var sets []plainSet     // written with a plain SET
	var calls []script.Call // written with the fill script
	for j, k := range uniq {
		v, ok := found[k]
		r := &loadResult[V]{v: v, neg: !ok}
		if c.local != nil && c.epoch.Load() == epoch && (ok || c.opt.NegativeTTL > 0) {
			c.local.set(k, v, !ok, c.localCap(!ok, c.opt.SoftTTL, c.opt.TTL))
		}
		if !ok && c.opt.NegativeTTL < 0 {
			continue
		}
		e := c.envelopeFor(!ok, c.opt.SoftTTL)
		e.version = parseMarker(markers[j])
		b, err := encodeEntry(c.codec, e, v)
		if err != nil {
			continue
		}
		if ok && !c.opt.VersionedFills && bad[byKey[k]] == "" {
			sets = append(sets, plainSet{key: keys.Base(c.opt.Prefix, k), b: b})
			continue
		}
		ttl := jitter(c.opt.TTL, c.opt.Jitter)
		if !ok {
			ttl = jitter(c.opt.NegativeTTL, c.opt.Jitter)
		}
		base := keys.Base(c.opt.Prefix, k)
		versioned, neg := "0", "0"
		if c.opt.VersionedFills {
			versioned = "1"
		}
		if r.neg {
			neg = "1"
		}
		calls = append(calls, script.Call{
			Script: script.CacheFill,
			Keys:   []string{base, keys.Sub(base, "lease"), keys.Sub(base, "wake"), keys.Sub(base, "ver")},
			Args:   []any{b, ttl.Milliseconds(), "", versioned, markers[j], neg, c.opt.LeaseTTL.Milliseconds(), bad[byKey[k]]},
		})
	}
	c.writeBatch(lctx, sets, calls)
	for _, i := range misses {
		if v, ok := found[keyList[i]]; ok {
			out[i] = Result[V]{Value: v, Found: true}
		}
	}
	return nil
}

// plainSet is one value of a batch load written with a plain SET.
type plainSet struct {
	key string // Redis key
	b   []byte // entry
}

// writeBatch writes sets (one pipeline) and fill script calls (another).
// Failures are counted, not returned: the values are already loaded.
func (c *Cache[V]) writeBatch(ctx context.Context, sets []plainSet, calls []script.Call) {
	if len(sets) > 0 {
		pipe := c.rdb.Pipeline()
		for _, s := range sets {
			pipe.Set(ctx, s.key, s.b, jitter(c.opt.TTL, c.opt.Jitter))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			c.ctr.redisErrors.Add(1)
		}
	}
	for _, cmd := range script.RunAll(ctx, c.rdb, calls) {
		if cmd.Err() != nil {
			c.ctr.redisErrors.Add(1)
		}
	}
}
