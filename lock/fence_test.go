package lock_test

import (
	"errors"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

func TestClient_SetFenced_OrderOfFences(t *testing.T) {
	t.Parallel()
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		c := clients(t, tp, 1)[0]
		key := redistest.Prefix(t) + ":res"
		if v, f, err := c.GetFenced(ctx, key); err != nil || v != "" || f != 0 {
			t.Fatalf("GetFenced of a missing key = %q, %d, %v", v, f, err)
		}
		steps := []struct {
			name    string
			value   string
			fence   int64
			wantErr error
			want    string
		}{
			{name: "first write", value: "a", fence: 5, want: "a"},
			{name: "same holder again", value: "b", fence: 5, want: "b"},
			{name: "newer holder", value: "c", fence: 9, want: "c"},
			{name: "stale holder", value: "d", fence: 5, wantErr: lock.ErrStaleFence, want: "c"},
			{name: "longer number is newer", value: "e", fence: 10, want: "e"},
			{name: "shorter number is older", value: "f", fence: 9, wantErr: lock.ErrStaleFence, want: "e"},
		}
		for _, s := range steps {
			err := c.SetFenced(ctx, key, s.value, s.fence)
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("%s: SetFenced = %v, want %v", s.name, err, s.wantErr)
			}
			if v, _, err := c.GetFenced(ctx, key); err != nil || v != s.want {
				t.Fatalf("%s: value %q, %v; want %q", s.name, v, err, s.want)
			}
		}
		if err := c.SetFenced(ctx, key, "x", 0); err == nil {
			t.Fatal("SetFenced with fence 0: nil error")
		}
	})
}
