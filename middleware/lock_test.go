package middleware

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

func newLocker(tb testing.TB, tp *redistest.Topology, prefix string) *lock.Client {
	tb.Helper()
	l, err := lock.New(tp.Client(tb), &lock.Options{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = l.Close() })
	return l
}

func TestLock(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		t.Run("one handler at a time per key", func(t *testing.T) {
			t.Parallel()
			// Two instances, each with its own client and lock.Client.
			var inside, maxInside atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond) // widen the window a second holder would need
				inside.Add(-1)
				io.WriteString(w, "ok")
			})
			key := func(r *http.Request) (string, bool) { return "acct:" + r.URL.Query().Get("id"), true }
			var urls [2]string
			prefix := redistest.Prefix(t)
			for i := range urls {
				mw, err := lockHandler(newLocker(t, tp, prefix), LockOptions{Key: key, TTL: 5 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				urls[i] = startServer(t, mw(h)).URL
			}
			var wg sync.WaitGroup
			var ok atomic.Int32
			for i := range 20 {
				wg.Go(func() {
					resp, err := http.Get(urls[i%2] + "/?id=7")
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if maxInside.Load() != 1 || ok.Load() != 20 {
				t.Errorf("max handlers inside at once = %d, 200s = %d; want 1 and 20", maxInside.Load(), ok.Load())
			}
		})
		t.Run("busy without waiting gets 409", func(t *testing.T) {
			t.Parallel()
			entered, release := make(chan struct{}), make(chan struct{})
			mw, err := lockHandler(newLocker(t, tp, redistest.Prefix(t)), LockOptions{Wait: -1, Key: func(r *http.Request) (string, bool) {
				return "k", r.URL.Path != "/free"
			}})
			if err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			srv := startServer(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					once.Do(func() { close(entered) })
					<-release
				}
				io.WriteString(w, "ok")
			})))
			done := make(chan struct{})
			go func() { defer close(done); do(t, srv.Client(), "GET", srv.URL+"/hold", nil) }()
			wait(t, entered, "the holder to enter")
			resp, got := do(t, srv.Client(), "GET", srv.URL+"/other", nil)
			if resp.StatusCode != http.StatusConflict {
				t.Errorf("while held: %d %q, want 409", resp.StatusCode, got)
			}
			problemOf(t, resp, got)
			if resp, _ := do(t, srv.Client(), "GET", srv.URL+"/free", nil); resp.StatusCode != 200 {
				t.Errorf("unlocked route: %d", resp.StatusCode)
			}
			close(release)
			wait(t, done, "the holder to finish")
			if resp, _ := do(t, srv.Client(), "GET", srv.URL+"/other", nil); resp.StatusCode != 200 {
				t.Errorf("after release: %d, want 200", resp.StatusCode)
			}
		})
	})
}

// TestLock_lost deletes the lock's key while the handler runs, as an
// expired lease would: the handler's context is canceled with lock.ErrLost.
func TestLock_lost(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		mw, err := lockHandler(newLocker(t, tp, prefix), LockOptions{TTL: 300 * time.Millisecond, Key: func(r *http.Request) (string, bool) { return "job", true }})
		if err != nil {
			t.Fatal(err)
		}
		entered := make(chan struct{})
		cause := make(chan error, 1)
		srv := startServer(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			select {
			case <-r.Context().Done():
				cause <- context.Cause(r.Context())
			case <-time.After(20 * time.Second):
				cause <- nil
			}
		})))
		go func() {
			resp, err := http.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
		}()
		wait(t, entered, "the handler to enter")
		if err := tp.Client(t).Del(context.Background(), "{"+prefix+"|job}").Err(); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, cause, "the handler context"); !errors.Is(err, lock.ErrLost) {
			t.Errorf("handler context cause = %v, want lock.ErrLost", err)
		}
	})
}

// With Redis down, a request under Lock with the default Wait (as long as
// the request lasts) is answered 503 once the lock client gives up
// (lock.ErrUnavailable), instead of hanging until the client goes away.
func TestLock_redisDown(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	locker, err := lock.New(s.Client(t), &lock.Options{Prefix: redistest.Prefix(t), OpTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	mw, err := lockHandler(locker, LockOptions{Key: func(r *http.Request) (string, bool) { return r.URL.Path, true }})
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	srv := startServer(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran.Store(true) })))
	s.Kill()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, body := do(t, client, "POST", srv.URL+"/orders/1", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("Redis down: %d %q, want 503 with Retry-After", resp.StatusCode, body)
	}
	if ran.Load() {
		t.Error("the handler ran without the lock")
	}
}

func TestLock_invalidOptions(t *testing.T) {
	if _, err := NewLock(nil, &LockOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Lock(nil) = %v, want ErrInvalidOptions", err)
	}
}

// lockHandler is NewLock(...).Handler, as the tests use it.
func lockHandler(locker *lock.Client, opt LockOptions) (func(http.Handler) http.Handler, error) {
	m, err := NewLock(locker, &opt)
	if err != nil {
		return nil, err
	}
	return m.Handler, nil
}
