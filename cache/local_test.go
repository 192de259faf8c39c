package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
)

func TestLocal_EvictsWhenFull(t *testing.T) {
	l := newLocal[int](64, time.Minute, 0)
	for i := range 1000 {
		l.set(fmt.Sprint(i), i, false, 0)
	}
	if n := l.len(); n > 64+len(l.shards) {
		t.Errorf("len = %d, want about 64", n)
	}
	if e, ok := l.get("999"); !ok || e.val != 999 {
		t.Errorf("latest entry missing")
	}
}

func TestLocal_KeepsReferencedEntries(t *testing.T) {
	l := newLocal[int](8, time.Minute, 0) // one shard of 8
	if len(l.shards) != 1 {
		t.Fatalf("shards = %d, want 1 for a size of 8", len(l.shards))
	}
	for i := range 8 {
		l.set(fmt.Sprint(i), i, false, 0)
	}
	for range 3 {
		l.get("0") // hot
	}
	for i := 8; i < 15; i++ { // 7 new entries
		l.set(fmt.Sprint(i), i, false, 0)
	}
	if _, ok := l.get("0"); !ok {
		t.Errorf("the hot entry was evicted")
	}
}

func TestLocal_ExpiresAndDeletes(t *testing.T) {
	l := newLocal[int](100, time.Minute, 0)
	l.set("short", 1, false, time.Nanosecond)
	l.set("a", 1, false, 0)
	l.set("b", 2, false, 0)
	time.Sleep(time.Millisecond)
	if _, ok := l.get("short"); ok {
		t.Errorf("expired entry served")
	}
	l.del("a")
	if _, ok := l.get("a"); ok {
		t.Errorf("deleted entry served")
	}
	if _, ok := l.get("b"); !ok {
		t.Errorf("b lost by deleting a")
	}
	l.flush()
	if n := l.len(); n != 0 {
		t.Errorf("len after flush = %d", n)
	}
}

// TestCache_Local_KeptRightOnSetAndDelete: this process's Set and Delete
// update L1 at once; InvalidateLocal and FlushLocal drop entries so the
// next Get reads Redis.
func TestCache_Local_KeptRightOnSetAndDelete(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		cmds := countCommands(rdb)
		l := newCountingLoader(0, "k")
		c := newTestCache(t, rdb, &Options[user]{Loader: l, Local: &LocalOptions{TTL: time.Minute}})
		if _, err := c.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		cmds.reset()
		for range 10 {
			if u, err := c.Get(ctx, "k"); err != nil || u.ID != "k" {
				t.Fatalf("Get = %+v, %v", u, err)
			}
		}
		if n := cmds.total(); n != 0 {
			t.Errorf("L1 hits sent %d Redis commands, want 0", n)
		}
		if n := c.Stats().LocalHits; n != 10 {
			t.Errorf("LocalHits = %d, want 10", n)
		}
		if err := c.Set(ctx, "k", user{ID: "k", Name: "set"}); err != nil {
			t.Fatal(err)
		}
		if u, _ := c.Get(ctx, "k"); u.Name != "set" {
			t.Errorf("Get after Set = %+v, want the set value from L1", u)
		}
		// Another process writes Redis directly; L1 still answers until invalidated.
		other := newTestCache(t, tp.Client(t), &Options[user]{Prefix: c.Prefix()})
		if err := other.Set(ctx, "k", user{ID: "k", Name: "other"}); err != nil {
			t.Fatal(err)
		}
		if u, _ := c.Get(ctx, "k"); u.Name != "set" {
			t.Errorf("Get = %+v, want the L1 value before invalidation", u)
		}
		c.InvalidateLocal("k")
		if u, _ := c.Get(ctx, "k"); u.Name != "other" {
			t.Errorf("Get after InvalidateLocal = %+v, want other", u)
		}
		if err := other.Set(ctx, "k", user{ID: "k", Name: "third"}); err != nil {
			t.Fatal(err)
		}
		c.FlushLocal()
		if u, _ := c.Get(ctx, "k"); u.Name != "third" {
			t.Errorf("Get after FlushLocal = %+v, want third", u)
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if u, _ := c.Get(ctx, "k"); u.Name != "name-k" {
			t.Errorf("Get after Delete = %+v, want a reload", u)
		}
	})
}

// TestCache_Close_NoLeaks: after Close (and the client's close) no
// goroutine of the cache is left, including background refreshes.
// Not parallel: goleak compares against the goroutines at its start.
func TestCache_Close_NoLeaks(t *testing.T) {
	ctx := context.Background()
	// Start the shared server (if no test has yet) before the snapshot.
	if err := redistest.Standalone.Client(t).Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	ignore := goleak.IgnoreCurrent()
	rdb := redistest.Standalone.NewClient(t)
	var calls atomic.Int64
	loadingB := make(chan struct{})
	l := LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
		calls.Add(1)
		if key == "b" {
			close(loadingB)
		}
		time.Sleep(20 * time.Millisecond)
		return user{ID: key}, nil
	})
	c, err := New(rdb, &Options[user]{Prefix: redistest.Prefix(t), Loader: l, SoftTTL: time.Minute,
		Local: &LocalOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	putEntry(t, c, "a", user{ID: "a"}, time.Now().Add(-time.Second))
	if _, err := c.Get(ctx, "a"); err != nil { // stale: starts a refresh
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := c.Get(gone, "b"); done <- err }()
	<-loadingB
	cancel() // the caller gives up; the detached load goes on
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Get = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("loads finished by Close = %d, want 2 (refresh of a, load of b)", n)
	}
	if _, err := c.Get(ctx, "zzz"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get needing a load after Close = %v, want ErrClosed", err)
	}
	_ = rdb.Close()
	goleak.VerifyNone(t, ignore)
}
