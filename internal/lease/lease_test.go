package lease

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestToken_Unique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := Token()
		if len(tok) < 26 || seen[tok] {
			t.Fatalf("token %q: too short or repeated", tok)
		}
		seen[tok] = true
	}
}

// One message on a wake-all list wakes every waiter, and stays there for
// the ones that come later.
func TestWaitAll_OneMessageWakesEveryWaiter(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		wake := keys.Sub(keys.Base(redistest.Prefix(t), "k"), "wake")
		const n = 5
		var wg sync.WaitGroup
		var got atomic.Int32
		for range n {
			wg.Go(func() {
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
					msg, ok, err := WaitAll(ctx, rdb, wake, 200*time.Millisecond)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						if msg == "done" {
							got.Add(1)
						}
						return
					}
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		if err := rdb.RPush(ctx, wake, "done").Err(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if got.Load() != n {
			t.Fatalf("%d of %d waiters saw the message", got.Load(), n)
		}
		if msg, ok, err := WaitAll(ctx, rdb, wake, 10*time.Millisecond); !ok || err != nil || msg != "done" {
			t.Fatalf("a later waiter: %q, %v, %v; want the message still there", msg, ok, err)
		}
	})
}

func TestWaitAll_TimesOutAndHonoursCtx(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	wake := keys.Base(redistest.Prefix(t), "none")
	if _, ok, err := WaitAll(t.Context(), rdb, wake, 20*time.Millisecond); ok || err != nil {
		t.Fatalf("empty list: ok %v, err %v; want a timeout", ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := WaitAll(ctx, rdb, wake, 20*time.Millisecond); err != context.Canceled {
		t.Fatalf("canceled ctx: %v", err)
	}
}

// hubFixture is a Hub on a real server with a pass-on that counts and
// pushes the wake-up back.
type hubFixture struct {
	h      *Hub
	wake   string
	passed atomic.Int32
}

func newHub(t *testing.T, tp *redistest.Topology, maxBlocking int) (*hubFixture, func(*Waiter)) {
	t.Helper()
	rdb := tp.Client(t)
	f := &hubFixture{wake: keys.Sub(keys.Base(redistest.Prefix(t), "k"), "wake")}
	f.h = NewHub(rdb, maxBlocking, nil)
	t.Cleanup(f.h.Close)
	push := func(w *Waiter) {
		t.Helper()
		if err := rdb.RPush(context.Background(), f.wake, "1").Err(); err != nil {
			t.Fatal(err)
		}
		if w == nil {
			return
		}
		for deadline := time.Now().Add(10 * time.Second); len(w.Woken()) == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the watcher did not hand the wake-up over")
			}
		}
	}
	return f, push
}

func (f *hubFixture) join() *Waiter {
	return f.h.Join(f.wake, func(ctx context.Context) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.passed.Add(1)
		return nil
	})
}

func (f *hubFixture) waitPassed(t *testing.T, want int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); f.passed.Load() < want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pass-ons = %d, want %d", f.passed.Load(), want)
		}
	}
}

// A waiter whose ctx ends right after it was woken leaves the wake-up to
// the next waiter of its process; the last one hands it back to Redis.
func TestHub_Leave_UnusedWakeUpPassedOn(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		f, push := newHub(t, tp, 1)
		w1, w2 := f.join(), f.join()
		push(w1)
		f.h.Leave(w1, false)
		select {
		case <-w2.Woken():
		case <-time.After(10 * time.Second):
			t.Fatal("the next waiter did not get the unused wake-up")
		}
		// w2 was woken and leaves unused too (drain and re-arm as a caller
		// that had not looked yet would).
		w2.ch <- struct{}{}
		f.h.Leave(w2, false)
		f.waitPassed(t, 1)
		// A consumed wake-up is not passed on.
		w3 := f.join()
		push(w3)
		f.h.Leave(w3, true)
		time.Sleep(20 * time.Millisecond)
		if n := f.passed.Load(); n != 1 {
			t.Fatalf("pass-ons = %d after a consumed wake-up, want 1", n)
		}
	})
}

// A wake-up that reaches the watcher while the Hub closes, with nobody
// left to take it, is passed on with a context of its own.
func TestHub_Close_WakeUpDuringClosePassedOn(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		f, push := newHub(t, tp, 1)
		w := f.join()
		for !f.h.Watched(w) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the watcher is in its BLPOP
		f.h.Leave(w, false)               // the watcher stays blocked for up to BlockTimeout
		closed := make(chan struct{})
		go func() { f.h.Close(); close(closed) }()
		time.Sleep(20 * time.Millisecond)
		push(nil)
		<-closed
		if n := f.passed.Load(); n != 1 {
			t.Fatalf("pass-ons = %d, want 1: the wake-up popped during Close was lost", n)
		}
		// After Close, a leaving waiter with a wake-up passes it on before
		// Leave returns.
		w2 := f.join()
		w2.ch <- struct{}{}
		f.h.Leave(w2, false)
		if n := f.passed.Load(); n != 2 {
			t.Fatalf("pass-ons = %d after Close, want 2", n)
		}
	})
}

// Redis restarted under a blocked watcher: it backs off, blocks again and
// still delivers the next wake-up.
func TestHub_RedisRestartMidWait(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{AOF: true})
	rdb := s.Client(t)
	wake := keys.Base(redistest.Prefix(t), "w")
	h := NewHub(rdb, 1, nil)
	defer h.Close()
	w := h.Join(wake, func(context.Context) error { return nil })
	defer h.Leave(w, true)
	time.Sleep(50 * time.Millisecond)
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := rdb.RPush(t.Context(), wake, "1").Err(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis did not come back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-w.Woken():
	case <-time.After(20 * time.Second):
		t.Fatal("no wake-up after the restart")
	}
}
