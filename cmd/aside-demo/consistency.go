package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
)

func init() {
	register(scenario{order: 50, name: "consistency", title: "the cache follows the database: the stale-set race, and the strong mode that closes it", run: demoConsistency})
}

// demoDB is the demo's database: one price, in memory (the demo has no
// PostgreSQL). A load can be held after it has read the row, to replay the
// race at human speed.
type demoDB struct {
	price atomic.Int64
	mu    sync.Mutex    // guards hold
	hold  chan struct{} // if set, the next load waits on it after reading
	read  chan struct{} // closed when the held load has read
}

func (db *demoDB) load(ctx context.Context, _ string) (int64, error) {
	v := db.price.Load()
	db.mu.Lock()
	hold, read := db.hold, db.read
	db.hold = nil
	db.mu.Unlock()
	if hold != nil {
		close(read)
		select {
		case <-hold:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return v, nil
}

// holdNextLoad makes the next load pause after reading; it returns a
// channel closed when that load has read and a func that lets it finish.
func (db *demoDB) holdNextLoad() (read <-chan struct{}, release func()) {
	db.mu.Lock()
	defer db.mu.Unlock()
	hold := make(chan struct{})
	db.hold, db.read = hold, make(chan struct{})
	return db.read, func() { close(hold) }
}

func demoConsistency(ctx context.Context, env *demoEnv) error {
	env.say("A service caches a product's price (in Redis) and updates it in its database.")
	env.say("The classic recipe: write the database, then delete the cache key. Its race:")
	env.say("a reader that loaded the OLD price just before the write puts it back AFTER the delete.")
	for _, mode := range []consistency.Mode{consistency.DeleteAfterWrite, consistency.Strong} {
		cached, stale, err := replayRace(ctx, env, mode)
		if err != nil {
			return err
		}
		switch {
		case mode == consistency.DeleteAfterWrite && stale:
			env.say("  delete after write: database says 120, cache says %d. Every read now gets the old", cached)
			env.say("  price until the entry's TTL (1 hour here): the race happened.")
		case mode == consistency.DeleteAfterWrite:
			env.say("  delete after write: the cache says %d (the race did not show this time).", cached)
		case !stale:
			env.say("  strong mode: the late fill was refused (the delete had voided its version), so the")
			env.say("  next read loaded %d from the database. No stale value was left.", cached)
		default:
			return fmt.Errorf("strong mode left the stale price %d in the cache", cached)
		}
	}
	return demoDoubleDelete(ctx, env)
}

// replayRace plays the race once in mode and returns the cached price
// afterwards and whether it is stale.
func replayRace(ctx context.Context, env *demoEnv, mode consistency.Mode) (int64, bool, error) {
	db := &demoDB{}
	db.price.Store(100)
	prefix := env.prefix + ":prices-" + mode.String()
	opt := &cache.Options[int64]{Prefix: prefix, TTL: time.Hour, Loader: cache.LoaderFunc[int64](db.load),
		VersionedFills: mode == consistency.Strong, LoadTimeout: 10 * time.Second}
	reader, err := cache.New(env.rdb, opt) // one instance reads...
	if err != nil {
		return 0, false, err
	}
	defer reader.Close()
	writerCache, err := cache.New(env.rdb, opt) // ...another one writes
	if err != nil {
		return 0, false, err
	}
	defer writerCache.Close()
	keeper, err := consistency.New(env.rdb, writerCache, &consistency.Options{Mode: mode, NoBroadcast: true})
	if err != nil {
		return 0, false, err
	}
	defer keeper.Close()

	env.say("")
	env.say("%s:", mode)
	read, release := db.holdNextLoad()
	got := make(chan error, 1)
	go func() { _, err := reader.Get(ctx, "sku-1"); got <- err }()
	select {
	case <-read:
	case err := <-got:
		return 0, false, fmt.Errorf("reader: %v", err)
	}
	env.say("  1. a reader misses the cache and reads the price from the database: 100 (its load is slow)")
	if err := keeper.Write(ctx, func(context.Context) error { db.price.Store(120); return nil }, "sku-1"); err != nil {
		return 0, false, err
	}
	env.say("  2. a writer sets the price to 120 and deletes the cache key")
	release()
	if err := <-got; err != nil {
		return 0, false, err
	}
	env.say("  3. the reader's load finishes and tries to store what it read (100) in the cache")
	cached, err := writerCache.Get(ctx, "sku-1")
	if err != nil {
		return 0, false, err
	}
	return cached, cached != db.price.Load(), nil
}

// demoDoubleDelete shows the delayed second delete cleaning up after the
// race, and where it is scheduled.
func demoDoubleDelete(ctx context.Context, env *demoEnv) error {
	db := &demoDB{}
	db.price.Store(100)
	prefix := env.prefix + ":prices-double-delete"
	opt := &cache.Options[int64]{Prefix: prefix, TTL: time.Hour, Loader: cache.LoaderFunc[int64](db.load), LoadTimeout: 10 * time.Second}
	c, err := cache.New(env.rdb, opt)
	if err != nil {
		return err
	}
	defer c.Close()
	const delay = 300 * time.Millisecond
	keeper, err := consistency.New(env.rdb, c, &consistency.Options{Mode: consistency.DoubleDelete, Delay: delay,
		PollInterval: 50 * time.Millisecond, NoBroadcast: true})
	if err != nil {
		return err
	}
	defer keeper.Close()
	env.say("")
	env.say("delayed double delete (no versioned fills): the same race, then a second delete %v later,", delay)
	env.say("kept in a Redis sorted set so that any live instance runs it even if the writer crashed:")
	read, release := db.holdNextLoad()
	got := make(chan error, 1)
	go func() { _, err := c.Get(ctx, "sku-1"); got <- err }()
	<-read
	start := time.Now()
	if err := keeper.Write(ctx, func(context.Context) error { db.price.Store(120); return nil }, "sku-1"); err != nil {
		return err
	}
	release()
	if err := <-got; err != nil {
		return err
	}
	v, err := c.Get(ctx, "sku-1")
	if err != nil {
		return err
	}
	if v == db.price.Load() {
		env.say("  right after the write the cache says %d (the race did not show this time)", v)
	} else {
		env.say("  right after the write the cache says %d (stale)", v)
	}
	deadline := time.Now().Add(5 * time.Second)
	for keeper.Stats().Executed == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if keeper.Stats().Executed == 0 {
		env.say("  the second delete did not run within 5s (this Redis may lack a command it needs)")
		return nil
	}
	ran := time.Since(start)
	v, err = c.Get(ctx, "sku-1")
	if err != nil {
		return err
	}
	env.say("  the second delete ran %v after the write; the cache now says %d.", ran.Round(time.Millisecond), v)
	env.say("  Stale reads were possible for those %v; the strong mode has no such window.", ran.Round(10*time.Millisecond))
	env.say("Measured under load (4 writers, 8 readers, PostgreSQL): see consistency/README.md.")
	return nil
}
