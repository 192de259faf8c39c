package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
)

func TestCache_Get_LoadsOnceThenHits(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		l := newCountingLoader(0, "a")
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: l})
		for i := range 3 {
			got, err := c.Get(ctx, "a")
			if err != nil {
				t.Fatalf("Get #%d: %v", i, err)
			}
			if diff := cmp.Diff(user{ID: "a", Name: "name-a"}, got); diff != "" {
				t.Errorf("Get #%d (-want +got):\n%s", i, diff)
			}
		}
		if n := l.calls.Load(); n != 1 {
			t.Errorf("loader calls = %d, want 1", n)
		}
		st := c.Stats()
		if st.Misses != 1 || st.RedisHits != 2 || st.Loads != 1 {
			t.Errorf("stats = %+v, want 1 miss, 2 Redis hits, 1 load", st)
		}
	})
}

func TestCache_Get_NoLoader(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := newTestCache[user](t, tp.Client(t), nil)
		if _, err := c.Get(context.Background(), "x"); !errors.Is(err, ErrNoLoader) {
			t.Errorf("Get err = %v, want ErrNoLoader", err)
		}
	})
}

func TestCache_Set_ThenGetAndDelete(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		l := newCountingLoader(0)
		for _, versioned := range []bool{false, true} {
			t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
				c := newTestCache(t, tp.Client(t), &Options[user]{Loader: l, VersionedFills: versioned,
					Local: &LocalOptions{}})
				want := user{ID: "k", Name: "set"}
				if err := c.Set(ctx, "k", want); err != nil {
					t.Fatal(err)
				}
				got, err := c.Get(ctx, "k")
				if err != nil || got != want {
					t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
				}
				if err := c.Delete(ctx, "k", "other"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get after Delete err = %v, want ErrNotFound from the loader", err)
				}
				n, err := tp.Client(t).Exists(ctx, c.Key("k")).Result()
				if err != nil || n != 1 {
					t.Errorf("negative entry exists = %d, %v; want 1", n, err)
				}
			})
		}
	})
}

func TestCache_Get_CorruptEntryReloaded(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		tests := []struct {
			name string
			raw  string
		}{
			{"garbage", "not an envelope at all"},
			{"empty", ""},
			{"truncated header", "\xa5\x01\x00"},
			{"future format", "\xa5\x09\x00\x01" + string(make([]byte, 16)) + `{}`},
			{"other codec", "\xa5\x01\x00\x03" + string(make([]byte, 16)) + `plain`},
			{"bad json", "\xa5\x01\x00\x01" + string(make([]byte, 16)) + `{"id":`},
			{"corrupt negative", "\xa5\x01\x01\x01" + string(make([]byte, 16)) + `x`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := newCountingLoader(0, "k")
				c := newTestCache(t, rdb, &Options[user]{Loader: l})
				if err := rdb.Set(ctx, c.Key("k"), tt.raw, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
				got, err := c.Get(ctx, "k")
				if err != nil || got.ID != "k" {
					t.Fatalf("Get = %+v, %v; want the loaded value", got, err)
				}
				if n := c.Stats().Corrupt; n != 1 {
					t.Errorf("Corrupt = %d, want 1", n)
				}
				raw, err := rdb.Get(ctx, c.Key("k")).Result()
				if err != nil {
					t.Fatal(err)
				}
				if _, v, err := decodeEntry(c.codec, raw); err != nil || v.ID != "k" {
					t.Errorf("entry after reload = %q (%v), want it overwritten", raw, err)
				}
			})
			// GetMany reloads and overwrites the same bytes. It reads
			// an empty value as a missing key (its MGET reply has no
			// other way to say missing), so only that one is not
			// counted as corrupt.
			t.Run(tt.name+"/GetMany", func(t *testing.T) {
				l := newCountingLoader(0, "k", "j")
				c := newTestCache(t, rdb, &Options[user]{Loader: l})
				if err := rdb.Set(ctx, c.Key("k"), tt.raw, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
				rs, err := c.GetMany(ctx, []string{"j", "k"})
				if err != nil || !rs[1].Found || rs[1].Value.ID != "k" {
					t.Fatalf("GetMany = %+v, %v; want the loaded value", rs, err)
				}
				want := int64(1)
				if tt.raw == "" {
					want = 0
				}
				if n := c.Stats().Corrupt; n != want {
					t.Errorf("Corrupt = %d, want %d", n, want)
				}
				raw, err := rdb.Get(ctx, c.Key("k")).Result()
				if err != nil {
					t.Fatal(err)
				}
				if _, v, err := decodeEntry(c.codec, raw); err != nil || v.ID != "k" {
					t.Errorf("entry after reload = %q (%v), want it overwritten", raw, err)
				}
			})
		}
	})
}

func TestCache_Get_CanceledFirstCallerDoesNotFailOthers(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		l := newCountingLoader(100*time.Millisecond, "k")
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: l})
		first, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { _, err := c.Get(first, "k"); errc <- err }()
		for l.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		results := make(chan error, 8)
		for range 8 {
			go func() {
				u, err := c.Get(context.Background(), "k")
				if err == nil && u.ID != "k" {
					err = fmt.Errorf("got %+v", u)
				}
				results <- err
			}()
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("canceled caller err = %v, want context.Canceled", err)
		}
		for range 8 {
			if err := <-results; err != nil {
				t.Errorf("other caller: %v", err)
			}
		}
		if n := l.calls.Load(); n != 1 {
			t.Errorf("loader calls = %d, want 1", n)
		}
	})
}

func TestCache_Get_LoaderErrorReachesAllWaiters(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		boom := errors.New("db down")
		release := make(chan struct{})
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
			<-release
			return user{}, boom
		})})
		errs := make(chan error, 16)
		for range 16 {
			go func() { _, err := c.Get(context.Background(), "k"); errs <- err }()
		}
		time.Sleep(50 * time.Millisecond) // let the callers join the load; not a correctness wait
		close(release)
		for range 16 {
			if err := <-errs; !errors.Is(err, boom) {
				t.Errorf("err = %v, want %v", err, boom)
			}
		}
		if st := c.Stats(); st.LoadErrors < 1 {
			t.Errorf("LoadErrors = %d, want >= 1", st.LoadErrors)
		}
	})
}

func TestCache_Get_LoaderPanicReachesAllWaiters(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		release := make(chan struct{})
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
			<-release
			panic("loader bug")
		})})
		got := make(chan any, 16)
		for range 16 {
			go func() {
				defer func() { got <- recover() }()
				_, _ = c.Get(context.Background(), "k")
			}()
		}
		time.Sleep(50 * time.Millisecond) // let the callers join the load; not a correctness wait
		close(release)
		for range 16 {
			r := <-got
			pe, ok := r.(*PanicError)
			if !ok || pe.Value != "loader bug" || len(pe.Stack) == 0 {
				t.Errorf("recovered %v, want *PanicError with the loader's value and stack", r)
			}
		}
	})
}

func TestCache_GetMany_InputOrderOneBatch(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		cmds := countCommands(rdb)
		var batches [][]string
		c := newTestCache(t, rdb, &Options[user]{
			BatchLoader: BatchLoaderFunc[user](func(ctx context.Context, ks []string) (map[string]user, error) {
				batches = append(batches, ks)
				out := map[string]user{}
				for _, k := range ks {
					if k != "gone" {
						out[k] = user{ID: k, Name: "loaded"}
					}
				}
				return out, nil
			}),
		})
		if err := c.Set(ctx, "b", user{ID: "b", Name: "set"}); err != nil {
			t.Fatal(err)
		}
		in := []string{"a", "b", "gone", "c", "a"}
		want := []Result[user]{
			{Value: user{ID: "a", Name: "loaded"}, Found: true},
			{Value: user{ID: "b", Name: "set"}, Found: true},
			{},
			{Value: user{ID: "c", Name: "loaded"}, Found: true},
			{Value: user{ID: "a", Name: "loaded"}, Found: true},
		}
		cmds.reset()
		got, err := c.GetMany(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("first GetMany (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([][]string{{"a", "gone", "c"}}, batches); diff != "" {
			t.Errorf("batch loader calls (-want +got):\n%s", diff)
		}
		wantMGET := 1
		if tp.IsCluster() { // one per slot
			wantMGET = len(keys.GroupBySlot([]string{c.Key("a"), c.Key("b"), c.Key("gone"), c.Key("c")}))
		}
		if n := cmds.get("mget"); n != wantMGET {
			t.Errorf("MGET commands = %d, want %d", n, wantMGET)
		}
		got, err = c.GetMany(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("second GetMany (-want +got):\n%s", diff)
		}
		if len(batches) != 1 {
			t.Errorf("batch loader calls = %d after warm GetMany, want 1", len(batches))
		}
		if st := c.Stats(); st.NegativeHits != 1 {
			t.Errorf("NegativeHits = %d, want 1 (gone)", st.NegativeHits)
		}
	})
}

func TestCache_GetMany_WithoutBatchLoaderUsesLoader(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		l := newCountingLoader(0, "a", "b")
		c := newTestCache(t, tp.Client(t), &Options[user]{Loader: l})
		got, err := c.GetMany(context.Background(), []string{"a", "x", "b"})
		if err != nil {
			t.Fatal(err)
		}
		if !got[0].Found || got[1].Found || !got[2].Found || got[2].Value.ID != "b" {
			t.Errorf("GetMany = %+v", got)
		}
		if n := l.calls.Load(); n != 3 {
			t.Errorf("loader calls = %d, want 3", n)
		}
	})
}

func TestNew_InvalidOptions(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	tests := []struct {
		name string
		opt  Options[user]
	}{
		{"brace in prefix", Options[user]{Prefix: "a{b"}},
		{"soft above hard", Options[user]{TTL: time.Second, SoftTTL: time.Minute}},
		{"refresh ahead without soft", Options[user]{RefreshAhead: time.Second}},
		{"jitter too big", Options[user]{Jitter: 0.95}},
		{"jitter NaN", Options[user]{Jitter: math.NaN()}},
		{"separator in prefix", Options[user]{Prefix: "a|b"}},
		{"versioned without lease", Options[user]{VersionedFills: true, DisableLease: true}},
		{"bloom without size", Options[user]{Bloom: &BloomOptions{}}},
		{"bad policy", Options[user]{FailPolicy: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := tt.opt
			if _, err := New(rdb, &opt); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New err = %v, want an options error", err)
			}
			if diff := cmp.Diff(tt.opt, opt, cmp.Comparer(func(a, b Loader[user]) bool { return a == b }),
				cmp.Comparer(func(a, b Codec[user]) bool { return a == b }), cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("New changed the caller's options:\n%s", diff)
			}
		})
	}
}

func TestCache_GetMany_VersionedFills(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		var calls int
		c := newTestCache(t, rdb, &Options[user]{VersionedFills: true,
			BatchLoader: BatchLoaderFunc[user](func(ctx context.Context, ks []string) (map[string]user, error) {
				calls++
				return map[string]user{"a": {ID: "a"}, "b": {ID: "b"}}, nil
			})})
		if err := c.Delete(ctx, "b"); err != nil { // b has a marker, a has none
			t.Fatal(err)
		}
		for range 2 {
			got, err := c.GetMany(ctx, []string{"a", "b", "c"})
			if err != nil {
				t.Fatal(err)
			}
			if !got[0].Found || !got[1].Found || got[2].Found {
				t.Errorf("GetMany = %+v", got)
			}
		}
		if calls != 1 {
			t.Errorf("batch loads = %d, want 1 (the fills landed)", calls)
		}
		raw, err := rdb.Get(ctx, c.Key("b")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if e, _, err := decodeEntry(c.codec, raw); err != nil || e.version != 1 {
			t.Errorf("b envelope = %+v, %v; want version 1 from its marker", e, err)
		}
	})
}

func TestCache_GetWith_PerCallLoader(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		c := newTestCache[user](t, tp.Client(t), nil)
		byEmail := LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
			return user{ID: "7", Name: key}, nil
		})
		u, err := c.GetWith(ctx, "ada@example.com", byEmail)
		if err != nil || u.Name != "ada@example.com" {
			t.Fatalf("GetWith = %+v, %v", u, err)
		}
		if u, err := c.Get(ctx, "ada@example.com"); err != nil || u.ID != "7" {
			t.Errorf("Get of the loaded key = %+v, %v; want the cached value", u, err)
		}
	})
}

func TestCache_Set_WithTTL(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		c := newTestCache[user](t, rdb, &Options[user]{Jitter: -1})
		if err := c.Set(ctx, "k", user{ID: "k"}, WithTTL(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if ttl, err := rdb.PTTL(ctx, c.Key("k")).Result(); err != nil || ttl <= 55*time.Second || ttl > time.Minute {
			t.Errorf("PTTL = %v, %v; want about 1m", ttl, err)
		}
		if err := c.Set(ctx, "k", user{}, WithTTL(0)); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Set with a zero TTL = %v, want an error", err)
		}
	})
}

func TestNew_TypedNilClient(t *testing.T) {
	var typed *redis.Client
	if _, err := New[user](typed, nil); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New with a typed-nil client: %v, want ErrInvalidOptions", err)
	}
}
