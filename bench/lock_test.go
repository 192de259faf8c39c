package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// Lock benchmarks: aside's lock against bsm/redislock and redsync, on the
// same local redis-server over loopback TCP.
//
// Uncontended: one goroutine obtains and releases one key in a loop (two
// round trips for each library).
//
// Hand-off: one holder and W waiters (W = 2, 20, 100 in sub-benchmarks
// waiters=W) take the lock in turn and hold it for 1 ms of work; a
// goroutine that released waits until another holds the lock before it
// queues again, so every release finds one holder and W waiters (none of
// them just arriving). Each op is one hand-off, measured from the start of
// the holder's Release to the moment the next goroutine holds the lock
// (reported as p50-ms and p99-ms), and cmds/op counts every Redis command
// the client sent per hand-off (a go-redis hook): the holder's obtain and
// release plus whatever the waiters send while they wait.
//
// aside's waiters are woken by the release. redislock waiters retry on a
// backoff: 100 ms linear in _Redislock (the value of its own example),
// and in _RedislockJitter a random delay in [5 ms, 15 ms) (mean 10 ms),
// so its pollers do not come back in lockstep, as redislock's docs advise
// for contended keys (a retry strategy with jitter); redsync waiters retry
// after its default random 50 to 250 ms.

const (
	lockTTL = 10 * time.Second
	holdFor = time.Millisecond
)

// handoffWaiters are the waiter counts of the hand-off sub-benchmarks.
var handoffWaiters = []int{2, 20, 100}

// eachWaiters runs f as sub-benchmarks waiters=W.
func eachWaiters(b *testing.B, f func(b *testing.B, waiters int)) {
	for _, w := range handoffWaiters {
		b.Run(fmt.Sprintf("waiters=%d", w), func(b *testing.B) { f(b, w) })
	}
}

// countedClient is a client whose commands are counted, with a pool large
// enough that 100 pollers do not queue for connections.
func countedClient(b *testing.B) (*redis.Client, *redistest.Commands) {
	rdb := redis.NewClient(&redis.Options{Addr: client(b).Options().Addr, PoolSize: 128})
	b.Cleanup(func() { rdb.Close() })
	cc := &redistest.Commands{}
	rdb.AddHook(cc)
	return rdb, cc
}

// jitterBackoff is a redislock retry strategy: a random delay in
// [mean/2, 3*mean/2).
type jitterBackoff time.Duration

func (j jitterBackoff) NextBackoff() time.Duration {
	return time.Duration(j)/2 + rand.N(time.Duration(j))
}

func BenchmarkLockUncontended_Aside(b *testing.B) {
	rdb := client(b)
	c, err := lock.New(rdb, &lock.Options{Prefix: prefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.TryObtain(ctx, "k", lockTTL)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockUncontended_Redislock(b *testing.B) {
	rl := redislock.New(client(b))
	key := prefix(b) + ":k"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := rl.Obtain(ctx, key, lockTTL, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockUncontended_Redsync(b *testing.B) {
	rs := redsync.New(goredis.NewPool(client(b)))
	m := rs.NewMutex(prefix(b)+":k", redsync.WithExpiry(lockTTL), redsync.WithTries(1))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.LockContext(ctx); err != nil {
			b.Fatal(err)
		}
		if ok, err := m.UnlockContext(ctx); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkLockHandoff_Aside(b *testing.B) {
	eachWaiters(b, func(b *testing.B, waiters int) {
		rdb, cc := countedClient(b)
		c, err := lock.New(rdb, &lock.Options{Prefix: prefix(b)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		benchHandoff(b, waiters, cc, func(ctx context.Context) (func(context.Context) error, error) {
			l, err := c.Obtain(ctx, "k", lockTTL)
			if err != nil {
				return nil, err
			}
			return l.Release, nil
		})
	})
}

func BenchmarkLockHandoff_Redislock(b *testing.B) {
	eachWaiters(b, func(b *testing.B, waiters int) {
		benchHandoffRedislock(b, waiters, redislock.LinearBackoff(100*time.Millisecond))
	})
}

func BenchmarkLockHandoff_RedislockJitter(b *testing.B) {
	eachWaiters(b, func(b *testing.B, waiters int) {
		benchHandoffRedislock(b, waiters, jitterBackoff(10*time.Millisecond))
	})
}

func benchHandoffRedislock(b *testing.B, waiters int, retry redislock.RetryStrategy) {
	rdb, cc := countedClient(b)
	rl := redislock.New(rdb)
	key := prefix(b) + ":k"
	opt := &redislock.Options{RetryStrategy: retry}
	benchHandoff(b, waiters, cc, func(ctx context.Context) (func(context.Context) error, error) {
		for {
			// redislock gives up after the TTL when ctx has no deadline:
			// try again, as a caller waiting for its turn would.
			l, err := rl.Obtain(ctx, key, lockTTL, opt)
			if errors.Is(err, redislock.ErrNotObtained) && ctx.Err() == nil {
				continue
			}
			if err != nil {
				return nil, err
			}
			return l.Release, nil
		}
	})
}

func BenchmarkLockHandoff_Redsync(b *testing.B) {
	eachWaiters(b, func(b *testing.B, waiters int) {
		rdb, cc := countedClient(b)
		rs := redsync.New(goredis.NewPool(rdb))
		key := prefix(b) + ":k"
		benchHandoff(b, waiters, cc, func(ctx context.Context) (func(context.Context) error, error) {
			m := rs.NewMutex(key, redsync.WithExpiry(lockTTL), redsync.WithTries(math.MaxInt32))
			if err := m.LockContext(ctx); err != nil {
				return nil, err
			}
			return func(ctx context.Context) error {
				_, err := m.UnlockContext(ctx)
				return err
			}, nil
		})
	})
}

// benchHandoff runs waiters+1 goroutines that each loop: obtain, record
// the time since the previous holder began releasing, release, wait until
// the next holder has the lock. b.N hand-offs in all.
func benchHandoff(b *testing.B, waiters int, cc *redistest.Commands, obtain func(ctx context.Context) (release func(context.Context) error, err error)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu           sync.Mutex // guards the fields below
		releaseStart time.Time  // when the current holder began releasing
		lat          = make([]time.Duration, 0, b.N)
		handoffs     int
		turn         = make(chan struct{}) // closed when the next holder has the lock
		wg           sync.WaitGroup
	)
	b.ResetTimer()
	cmds0 := cc.Load()
	for range waiters + 1 {
		wg.Go(func() {
			for {
				release, err := obtain(ctx)
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
						cancel()
					}
					return
				}
				mu.Lock()
				if !releaseStart.IsZero() && handoffs < b.N {
					lat = append(lat, time.Since(releaseStart))
					handoffs++
				}
				done := handoffs >= b.N
				close(turn)
				turn = make(chan struct{})
				mine := turn
				mu.Unlock()
				if done {
					cancel() // the others stop waiting
				} else {
					time.Sleep(holdFor) // the work under the lock
				}
				mu.Lock()
				releaseStart = time.Now()
				mu.Unlock()
				if err := release(context.Background()); err != nil {
					b.Error(err)
					cancel()
					return
				}
				if done {
					return
				}
				select { // queue again only once someone else holds it
				case <-mine:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(cc.Load()-cmds0)/float64(b.N), "cmds/op")
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return float64(lat[max(i, 0)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
