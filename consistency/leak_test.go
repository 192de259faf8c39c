package consistency

import (
	"context"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"go.uber.org/goleak"
)

// TestKeeper_Close_NoGoroutineLeft runs a Keeper through writes, a second
// delete and a broadcast, closes it, and checks that none of its goroutines
// (schedule runner, subscription) is left. It does not run in parallel, so
// the other tests' goroutines are not counted.
func TestKeeper_Close_NoGoroutineLeft(t *testing.T) {
	rdb := redistest.Standalone.Client(t) // started before the snapshot
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs last
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	opt := &Options{Mode: DoubleDelete, Delay: 50 * time.Millisecond}
	a, err := New(rdb, f, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(rdb, &fakeCache{rdb: rdb, prefix: f.prefix}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Write(context.Background(), nil, "k"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second delete", func() bool { return a.Stats().Executed+b.Stats().Executed == 1 })
	waitFor(t, "the broadcast", func() bool { return b.Stats().Received >= 1 })
	for _, k := range []*Keeper{a, b} {
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
