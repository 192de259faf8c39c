package consistency

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/google/go-cmp/cmp"
)

func TestOptions_withDefaults(t *testing.T) {
	tests := []struct {
		name    string
		opt     *Options
		want    func(o Options) bool
		wantErr bool
	}{
		{name: "nil", opt: nil, want: func(o Options) bool {
			return o.Mode == DeleteAfterWrite && o.Shards == 16 && o.Topic == "aside:inv:p" &&
				o.DelayFactor == 2 && o.MinDelay == 100*time.Millisecond && o.Retries == 3 &&
				o.IntentTimeout == 10*time.Second && o.ClaimTimeout == 10*time.Second && o.PollInterval == time.Second
		}},
		{name: "no retries", opt: &Options{Retries: -1}, want: func(o Options) bool { return o.Retries == 0 }},
		{name: "topic kept", opt: &Options{Topic: "t"}, want: func(o Options) bool { return o.Topic == "t" }},
		{name: "bad mode", opt: &Options{Mode: 7}, wantErr: true},
		{name: "negative delay", opt: &Options{Delay: -1}, wantErr: true},
		{name: "too many shards", opt: &Options{Shards: 5000}, wantErr: true},
		{name: "brace in namespace", opt: &Options{Namespace: "a{b"}, wantErr: true},
		{name: "tiny claim timeout", opt: &Options{ClaimTimeout: time.Microsecond}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before Options
			if tt.opt != nil {
				before = *tt.opt
			}
			got, err := tt.opt.withDefaults("p")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("err = %v, want it to wrap ErrInvalidOptions", err)
			}
			if err == nil && !tt.want(got) {
				t.Errorf("withDefaults = %+v", got)
			}
			if tt.opt != nil && !cmp.Equal(before, *tt.opt, cmp.Comparer(func(a, b func(error)) bool { return true })) {
				t.Errorf("withDefaults changed the caller's options")
			}
		})
	}
}

func TestMode_String(t *testing.T) {
	got := []string{DeleteAfterWrite.String(), DoubleDelete.String(), Strong.String(), Mode(9).String()}
	want := []string{"delete-after-write", "double-delete", "strong", "Mode(9)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestNew_StrongNeedsVersionedFills(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	_, err := New(rdb, &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}, &Options{Mode: Strong, NoBroadcast: true})
	if !errors.Is(err, ErrNotVersioned) {
		t.Errorf("New(Strong) on an unversioned cache = %v, want ErrNotVersioned", err)
	}
	k := newKeeper(t, rdb, &fakeCache{rdb: rdb, prefix: redistest.Prefix(t), versioned: true}, &Options{Mode: Strong, NoBroadcast: true})
	if k.Mode() != Strong || k.Delay() != 0 {
		t.Errorf("Mode, Delay = %v, %v; want strong, 0", k.Mode(), k.Delay())
	}
}

func TestKeeper_Delay_FollowsLoadLatency(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	k := newKeeper(t, rdb, f, &Options{Mode: DoubleDelete, NoBroadcast: true, DelayFactor: 3})
	if got := k.Delay(); got != 100*time.Millisecond {
		t.Errorf("Delay with no loads observed = %v, want MinDelay 100ms", got)
	}
	f.latency = 200 * time.Millisecond
	if got := k.Delay(); got != 600*time.Millisecond {
		t.Errorf("Delay with p99 200ms x 3 = %v, want 600ms", got)
	}
}

func TestKeeper_Write_DeletesAfterChange(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
		k := newKeeper(t, rdb, f, &Options{NoBroadcast: true})
		ks := []string{"a", "b", "c", "a"}
		for _, key := range ks {
			f.set(t, key, "old")
		}
		ran := false
		err := k.Write(context.Background(), func(ctx context.Context) error {
			ran = true
			if n := zcard(t, k, "intent"); n != 3 {
				t.Errorf("intents recorded before the change = %d, want 3", n)
			}
			if !f.exists(t, "a") {
				t.Errorf("key deleted before the change ran")
			}
			return nil
		}, ks...)
		if err != nil || !ran {
			t.Fatalf("Write = %v, ran %v", err, ran)
		}
		for _, key := range ks {
			if f.exists(t, key) {
				t.Errorf("key %s still cached after Write", key)
			}
		}
		if n := zcard(t, k, "intent"); n != 0 {
			t.Errorf("intents left after a finished write = %d, want 0", n)
		}
		if n := zcard(t, k, ""); n != 0 {
			t.Errorf("second deletes scheduled in delete-after-write mode = %d, want 0", n)
		}
		if s := k.Stats(); s.Writes != 1 || s.Invalidated != 3 {
			t.Errorf("Stats = %+v, want 1 write, 3 keys invalidated", s)
		}
	})
}

func TestKeeper_Write_DoubleDeleteRemovesStaleFill(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
		const delay = 300 * time.Millisecond
		k := newKeeper(t, rdb, f, &Options{Mode: DoubleDelete, Delay: delay, NoBroadcast: true})
		start := time.Now()
		if err := k.Write(context.Background(), nil, "row:1"); err != nil {
			t.Fatal(err)
		}
		// A reader that loaded the old row before the write fills it in now.
		f.set(t, "row:1", "stale")
		waitFor(t, "the second delete", func() bool { return !f.exists(t, "row:1") })
		if el := time.Since(start); el < delay {
			t.Errorf("second delete ran %v after the write, before its delay %v", el, delay)
		}
		waitFor(t, "the second delete's count", func() bool { return k.Stats().Executed >= 1 })
		if s := k.Stats(); s.Scheduled != 1 || s.Executed != 1 {
			t.Errorf("Stats = %+v, want 1 scheduled, 1 executed", s)
		}
		if n := zcard(t, k, "claim"); n != 0 {
			t.Errorf("claims left after the second delete = %d", n)
		}
		if n := zcard(t, k, ""); n != 0 {
			t.Errorf("schedule entries left = %d, want 0", n)
		}
	})
}

func TestKeeper_Write_ChangeErrorReturnedAsIs(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	k := newKeeper(t, rdb, f, &Options{NoBroadcast: true, IntentTimeout: time.Hour})
	f.set(t, "k", "v")
	boom := errors.New("constraint violated")
	err := k.Write(context.Background(), func(context.Context) error { return boom }, "k")
	if !errors.Is(err, boom) || errors.Is(err, ErrPending) {
		t.Errorf("Write = %v, want the change's error alone", err)
	}
	if !f.exists(t, "k") {
		t.Errorf("key deleted although the change failed")
	}
	if n := zcard(t, k, "intent"); n != 1 {
		t.Errorf("intents after a failed change = %d, want 1 (a failed COMMIT may have committed)", n)
	}
}

func TestKeeper_Write_RetriesFailedDelete(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	k := newKeeper(t, rdb, f, &Options{NoBroadcast: true})
	f.set(t, "k", "v")
	f.fail.Store(2)
	if err := k.Write(context.Background(), nil, "k"); err != nil {
		t.Fatalf("Write with 2 failing deletes and 3 retries = %v", err)
	}
	if f.exists(t, "k") {
		t.Errorf("key still cached")
	}
	if s := k.Stats(); s.Retries != 2 {
		t.Errorf("Retries = %d, want 2", s.Retries)
	}
}

func TestKeeper_Write_PendingFinishedByIntent(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		rdb := tp.Client(t)
		f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
		k := newKeeper(t, rdb, f, &Options{NoBroadcast: true, Retries: -1, IntentTimeout: 300 * time.Millisecond, PollInterval: 50 * time.Millisecond})
		f.set(t, "k", "v")
		f.fail.Store(1)
		err := k.Write(context.Background(), nil, "k")
		if !errors.Is(err, ErrPending) || !errors.Is(err, errInjected) {
			t.Fatalf("Write with a failing delete = %v, want ErrPending joined with the cause", err)
		}
		waitFor(t, "the intent to delete the key", func() bool { return !f.exists(t, "k") })
		waitFor(t, "the intent to be counted", func() bool { return k.Stats().Recovered == 1 })
		if s := k.Stats(); s.Pending != 1 {
			t.Errorf("Pending = %d, want 1", s.Pending)
		}
	})
}

func TestKeeper_Write_UnavailableDoesNotChange(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{})
	rdb := s.Client(t)
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	k := newKeeper(t, rdb, f, &Options{NoBroadcast: true})
	s.Kill()
	ran := false
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := k.Write(ctx, func(context.Context) error { ran = true; return nil }, "k")
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Write with Redis down = %v, want ErrUnavailable", err)
	}
	if ran {
		t.Errorf("the database change ran although its intent was not recorded")
	}
}

func TestKeeper_Write_AfterClose(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	k, err := New(rdb, &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := k.Write(context.Background(), nil, "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the client was closed by Close: %v", err)
	}
}

func TestKeeper_Claim_ReclaimedAfterCrash(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		rdbA := tp.Client(t)
		fa := &fakeCache{rdb: rdbA, prefix: prefix}
		opt := &Options{Mode: DoubleDelete, Delay: time.Millisecond, MinDelay: time.Millisecond, NoBroadcast: true,
			ClaimTimeout: 300 * time.Millisecond, PollInterval: 50 * time.Millisecond}
		// Instance A schedules a delete and claims it, then "dies" before
		// running it: its runner is stopped first, its claim stays.
		a := newKeeper(t, rdbA, fa, opt)
		a.cancel()
		a.wg.Wait()
		ctx := context.Background()
		if err := a.sched.commit(ctx, a.sched.byShard(newID(), []string{"x"}), time.Millisecond); err != nil {
			t.Fatal(err)
		}
		fa.set(t, "x", "stale")
		var cs []claimed
		waitFor(t, "A's claim", func() bool {
			var err error
			cs, _, _, err = a.sched.claim(ctx, opt.ClaimTimeout)
			if err != nil {
				t.Fatal(err)
			}
			return len(cs) == 1
		})
		claimedAt := time.Now()
		b := newKeeper(t, tp.Client(t), &fakeCache{rdb: tp.Client(t), prefix: prefix}, opt)
		waitFor(t, "B to run A's abandoned delete", func() bool { return !fa.exists(t, "x") })
		if el := time.Since(claimedAt); el < opt.ClaimTimeout-50*time.Millisecond {
			t.Errorf("B ran a live claim %v after it was taken (claim timeout %v)", el, opt.ClaimTimeout)
		}
		waitFor(t, "B's count", func() bool { return b.Stats().Executed == 1 })
		// A's late release must not remove anything B owns now.
		if err := a.sched.done(ctx, cs); err != nil {
			t.Fatal(err)
		}
		if n := zcard(t, b, "claim"); n != 0 {
			t.Errorf("claims left = %d", n)
		}
	})
}

func TestKeeper_Broadcast_DropsOtherInstancesL1(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		var fs []*fakeCache
		var ks []*Keeper
		for range 3 {
			rdb := tp.Client(t)
			f := &fakeCache{rdb: rdb, prefix: prefix}
			fs = append(fs, f)
			ks = append(ks, newKeeper(t, rdb, f, nil))
		}
		if err := ks[0].Write(context.Background(), nil, "u:1", "u:2"); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 3; i++ {
			waitFor(t, "the invalidation message", func() bool { return ks[i].Stats().Received == 1 })
			local, _, _ := fs[i].snapshot()
			slices.Sort(local)
			if diff := cmp.Diff([]string{"u:1", "u:2"}, local); diff != "" {
				t.Errorf("instance %d L1 drops (-want +got)\n%s", i, diff)
			}
		}
		if local, _, deletes := fs[0].snapshot(); len(local) != 0 || deletes != 1 {
			t.Errorf("writer: L1 drops %v (want none: Delete did it), deletes %d (want 1)", local, deletes)
		}
	})
}

func TestKeeper_Broadcast_GapFlushesL1(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{})
	rdb := s.Client(t)
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	k := newKeeper(t, rdb, f, nil)
	admin := s.Client(t)
	if err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the L1 flush after the subscription gap", func() bool { return k.Stats().Flushes > 0 })
	if _, flushes, _ := f.snapshot(); flushes == 0 {
		t.Errorf("FlushLocal not called")
	}
	// The subscription resumed: a message from another instance arrives.
	other := newKeeper(t, s.Client(t), &fakeCache{rdb: rdb, prefix: f.prefix}, nil)
	waitFor(t, "a message after the gap", func() bool {
		if err := other.Invalidate(context.Background(), "k"); err != nil {
			t.Fatal(err)
		}
		return k.Stats().Received > 0
	})
}

// TestKeeper_Schedule_EachDeleteRunOnce checks the claim: three instances
// share the schedule, and every second delete runs on exactly one of them.
func TestKeeper_Schedule_EachDeleteRunOnce(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		opt := &Options{Mode: DoubleDelete, Delay: 100 * time.Millisecond, NoBroadcast: true, PollInterval: 20 * time.Millisecond}
		var ks []*Keeper
		for range 3 {
			rdb := tp.Client(t)
			ks = append(ks, newKeeper(t, rdb, &fakeCache{rdb: rdb, prefix: prefix}, opt))
		}
		const n = 60
		for i := range n {
			if err := ks[i%3].Write(context.Background(), nil, fmt.Sprintf("k%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		total := func() int64 {
			var sum int64
			for _, k := range ks {
				sum += k.Stats().Executed
			}
			return sum
		}
		waitFor(t, "every second delete", func() bool { return total() >= n })
		waitFor(t, "the claims' release", func() bool { return zcard(t, ks[0], "claim")+zcard(t, ks[0], "") == 0 })
		if got := total(); got != n {
			t.Errorf("second deletes run %d times in all, want %d (once each)", got, n)
		}
	})
}

func TestNew_TypedNilCache(t *testing.T) {
	var typed *cache.Cache[string]
	if _, err := New(redistest.Standalone.Client(t), typed, nil); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New with a typed-nil cache: %v, want ErrInvalidOptions", err)
	}
}
