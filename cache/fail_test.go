package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

// TestCache_Get_RedisKilledPolicyHolds kills a private Redis mid-run: fail
// open serves from the loader with at most MaxFailOpenLoads at once, fail
// closed returns ErrUnavailable; after a restart the cache works again.
func TestCache_Get_RedisKilledPolicyHolds(t *testing.T) {
	for _, policy := range []FailPolicy{FailOpen, FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := redistest.StartServer(t, redistest.Config{})
			rdb := s.Client(t)
			var running, peak atomic.Int64
			loader := LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
				n := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(20 * time.Millisecond)
				return user{ID: key}, nil
			})
			c := newTestCache(t, rdb, &Options[user]{Loader: loader, FailPolicy: policy, MaxFailOpenLoads: 2,
				OpTimeout: 300 * time.Millisecond, Backoff: 50 * time.Millisecond})
			if u, err := c.Get(ctx, "before"); err != nil || u.ID != "before" {
				t.Fatalf("Get before the kill = %+v, %v", u, err)
			}

			s.Kill()
			var wg sync.WaitGroup
			errs := make([]error, 10)
			for i := range errs {
				wg.Go(func() {
					k := fmt.Sprintf("during-%d", i)
					u, err := c.Get(ctx, k)
					if err == nil && u.ID != k {
						err = fmt.Errorf("got %+v", u)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i, err := range errs {
				switch policy {
				case FailOpen:
					if err != nil {
						t.Errorf("key %d: fail open err = %v, want the loaded value", i, err)
					}
				case FailClosed:
					if !errors.Is(err, ErrUnavailable) {
						t.Errorf("key %d: fail closed err = %v, want ErrUnavailable", i, err)
					}
				}
			}
			rs, err := c.GetMany(ctx, []string{"m1", "m2"})
			switch {
			case policy == FailOpen && (err != nil || !rs[0].Found || rs[1].Value.ID != "m2"):
				t.Errorf("fail open GetMany = %+v, %v; want both loaded", rs, err)
			case policy == FailClosed && !errors.Is(err, ErrUnavailable):
				t.Errorf("fail closed GetMany err = %v, want ErrUnavailable", err)
			}
			st := c.Stats()
			if st.RedisErrors == 0 {
				t.Errorf("RedisErrors = 0 while Redis was dead")
			}
			if policy == FailOpen {
				if p := peak.Load(); p > 2 {
					t.Errorf("peak concurrent loads = %d, want <= MaxFailOpenLoads (2)", p)
				}
				if st.FailOpen != 12 {
					t.Errorf("FailOpen = %d, want 12 (10 Get, 2 GetMany)", st.FailOpen)
				}
			}

			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
			// go-redis backs off dialing after failures; wait (bounded) until
			// the client reaches the restarted server.
			deadline := time.Now().Add(10 * time.Second)
			for rdb.Ping(ctx).Err() != nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // past the cache's Backoff
			before := c.Stats().RedisErrors
			if u, err := c.Get(ctx, "after"); err != nil || u.ID != "after" {
				t.Fatalf("Get after restart = %+v, %v", u, err)
			}
			if n := c.Stats().RedisErrors; n != before {
				t.Errorf("Redis errors after restart: %d new", n-before)
			}
			if n, err := rdb.Exists(ctx, c.Key("after")).Result(); err != nil || n != 1 {
				t.Errorf("value after restart in Redis = %d, %v; want it filled", n, err)
			}
		})
	}
}

// TestCache_Get_RedisPausedOpTimeout: a Redis that stops answering
// (SIGSTOP) is cut off by the per-operation timeout, and the policy holds.
func TestCache_Get_RedisPausedOpTimeout(t *testing.T) {
	for _, policy := range []FailPolicy{FailOpen, FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := redistest.StartServer(t, redistest.Config{})
			c := newTestCache(t, s.Client(t), &Options[user]{Loader: newCountingLoader(0, "k"), FailPolicy: policy,
				OpTimeout: 100 * time.Millisecond})
			if err := c.Set(ctx, "warm", user{}); err != nil { // dial before the pause
				t.Fatal(err)
			}
			s.Pause()
			defer s.Resume()
			u, err := c.Get(ctx, "k")
			switch policy {
			case FailOpen:
				if err != nil || u.ID != "k" {
					t.Errorf("Get = %+v, %v; want the loaded value", u, err)
				}
			case FailClosed:
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("Get err = %v, want ErrUnavailable", err)
				}
			}
			if n := c.Stats().RedisErrors; n == 0 {
				t.Errorf("RedisErrors = 0, want the timeouts counted")
			}
		})
	}
}

// TestCache_Get_RedisDownBackoff: with Redis refusing connections, a Get
// is bounded by OpTimeout (a real timeout: go-redis' dial retries and
// retry backoffs stop at it), and after one failure Redis is left alone
// for Backoff: 20 Gets try Redis once, not 40 times.
func TestCache_Get_RedisDownBackoff(t *testing.T) {
	for _, policy := range []FailPolicy{FailOpen, FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			s := redistest.StartServer(t, redistest.Config{})
			rdb := s.Client(t)
			c := newTestCache(t, rdb, &Options[user]{Loader: newCountingLoader(0, "k"), FailPolicy: policy,
				OpTimeout: 200 * time.Millisecond, Backoff: time.Minute})
			ops := &redistest.Commands{}
			rdb.AddHook(ops)
			s.Kill()
			for i := range 20 {
				// Without a real OpTimeout a Get took 3.4 s here (go-redis
				// retries); the caller allows 2 s.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				u, err := c.Get(ctx, "k")
				callerEnded := ctx.Err()
				cancel()
				switch {
				case callerEnded != nil:
					t.Fatalf("Get %d outlived the caller's 2 s: %v", i, err)
				case policy == FailOpen && (err != nil || u.ID != "k"):
					t.Fatalf("Get %d = %+v, %v; want the loaded value", i, u, err)
				case policy == FailClosed && !errors.Is(err, ErrUnavailable):
					t.Fatalf("Get %d err = %v; want ErrUnavailable", i, err)
				}
			}
			if n := ops.Load(); n > 2 {
				t.Errorf("20 Gets sent %d commands to a dead Redis, want at most 2 (one failure, then Backoff)", n)
			}
		})
	}
}

// opCtx bounds an operation by OpTimeout unless the caller's deadline
// comes sooner: then it hands back the caller's context itself.
func TestCache_opCtx_CallerDeadline(t *testing.T) {
	c := newTestCache(t, redistest.Standalone.Client(t), &Options[string]{OpTimeout: time.Second})
	for _, tt := range []struct {
		name     string
		caller   time.Duration // 0: no deadline
		wantSame bool
	}{
		{"no deadline", 0, false},
		{"later deadline", time.Minute, false},
		{"sooner deadline", 100 * time.Millisecond, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.caller)
				defer cancel()
			}
			got, cancel := c.opCtx(ctx)
			defer cancel()
			if same := got == ctx; same != tt.wantSame {
				t.Errorf("opCtx handed back the caller's context: %v, want %v", same, tt.wantSame)
			}
			if dl, ok := got.Deadline(); !ok || time.Until(dl) > time.Second {
				t.Errorf("deadline in %v (set %v), want within OpTimeout (1s)", time.Until(dl), ok)
			}
		})
	}
}
