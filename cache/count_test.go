package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
)

// CountEntries counts values and negative entries, not leases, version
// markers or another prefix's entries, on every master.
func TestCountEntries(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newTestCache(t, rdb, &Options[user]{Prefix: prefix, VersionedFills: true, OpTimeout: 10 * time.Second,
			Loader: LoaderFunc[user](func(_ context.Context, id string) (user, error) {
				if id == "missing" {
					return user{}, ErrNotFound
				}
				return user{ID: id}, nil
			})})
		other := newTestCache(t, rdb, &Options[user]{Prefix: prefix + "x", OpTimeout: 10 * time.Second,
			Loader: LoaderFunc[user](func(_ context.Context, id string) (user, error) { return user{ID: id}, nil })})
		for _, id := range []string{"a", "b", "missing"} {
			_, _ = c.Get(ctx, id)
		}
		_, _ = other.Get(ctx, "a")
		if err := c.Delete(ctx, "zzz"); err != nil { // leaves a version marker, no entry
			t.Fatal(err)
		}
		n, err := CountEntries(ctx, rdb, prefix)
		if err != nil || n != 3 {
			t.Errorf("CountEntries = %d, %v; want 3", n, err)
		}
		if _, err := CountEntries(ctx, rdb, "a|b"); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("CountEntries(bad prefix) = %v, want ErrInvalidOptions", err)
		}
	})
}
