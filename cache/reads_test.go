package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
)

// getGate is a go-redis hook that holds the first GET it sees: before
// sending it (hold) or after its reply came (so the reply is an old
// value), until release is closed or the command's context ends.
type getGate struct {
	after   bool
	once    sync.Once
	held    chan struct{} // closed when the GET is being held
	release chan struct{}
}

func newGetGate(rdb redis.UniversalClient, after bool) *getGate {
	g := &getGate{after: after, held: make(chan struct{}), release: make(chan struct{})}
	rdb.AddHook(g)
	return g
}

func (g *getGate) hold(ctx context.Context, cmd redis.Cmder) error {
	if !strings.EqualFold(cmd.Name(), "get") {
		return nil
	}
	first := false
	g.once.Do(func() { first = true })
	if !first {
		return nil
	}
	close(g.held)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *getGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *getGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !g.after {
			if err := g.hold(ctx, cmd); err != nil {
				cmd.SetErr(err)
				return err
			}
			return next(ctx, cmd)
		}
		err := next(ctx, cmd)
		_ = g.hold(context.WithoutCancel(ctx), cmd)
		return err
	}
}

func (g *getGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// waitJoined waits (bounded) until n readers wait on c's read of key.
func waitJoined[V any](t *testing.T, c *Cache[V], key string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); c.reads.joined(key) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d readers joined the read of %q, want %d", c.reads.joined(key), key, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCache_Get_ConcurrentReadsShareOneGET(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		gate := newGetGate(rdb, false)
		cmds := countCommands(rdb)
		l := newCountingLoader(0, "k")
		c := newTestCache(t, rdb, &Options[user]{Loader: l})
		const callers = 64
		errs := make(chan error, callers)
		for range callers {
			go func() {
				u, err := c.Get(context.Background(), "k")
				if err == nil && u.ID != "k" {
					err = fmt.Errorf("got %+v", u)
				}
				errs <- err
			}()
		}
		<-gate.held
		waitJoined(t, c, "k", callers-1)
		close(gate.release)
		for range callers {
			if err := <-errs; err != nil {
				t.Errorf("Get: %v", err)
			}
		}
		if n := cmds.get("get"); n != 1 {
			t.Errorf("GETs = %d, want 1 for %d concurrent readers", n, callers)
		}
		if n := l.calls.Load(); n != 1 {
			t.Errorf("loader calls = %d, want 1", n)
		}
		if s := c.Stats(); s.Misses != callers {
			t.Errorf("Stats.Misses = %d, want %d (one per Get)", s.Misses, callers)
		}
	})
}

func TestCache_Get_CanceledReaderDoesNotFailJoined(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		gate := newGetGate(rdb, false) // holds the leader's GET until its ctx ends
		c := newTestCache(t, rdb, &Options[user]{FailPolicy: FailClosed})
		if err := c.Set(context.Background(), "k", user{ID: "k"}); err != nil {
			t.Fatal(err)
		}
		first, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { _, err := c.Get(first, "k"); errc <- err }()
		<-gate.held
		const joined = 8
		results := make(chan error, joined)
		for range joined {
			go func() {
				u, err := c.Get(context.Background(), "k")
				if err == nil && u.ID != "k" {
					err = fmt.Errorf("got %+v", u)
				}
				results <- err
			}()
		}
		waitJoined(t, c, "k", joined)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("canceled reader err = %v, want context.Canceled", err)
		}
		for range joined {
			if err := <-results; err != nil {
				t.Errorf("joined reader: %v", err)
			}
		}
	})
}

func TestCache_Set_NextGetDoesNotJoinOlderRead(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		for _, tc := range []struct{ del, local bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
			del := tc.del
			t.Run(fmt.Sprintf("delete=%v/local=%v", tc.del, tc.local), func(t *testing.T) {
				rdb := tp.Client(t)
				gate := newGetGate(rdb, true) // the old read's reply is held
				l := newCountingLoader(0, "k")
				opt := &Options[user]{Loader: l, VersionedFills: true}
				if tc.local {
					opt.Local = &LocalOptions{}
				}
				c := newTestCache(t, rdb, opt)
				ctx := context.Background()
				if err := c.Set(ctx, "k", user{ID: "k", Name: "v1"}); err != nil {
					t.Fatal(err)
				}
				c.InvalidateLocal("k") // so Get reads Redis
				old := make(chan user, 2)
				for range 2 { // the old read and one reader joined to it
					go func() { u, _ := c.Get(ctx, "k"); old <- u }()
				}
				<-gate.held
				waitJoined(t, c, "k", 1)
				want := "v2"
				if del {
					if err := c.Delete(ctx, "k"); err != nil {
						t.Fatal(err)
					}
					want = "name-k" // reloaded
				} else if err := c.Set(ctx, "k", user{ID: "k", Name: "v2"}); err != nil {
					t.Fatal(err)
				}
				// Must not wait for the held read (which waits for this).
				bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
				u, err := c.Get(bounded, "k")
				cancel()
				if err != nil || u.Name != want {
					t.Errorf("Get after the write = %+v, %v; want %s", u, err, want)
				}
				close(gate.release)
				for range 2 {
					if u := <-old; u.Name != "v1" {
						t.Errorf("read begun before the write = %+v, want v1", u)
					}
				}
				// With L1: the older read must not have put v1 into it.
				if u, err := c.Get(ctx, "k"); err != nil || u.Name != want {
					t.Errorf("Get after the old read ended = %+v, %v; want %s", u, err, want)
				}
			})
		}
	})
}
