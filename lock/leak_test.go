package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

// Every goroutine the package starts (watchdogs, wake watchers) ends once
// locks are released and the Client is closed. Not parallel: goleak sees
// every goroutine of the process.
func TestClient_Close_NoGoroutinesLeft(t *testing.T) {
	rdb := redistest.Standalone.NewClient(t) // starts the shared server first
	defer rdb.Close()
	checkLeaks(t)
	prefix := redistest.Prefix(t)
	c, err := lock.New(rdb, &lock.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	l, err := c.Obtain(ctx, "k", time.Second, lock.WithWatchdog(true))
	if err != nil {
		t.Fatal(err)
	}
	// A waiter that gives up, and one that gets the lock.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	if _, err := c.Obtain(wctx, "k", time.Second); !errors.Is(err, lock.ErrNotObtained) {
		t.Fatalf("Obtain: %v", err)
	}
	cancel()
	got := make(chan error, 1)
	go func() {
		obtainRelease := func() error {
			w, err := c.Obtain(ctx, "k", time.Second, lock.WithWatchdog(true))
			if err != nil {
				return err
			}
			return w.Release(ctx)
		}
		got <- obtainRelease()
	}()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	sem, err := c.NewSemaphore("s", 2)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sem.Acquire(ctx, time.Second, lock.WithWatchdog(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// A lock lost while its watchdog ran: the watchdog stops by itself.
	lost, err := c.Obtain(ctx, "gone", 300*time.Millisecond, lock.WithWatchdog(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Del(ctx, keys.Base(prefix, "gone")).Err(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, lost.Context(), 10*time.Second, "deleted lock")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
