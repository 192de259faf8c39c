package keys_test

import (
	"context"
	"testing"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestBase(t *testing.T) {
	tests := []struct {
		name, prefix, key, want string
	}{
		{"prefixed", "users", "42", "{users:42}"},
		{"no prefix", "", "42", "{42}"},
		{"empty key", "p", "", "{p:}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keys.Base(tt.prefix, tt.key); got != tt.want {
				t.Errorf("Base(%q, %q) = %q, want %q", tt.prefix, tt.key, got, tt.want)
			}
		})
	}
}

func TestSlot_MatchesClusterKeyslot(t *testing.T) {
	c := redistest.ClusterTopology.Client(t)
	ctx := context.Background()
	for _, k := range []string{"", "a", "foo", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "{a}}", keys.Sub(keys.Base("p", "we}ird"), "lease"), "123456789"} {
		want, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := keys.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT = %d", k, got, want)
		}
	}
}

func TestSub_SameSlotAsBase(t *testing.T) {
	for _, k := range []string{"1", "we}ird", "{x}", ""} {
		base := keys.Base("p", k)
		for _, suffix := range []string{"v", "lease", "ver"} {
			if keys.Slot(keys.Sub(base, suffix)) != keys.Slot(base) {
				t.Errorf("Sub(%q, %q) left the slot of the base", base, suffix)
			}
		}
	}
}

func TestGroupBySlot(t *testing.T) {
	ks := []string{"{a}1", "{b}1", "{a}2", "{c}", "{b}2"}
	got := keys.GroupBySlot(ks)
	want := [][]int{{0, 2}, {1, 4}, {3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GroupBySlot (-want +got):\n%s", diff)
	}
}
