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

func TestClient_Do_Outcomes(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newClient(t, rdb, prefix)
		other := newClient(t, tp.Client(t), prefix)
		errBoom := errors.New("boom")

		t.Run("fn ok", func(t *testing.T) {
			ran := false
			err := c.Do(ctx, "ok", time.Second, func(ctx context.Context) error {
				ran = true
				if _, err := other.TryObtain(ctx, "ok", time.Second); !errors.Is(err, lock.ErrNotObtained) {
					t.Errorf("lock not held during fn: %v", err)
				}
				return nil
			})
			if err != nil || !ran {
				t.Fatalf("Do = %v, ran %v", err, ran)
			}
			l, err := other.TryObtain(ctx, "ok", time.Second)
			if err != nil {
				t.Fatalf("lock not released after Do: %v", err)
			}
			l.Release(ctx)
		})

		t.Run("fn failed", func(t *testing.T) {
			err := c.Do(ctx, "fail", time.Second, func(context.Context) error { return errBoom })
			if !errors.Is(err, lock.ErrFailed) || !errors.Is(err, errBoom) {
				t.Fatalf("Do = %v, want ErrFailed wrapping fn's error", err)
			}
			if errors.Is(err, lock.ErrLost) || errors.Is(err, lock.ErrNotObtained) {
				t.Fatalf("Do = %v: fn failure reported as a lock failure", err)
			}
		})

		t.Run("not obtained", func(t *testing.T) {
			l, err := other.TryObtain(ctx, "busy", 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release(ctx)
			ran := false
			fn := func(context.Context) error { ran = true; return nil }
			if err := c.Do(ctx, "busy", time.Second, fn, lock.NoWait()); !errors.Is(err, lock.ErrNotObtained) {
				t.Fatalf("Do with NoWait on a held lock = %v, want ErrNotObtained", err)
			}
			wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			err = c.Do(wctx, "busy", time.Second, fn)
			if !errors.Is(err, lock.ErrNotObtained) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Do past deadline = %v, want ErrNotObtained joined with DeadlineExceeded", err)
			}
			if ran {
				t.Fatal("fn ran without the lock")
			}
		})

		t.Run("lost while running", func(t *testing.T) {
			err := c.Do(ctx, "lost", 3*time.Second, func(fctx context.Context) error {
				if err := rdb.Del(ctx, keys.Base(prefix, "lost")).Err(); err != nil {
					return err
				}
				<-fctx.Done() // the watchdog's next renewal finds the lock gone
				return context.Cause(fctx)
			})
			if !errors.Is(err, lock.ErrLost) {
				t.Fatalf("Do = %v, want ErrLost", err)
			}
			if errors.Is(err, lock.ErrFailed) {
				t.Fatalf("Do = %v: loss reported as fn failure", err)
			}
		})

		t.Run("panic releases", func(t *testing.T) {
			func() {
				defer func() {
					if recover() == nil {
						t.Error("panic not propagated")
					}
				}()
				_ = c.Do(ctx, "panic", 10*time.Second, func(context.Context) error { panic("fn panicked") })
			}()
			l, err := other.TryObtain(ctx, "panic", time.Second)
			if err != nil {
				t.Fatalf("lock not released after fn panicked: %v", err)
			}
			l.Release(ctx)
		})
	})
}
