package keys_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestBase(t *testing.T) {
	tests := []struct {
		name, prefix, key, want string
	}{
		{"prefixed", "users", "42", "{users|42}"},
		{"no prefix", "", "42", "{|42}"},
		{"empty key", "p", "", "{p|}"},
		{"key with separators", "p", "a|b:c}", "{p|a|b:c}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keys.Base(tt.prefix, tt.key)
			if got != tt.want {
				t.Errorf("Base(%q, %q) = %q, want %q", tt.prefix, tt.key, got, tt.want)
			}
			if p, k, ok := keys.Split(got); !ok || p != tt.prefix || k != tt.key {
				t.Errorf("Split(%q) = %q, %q, %v; want %q, %q", got, p, k, ok, tt.prefix, tt.key)
			}
		})
	}
}

// A key from a stranger cannot reach another prefix's keys: key
// "admin:42" in prefix "sess" is not key "42" in prefix "sess:admin", and
// no derived key of one base is a derived key of another.
func TestBase_KeyCannotEscapeItsPrefix(t *testing.T) {
	if a, b := keys.Base("sess", "admin:42"), keys.Base("sess:admin", "42"); a == b {
		t.Fatalf("both are %q", a)
	}
	seen := map[string]string{}
	for _, p := range []string{"sess", "sess:admin", "a", "a:b"} {
		for _, k := range []string{"42", "admin:42", "b:42", "x}:lease", "x}", "x|y", "", "}:wake"} {
			base := keys.Base(p, k)
			for _, name := range []string{base, keys.Sub(base, "lease"), keys.Sub(base, "wake"), keys.Sub(keys.Sub(base, "sem"), "wake")} {
				who := p + " / " + k
				if prev, dup := seen[name]; dup && prev != who {
					t.Errorf("%q is a key of %s and of %s", name, prev, who)
				}
				seen[name] = who
			}
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"aside:cache", "", "a-b.c"} {
		if err := keys.CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"a{b", "a}b", "a|b"} {
		if err := keys.CheckPrefix(p); !errors.Is(err, keys.ErrPrefix) {
			t.Errorf("CheckPrefix(%q) = %v, want ErrPrefix", p, err)
		}
	}
	if _, _, ok := keys.Split("{no separator}"); ok {
		t.Error("Split accepted a key without the separator")
	}
}

func FuzzBaseSplit(f *testing.F) {
	f.Add("p", "k")
	f.Add("aside:cache", "user:42}|x")
	f.Fuzz(func(t *testing.T, p, k string) {
		if keys.CheckPrefix(p) != nil {
			return
		}
		base := keys.Base(p, k)
		if gp, gk, ok := keys.Split(base); !ok || gp != p || gk != k {
			t.Fatalf("Split(Base(%q, %q)) = %q, %q, %v", p, k, gp, gk, ok)
		}
		if keys.Slot(keys.Sub(base, "lease")) != keys.Slot(base) {
			t.Fatalf("Sub left the slot of %q", base)
		}
	})
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

// Bases and AppendBaseArgs build, in one allocation, the keys Base builds
// one at a time, hostile keys included.
func TestBases_SameAsBase(t *testing.T) {
	ks := []string{"42", "", "a|b:c}", "{x}", "é"}
	var want []string
	for _, k := range ks {
		want = append(want, keys.Base("p", k))
	}
	if got := keys.Bases("p", ks); !cmp.Equal(got, want) {
		t.Errorf("Bases = %q, want %q", got, want)
	}
	args := keys.AppendBaseArgs([]any{"mget"}, "p", ks)
	if len(args) != 1+len(ks) || args[0] != "mget" {
		t.Fatalf("AppendBaseArgs = %q", args)
	}
	for i, a := range args[1:] {
		if a != want[i] {
			t.Errorf("AppendBaseArgs[%d] = %q, want %q", i+1, a, want[i])
		}
	}
	if got := keys.Bases("p", nil); len(got) != 0 {
		t.Errorf("Bases of nothing = %q", got)
	}
}

// AppendBaseArgs hands out string arguments without a heap copy per key:
// they must still be ordinary strings to go-redis (written to Redis, hashed
// to a slot, printed) after a garbage collection, and the allocations stay
// a fixed few whatever the number of keys.
func TestAppendBaseArgs_RealStrings(t *testing.T) {
	ctx := context.Background()
	c := redistest.Standalone.Client(t)
	prefix := redistest.Prefix(t)
	ks := make([]string, 100)
	for i := range ks {
		ks[i] = "k" + strconv.Itoa(i)
		if err := c.Set(ctx, keys.Base(prefix, ks[i]), "v"+ks[i], time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	args := keys.AppendBaseArgs([]any{"mget"}, prefix, ks)
	runtime.GC()
	for i, a := range args[1:] {
		s, ok := a.(string)
		if !ok || s != keys.Base(prefix, ks[i]) || fmt.Sprint(a) != s || reflect.TypeOf(a).Kind() != reflect.String {
			t.Fatalf("AppendBaseArgs[%d] = %#v (%T), want the string %q", i+1, a, a, keys.Base(prefix, ks[i]))
		}
	}
	cmd := redis.NewStringSliceCmd(ctx, args...)
	if err := c.Process(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	for i, v := range cmd.Val() {
		if v != "v"+ks[i] {
			t.Fatalf("MGET[%d] = %q, want %q", i, v, "v"+ks[i])
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		args = keys.AppendBaseArgs(args[:1], prefix, ks)
	})
	if allocs > 2 {
		t.Errorf("AppendBaseArgs of %d keys: %.0f allocations, want 2 (key bytes, string headers)", len(ks), allocs)
	}
}
