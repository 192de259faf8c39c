package cache

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
)

func TestJitter_Bounds(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		frac float64
	}{
		{"ten percent of an hour", time.Hour, 0.1},
		{"half of a second", time.Second, 0.5},
		{"off", time.Minute, 0},
		{"tiny", time.Millisecond, 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := time.Duration(float64(tt.d) * (1 - tt.frac))
			for range 1000 {
				got := jitter(tt.d, tt.frac)
				if got > tt.d || got < lo || got < time.Millisecond {
					t.Fatalf("jitter(%v, %v) = %v, want in [%v, %v]", tt.d, tt.frac, got, lo, tt.d)
				}
			}
		})
	}
}

// spread checks that ttls lie in (d*(1-frac)-slack, d] and are spread
// over most of that range.
func spread(t *testing.T, what string, ttls []time.Duration, d time.Duration, frac float64) {
	t.Helper()
	slices.Sort(ttls)
	lo, hi := ttls[0], ttls[len(ttls)-1]
	floor := time.Duration(float64(d)*(1-frac)) - 5*time.Second // slack: time between write and PTTL
	if lo < floor || hi > d {
		t.Errorf("%s TTLs in [%v, %v], want within [%v, %v]", what, lo, hi, floor, d)
	}
	if span := hi - lo; span < time.Duration(float64(d)*frac*0.8) {
		t.Errorf("%s TTLs span %v, want most of %v", what, span, time.Duration(float64(d)*frac))
	}
	if distinct := len(slices.Compact(ttls)); distinct < len(ttls)*9/10 {
		t.Errorf("%s TTLs: %d distinct of %d, want them spread", what, distinct, len(ttls))
	}
}

// TestCache_Set_JitterSpreadsTTLs: 1,000 values and 1,000 negative
// entries written together get TTLs spread over the jitter range.
func TestCache_Set_JitterSpreadsTTLs(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		c := newTestCache(t, rdb, &Options[user]{TTL: time.Hour, NegativeTTL: 10 * time.Minute,
			Loader: newCountingLoader(0), BatchLoader: BatchLoaderFunc[user](func(context.Context, []string) (map[string]user, error) {
				return nil, nil // every key is absent: negative entries
			})})
		vals := make([]string, 1000)
		negs := make([]string, 1000)
		for i := range vals {
			vals[i] = fmt.Sprintf("v%d", i)
			negs[i] = fmt.Sprintf("n%d", i)
			if err := c.Set(ctx, vals[i], user{ID: vals[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.GetMany(ctx, negs); err != nil {
			t.Fatal(err)
		}
		read := func(ks []string) []time.Duration {
			cmds := make([]*redis.DurationCmd, len(ks))
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range ks {
					cmds[i] = p.PTTL(ctx, c.Key(k))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			out := make([]time.Duration, len(ks))
			for i, cmd := range cmds {
				out[i] = cmd.Val()
			}
			return out
		}
		spread(t, "value", read(vals), time.Hour, 0.1)
		spread(t, "negative", read(negs), 10*time.Minute, 0.1)
	})
}

func TestLocal_JitterSpreadsTTLs(t *testing.T) {
	l := newLocal[int](2000, time.Minute, 0.2)
	for i := range 1000 {
		l.set(fmt.Sprint(i), i, false, 0)
	}
	now := monoNow()
	var ttls []time.Duration
	for i := range 1000 {
		e, ok := l.get(fmt.Sprint(i))
		if !ok {
			t.Fatalf("key %d missing", i)
		}
		ttls = append(ttls, time.Duration(e.exp-now))
	}
	spread(t, "L1", ttls, time.Minute, 0.2)
}
