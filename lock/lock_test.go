package lock_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
	"github.com/redis/go-redis/v9"
)

func TestNew_Validation(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	defer rdb.Close()
	tests := []struct {
		name    string
		rdb     lock.RedisClient
		opt     *lock.Options
		wantErr bool
	}{
		{name: "nil options", rdb: rdb, opt: nil},
		{name: "prefix", rdb: rdb, opt: &lock.Options{Prefix: "svc"}},
		{name: "nil client", rdb: nil, wantErr: true},
		{name: "brace in prefix", rdb: rdb, opt: &lock.Options{Prefix: "a{b"}, wantErr: true},
		{name: "negative MaxBlocking", rdb: rdb, opt: &lock.Options{MaxBlocking: -1}, wantErr: true},
		{name: "tiny FenceTTL", rdb: rdb, opt: &lock.Options{FenceTTL: time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := lock.New(tt.rdb, tt.opt)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr && (!errors.Is(err, lock.ErrInvalidOptions) || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("New: err = %q, want one line wrapping ErrInvalidOptions", err)
			}
			if c != nil {
				_ = c.Close()
			}
		})
	}
}

func TestClient_TryObtain_Exclusive(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 2)
		a, err := cs[0].TryObtain(ctx, "job", 10*time.Second)
		if err != nil {
			t.Fatalf("first TryObtain: %v", err)
		}
		if _, err := cs[1].TryObtain(ctx, "job", 10*time.Second); !errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("second TryObtain while held: err = %v, want ErrNotObtained", err)
		}
		if a.Key() != "job" || a.Token() == "" || a.Fence() < 1 {
			t.Fatalf("lock = key %q token %q fence %d", a.Key(), a.Token(), a.Fence())
		}
		if left, err := a.TTL(ctx); err != nil || left <= 0 || left > 10*time.Second {
			t.Fatalf("TTL = %v, %v; want in (0, 10s]", left, err)
		}
		if err := a.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if err := a.Release(ctx); err != nil {
			t.Fatalf("second Release: %v, want nil", err)
		}
		if err := a.Context().Err(); err == nil {
			t.Fatal("lock context not canceled after Release")
		}
		if cause := context.Cause(a.Context()); !errors.Is(cause, lock.ErrNotHeld) {
			t.Fatalf("context cause after Release = %v, want ErrNotHeld", cause)
		}
		if err := a.Refresh(ctx, 0); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Refresh after Release: %v, want ErrNotHeld", err)
		}
		if _, err := a.TTL(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("TTL after Release: %v, want ErrNotHeld", err)
		}
		b, err := cs[1].TryObtain(ctx, "job", 10*time.Second)
		if err != nil {
			t.Fatalf("TryObtain after release: %v", err)
		}
		defer b.Release(ctx)
		if b.Fence() <= a.Fence() {
			t.Fatalf("fence of next holder %d, want > %d", b.Fence(), a.Fence())
		}
	})
}

func TestClient_Obtain_InvalidTTL(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	defer rdb.Close()
	c := newClient(t, rdb, "x")
	if _, err := c.Obtain(t.Context(), "k", 0); err == nil || errors.Is(err, lock.ErrNotObtained) {
		t.Fatalf("Obtain with ttl 0: err = %v, want a validation error", err)
	}
}

// Four clients (as four processes) with 50 goroutines each increment a
// counter kept outside Redis, 1,000 times in all, each increment under the
// lock. A lost update or a second holder inside the lock fails the test.
func TestClient_Obtain_MutualExclusion(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		cs := clients(t, tp, 4)
		const goroutines, rounds = 50, 5
		var (
			counter atomic.Int64 // read and written in two steps: only the lock makes it safe
			inside  atomic.Int64 // holders right now
			maxIn   atomic.Int64
			lastF   atomic.Int64 // fence of the latest holder
			wg      sync.WaitGroup
		)
		for i := range len(cs) * goroutines {
			c := cs[i%len(cs)]
			wg.Go(func() {
				for range rounds {
					l, err := c.Obtain(ctx, "counter", 10*time.Second)
					if err != nil {
						t.Errorf("Obtain: %v", err)
						return
					}
					n := inside.Add(1)
					if n > maxIn.Load() {
						maxIn.Store(n)
					}
					if f := l.Fence(); f <= lastF.Load() {
						t.Errorf("fence %d not above the previous holder's %d", f, lastF.Load())
					} else {
						lastF.Store(f)
					}
					v := counter.Load()
					time.Sleep(50 * time.Microsecond) // widen the window a second holder would hit
					counter.Store(v + 1)
					inside.Add(-1)
					if err := l.Release(ctx); err != nil {
						t.Errorf("Release: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		if got, want := counter.Load(), int64(len(cs)*goroutines*rounds); got != want {
			t.Errorf("counter = %d, want %d (lost updates)", got, want)
		}
		if got := maxIn.Load(); got != 1 {
			t.Errorf("at most %d holders at once, want 1", got)
		}
	})
}

func TestClient_Obtain_ContextEnds(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		cs := clients(t, tp, 2)
		l, err := cs[0].Obtain(t.Context(), "busy", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(context.Background())
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err = cs[1].Obtain(ctx, "busy", time.Second)
		if !errors.Is(err, lock.ErrNotObtained) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Obtain past deadline: err = %v, want ErrNotObtained joined with DeadlineExceeded", err)
		}
		ctx, cancel = context.WithCancel(t.Context())
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		_, err = cs[1].Obtain(ctx, "busy", time.Second)
		if !errors.Is(err, lock.ErrNotObtained) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Obtain canceled: err = %v, want ErrNotObtained joined with Canceled", err)
		}
	})
}

func TestClient_Obtain_WrongTypeIsNotRetried(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newClient(t, rdb, prefix)
		if err := rdb.HSet(t.Context(), keys.Base(prefix, "k"), "f", "v").Err(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Obtain(t.Context(), "k", time.Second)
		if err == nil || errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("Obtain on a hash: err = %v, want the WRONGTYPE error", err)
		}
	})
}

func TestLock_Release_ReportsLoss(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newClient(t, rdb, prefix)
		l, err := c.TryObtain(ctx, "k", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.Del(ctx, keys.Base(prefix, "k")).Err(); err != nil {
			t.Fatal(err)
		}
		if err := l.Refresh(ctx, 0); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("Refresh of a deleted lock: %v, want ErrLost", err)
		}
		if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrLost) {
			t.Fatalf("context cause = %v, want ErrLost", cause)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("Release of a lost lock: %v, want ErrLost", err)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("second Release of a lost lock: %v, want ErrLost again", err)
		}
	})
}

// A lease without a watchdog ends after its TTL, and its context with it.
func TestLock_Context_CanceledAtExpiry(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := clients(t, tp, 1)[0]
		l, err := c.TryObtain(t.Context(), "k", 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		waitDone(t, l.Context(), 10*time.Second, "lease without renewal")
		if cause := context.Cause(l.Context()); !errors.Is(cause, lock.ErrLost) {
			t.Fatalf("cause = %v, want ErrLost", cause)
		}
		if err := l.Release(t.Context()); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("Release after expiry: %v, want ErrLost", err)
		}
	})
}

// The reply to a successful obtain is lost (the hook runs the command and
// then fails it): TryObtain reports the error, and the hold it may have
// taken is deleted instead of blocking everyone for the TTL.
func TestClient_TryObtain_LostReplyDoesNotStrandLock(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		flakyRDB := tp.Client(t)
		drop := &dropReplies{}
		drop.n.Store(1 << 30) // every obtain reply is lost
		flakyRDB.AddHook(drop)
		flaky := newClient(t, flakyRDB, prefix)
		other := newClient(t, tp.Client(t), prefix)
		if _, err := flaky.TryObtain(ctx, "k", time.Minute); err == nil || errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("TryObtain with a lost reply: %v, want the network error", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second) // far below the 1 minute TTL
		defer cancel()
		l, err := other.Obtain(wctx, "k", time.Second)
		if err != nil {
			t.Fatalf("Obtain after a lost reply: %v (the unanswered hold was not deleted)", err)
		}
		l.Release(ctx)
	})
}

// The reply to the first obtain attempt is lost; Obtain retries with the
// same token, and the script recognises the hold it already took.
func TestClient_Obtain_RetryAfterLostReplyKeepsHold(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		flakyRDB := tp.Client(t)
		drop := &dropReplies{}
		drop.n.Store(1)
		flakyRDB.AddHook(drop)
		c := newClient(t, flakyRDB, prefix)
		other := newClient(t, tp.Client(t), prefix)
		l, err := c.Obtain(ctx, "k", 10*time.Second)
		if err != nil {
			t.Fatalf("Obtain after one lost reply: %v", err)
		}
		first := l.Fence()
		if s := c.Stats(); s.Attempts != 2 || s.Obtained != 1 {
			t.Errorf("stats = %+v, want 2 attempts, 1 obtained", s)
		}
		if _, err := other.TryObtain(ctx, "k", time.Second); !errors.Is(err, lock.ErrNotObtained) {
			t.Fatalf("other TryObtain: %v, want ErrNotObtained", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		next, err := other.TryObtain(ctx, "k", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer next.Release(ctx)
		if next.Fence() != first+1 {
			t.Errorf("next holder's fence = %d, want %d (the retry must not draw a second fence)", next.Fence(), first+1)
		}
	})
}
