package consistency

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/redis/go-redis/v9"
)

// fakeCache is a Cache whose values are plain strings under the cache's
// base keys, recording the L1 calls the Keeper makes.
type fakeCache struct {
	rdb       redis.UniversalClient
	prefix    string
	versioned bool
	latency   time.Duration
	fail      atomic.Int64 // the next fail deletes fail

	mu      sync.Mutex // guards local, flushes, deletes
	local   []string   // keys given to InvalidateLocal
	flushes int
	deletes int
}

var errInjected = errors.New("injected failure")

func (f *fakeCache) Prefix() string       { return f.prefix }
func (f *fakeCache) VersionedFills() bool { return f.versioned }

func (f *fakeCache) LoadLatency(float64) time.Duration { return f.latency }

func (f *fakeCache) Delete(ctx context.Context, ks ...string) error {
	if f.fail.Add(-1) >= 0 {
		return errInjected
	}
	f.fail.Store(0)
	for _, k := range ks {
		if err := f.rdb.Del(ctx, keys.Base(f.prefix, k)).Err(); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.deletes++
	f.mu.Unlock()
	return nil
}

func (f *fakeCache) InvalidateLocal(ks ...string) {
	f.mu.Lock()
	f.local = append(f.local, ks...)
	f.mu.Unlock()
}

func (f *fakeCache) FlushLocal() {
	f.mu.Lock()
	f.flushes++
	f.mu.Unlock()
}

func (f *fakeCache) snapshot() (local []string, flushes, deletes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.local), f.flushes, f.deletes
}

// set writes a value for key as the cache would.
func (f *fakeCache) set(t testing.TB, key, v string) {
	t.Helper()
	if err := f.rdb.Set(context.Background(), keys.Base(f.prefix, key), v, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

// exists reports whether key has a value in Redis.
func (f *fakeCache) exists(t testing.TB, key string) bool {
	t.Helper()
	n, err := f.rdb.Exists(context.Background(), keys.Base(f.prefix, key)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// newKeeper returns a Keeper closed at cleanup.
func newKeeper(t testing.TB, rdb redis.UniversalClient, c Cache, opt *Options) *Keeper {
	t.Helper()
	k, err := New(rdb, c, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return k
}

// waitFor polls cond until it holds or 10 s pass. It observes effects in
// Redis that have no signal of their own (a delete run by another process).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// zcard returns the number of entries in every shard's sets of kind
// ("" for scheduled deletes, "intent", "claim").
func zcard(t testing.TB, k *Keeper, kind string) int64 {
	t.Helper()
	var n int64
	for _, sh := range k.sched.shards {
		key := sh
		if kind != "" {
			key = keys.Sub(sh, kind)
		}
		c, err := k.rdb.ZCard(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}
