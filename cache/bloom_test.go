package cache

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/aside-go/aside/internal/redistest"
)

// realKeys are the keys that "exist" in the bloom tests.
func realKeys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("user-%d", i)
	}
	return ks
}

func sourceOf(ks ...string) func(context.Context, func(string)) error {
	return func(_ context.Context, add func(string)) error {
		for _, k := range ks {
			add(k)
		}
		return nil
	}
}

// outside returns n lookups of absent keys that the filter built from
// real rejects (a false positive would rightly pass the guard).
func outside(opt BloomOptions, real []string, n int) []string {
	m, k := bloom.EstimateParameters(opt.Expected, opt.FalsePositive)
	f := bloom.New(m, k)
	for _, r := range real {
		f.AddString(r)
	}
	var out []string
	for i := 0; len(out) < n; i++ {
		if k := fmt.Sprintf("ghost-%d", i%2000); !f.TestString(k) {
			out = append(out, k)
		}
	}
	return out
}

// TestCache_Get_PenetrationBloom: 10,000 lookups of keys outside the
// filter make zero loads; in-process they make zero Redis calls, shared
// only the GET that misses and one filter script each (no lease, no write).
func TestCache_Get_PenetrationBloom(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		for _, shared := range []bool{false, true} {
			t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
				ctx := context.Background()
				real := realKeys(500)
				bo := BloomOptions{Expected: 1000, FalsePositive: 0.01, Shared: shared, Source: sourceOf(real...)}
				rdb := tp.Client(t)
				cmds := countCommands(rdb)
				l := newCountingLoader(0, real...)
				c := newTestCache(t, rdb, &Options[user]{Loader: l, Bloom: &bo})
				if err := c.RebuildBloom(ctx); err != nil {
					t.Fatal(err)
				}
				ghosts := outside(bo, real, 10000)
				cmds.reset()
				lookupAll(t, c, ghosts)
				if n := l.calls.Load(); n != 0 {
					t.Errorf("loader calls = %d, want 0", n)
				}
				if n := c.Stats().BloomRejects; n != 10000 {
					t.Errorf("BloomRejects = %d, want 10000", n)
				}
				// In-process: no Redis call at all. Shared: the GET (a miss)
				// and one filter script each; no write, no lease.
				wantGets, wantScripts := 0, 0
				if shared {
					wantGets, wantScripts = 10000, 10000
				}
				if n := cmds.get("get"); n != wantGets {
					t.Errorf("GET = %d, want %d", n, wantGets)
				}
				// EVAL only where EVALSHA met NOSCRIPT (first use: it loads the script).
				if n := cmds.get("evalsha"); n != wantScripts {
					t.Errorf("EVALSHA = %d, want %d", n, wantScripts)
				}
				if n := cmds.total() - cmds.get("get") - cmds.get("evalsha") - cmds.get("eval"); n != 0 {
					t.Errorf("other Redis commands = %d, want 0: %v", n, cmds.n)
				}
				// Real keys pass and load.
				if u, err := c.Get(ctx, "user-7"); err != nil || u.ID != "user-7" {
					t.Errorf("Get(user-7) = %+v, %v", u, err)
				}
				// Set adds to the filter.
				l.mu.Lock()
				l.data["fresh"] = user{ID: "fresh"}
				l.mu.Unlock()
				if err := c.Set(ctx, "fresh", user{ID: "fresh"}); err != nil {
					t.Fatal(err)
				}
				c.FlushLocal()
				if err := rdb.Del(ctx, c.Key("fresh")).Err(); err != nil {
					t.Fatal(err)
				}
				if u, err := c.Get(ctx, "fresh"); err != nil || u.ID != "fresh" {
					t.Errorf("Get(fresh) after Set = %+v, %v; want it through the filter", u, err)
				}
			})
		}
	})
}

// TestCache_RebuildBloom_SwapsAndPassesUntilBuilt: an unbuilt filter lets
// everything through; a rebuild from a new source swaps the filter in.
func TestCache_RebuildBloom_SwapsAndPassesUntilBuilt(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		for _, shared := range []bool{false, true} {
			t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
				ctx := context.Background()
				src := []string{"a"}
				bo := BloomOptions{Expected: 100, Shared: shared, Source: func(_ context.Context, add func(string)) error {
					for _, k := range src {
						add(k)
					}
					return nil
				}}
				l := newCountingLoader(0, "a", "b")
				prefix := redistest.Prefix(t)
				c := newTestCache(t, tp.Client(t), &Options[user]{Prefix: prefix, Loader: l, Bloom: &bo})
				if _, err := c.Get(ctx, "b"); err != nil {
					t.Fatalf("Get(b) before any build = %v, want it to pass", err)
				}
				if err := c.RebuildBloom(ctx); err != nil {
					t.Fatal(err)
				}
				if err := c.Delete(ctx, "b"); err != nil { // loaded before the build
					t.Fatal(err)
				}
				if _, err := c.Get(ctx, "b"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get(b) outside the filter = %v, want ErrNotFound", err)
				}
				src = []string{"a", "b"}
				if err := c.RebuildBloom(ctx); err != nil {
					t.Fatal(err)
				}
				if u, err := c.Get(ctx, "b"); err != nil || u.ID != "b" {
					t.Errorf("Get(b) after rebuild = %+v, %v", u, err)
				}
				if shared {
					// Another process sees the shared filter.
					other := newTestCache(t, tp.Client(t), &Options[user]{Prefix: prefix, Loader: l, Bloom: &bo})
					if _, err := other.Get(ctx, "zzz"); !errors.Is(err, ErrNotFound) || other.Stats().BloomRejects != 1 {
						t.Errorf("other process Get(zzz) = %v, rejects %d; want a bloom reject", err, other.Stats().BloomRejects)
					}
				}
			})
		}
	})
}

func TestCache_RebuildBloom_NoSource(t *testing.T) {
	c := newTestCache[user](t, redistest.Standalone.Client(t), nil)
	if err := c.RebuildBloom(context.Background()); !errors.Is(err, ErrNoBloom) {
		t.Errorf("err = %v, want ErrNoBloom", err)
	}
}

// TestCache_GetMany_Bloom: GetMany drops keys outside the filter before
// the MGET and the batch loader, in both modes.
func TestCache_GetMany_Bloom(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		for _, shared := range []bool{false, true} {
			t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
				ctx := context.Background()
				real := realKeys(50)
				bo := BloomOptions{Expected: 100, FalsePositive: 0.001, Shared: shared, Source: sourceOf(real...)}
				var asked [][]string
				c := newTestCache(t, tp.Client(t), &Options[user]{Bloom: &bo,
					BatchLoader: BatchLoaderFunc[user](func(_ context.Context, ks []string) (map[string]user, error) {
						asked = append(asked, ks)
						out := map[string]user{}
						for _, k := range ks {
							out[k] = user{ID: k}
						}
						return out, nil
					})})
				if err := c.RebuildBloom(ctx); err != nil {
					t.Fatal(err)
				}
				ghosts := outside(bo, real, 3)
				in := []string{"user-1", ghosts[0], "user-2", ghosts[1], ghosts[2]}
				got, err := c.GetMany(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range got {
					if want := i == 0 || i == 2; r.Found != want {
						t.Errorf("GetMany[%d] (%s) found = %v, want %v", i, in[i], r.Found, want)
					}
				}
				if len(asked) != 1 || len(asked[0]) != 2 {
					t.Errorf("batch loads = %v, want one call with the 2 real keys", asked)
				}
				if n := c.Stats().BloomRejects; n != 3 {
					t.Errorf("BloomRejects = %d, want 3", n)
				}
			})
		}
	})
}
