package cache

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/aside-go/aside/internal/redistest"
)

// checkDuration fails t unless lo < d <= hi.
func checkDuration(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d <= lo || d > hi {
		t.Errorf("%s = %v, want in (%v, %v]", what, d, lo, hi)
	}
}

// TestInspect_Entries: a value loaded under a versioned fill with a soft
// TTL, a negative entry, a held lease over an absent value and an absent
// key, each read field by field, on both topologies.
func TestInspect_Entries(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		entered := make(chan struct{})
		release := make(chan struct{})
		var calls atomic.Int64
		const ttl, soft, negTTL, leaseTTL = time.Hour, 10 * time.Minute, time.Minute, 30 * time.Second
		c := newTestCache(t, rdb, &Options[user]{
			TTL: ttl, SoftTTL: soft, NegativeTTL: negTTL, LeaseTTL: leaseTTL, LoadTimeout: time.Minute,
			VersionedFills: true, Jitter: -1, OpTimeout: 10 * time.Second, // no fail-open on a busy machine
			Loader: LoaderFunc[user](func(ctx context.Context, key string) (user, error) {
				calls.Add(1)
				switch key {
				case "slow":
					close(entered)
					<-release
				case "missing":
					return user{}, ErrNotFound
				}
				return user{ID: key, Name: "name-" + key}, nil
			})})

		// A value loaded after Set and Delete bumped the marker to 2.
		if err := c.Set(ctx, "a", user{ID: "a"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		if _, err := c.Get(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		got, err := Inspect(ctx, rdb, c.Prefix(), "a")
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(user{ID: "a", Name: "name-a"})
		checkDuration(t, "TTL", got.TTL, ttl-time.Minute, ttl)
		if lo, hi := before.Add(soft).Truncate(time.Millisecond), after.Add(soft); got.SoftExpiry.Before(lo) || got.SoftExpiry.After(hi) {
			t.Errorf("SoftExpiry = %v, want in [%v, %v]", got.SoftExpiry, lo, hi)
		}
		want := Entry{Key: "a", RedisKey: c.Key("a"), Exists: true, CodecID: 1, Payload: payload,
			SoftExpiry: got.SoftExpiry, Version: 2, TTL: got.TTL, Marker: "2"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("value entry (-want +got):\n%s", diff)
		}

		// A negative entry: no payload, no soft expiry, the negative TTL.
		if _, err := c.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(missing) = %v", err)
		}
		got, err = Inspect(ctx, rdb, c.Prefix(), "missing")
		if err != nil {
			t.Fatal(err)
		}
		checkDuration(t, "negative TTL", got.TTL, 0, negTTL)
		want = Entry{Key: "missing", RedisKey: c.Key("missing"), Exists: true, Negative: true, CodecID: 1, TTL: got.TTL}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("negative entry (-want +got):\n%s", diff)
		}

		// A load in flight: the lease is held, nothing is stored yet.
		done := make(chan error, 1)
		go func() { _, err := c.Get(ctx, "slow"); done <- err }()
		<-entered
		got, err = Inspect(ctx, rdb, c.Prefix(), "slow")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := rdb.Get(ctx, c.Key("slow")+":lease").Result()
		if err != nil {
			t.Fatalf("lease key: %v", err)
		}
		checkDuration(t, "lease TTL", got.Lease.TTL, 0, leaseTTL)
		want = Entry{Key: "slow", RedisKey: c.Key("slow"), Lease: LeaseInfo{Held: true, Token: tok, TTL: got.Lease.TTL}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entry with a held lease (-want +got):\n%s", diff)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got, err = Inspect(ctx, rdb, c.Prefix(), "slow")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Exists || got.Lease != (LeaseInfo{}) {
			t.Errorf("after the fill: Exists %v, Lease %+v; want a value and no lease", got.Exists, got.Lease)
		}

		// An absent key.
		got, err = Inspect(ctx, rdb, c.Prefix(), "never")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Entry{Key: "never", RedisKey: c.Key("never")}, got); diff != "" {
			t.Errorf("absent entry (-want +got):\n%s", diff)
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("loader calls = %d, want 3 (Inspect loads nothing)", n)
		}
	})
}

// TestInspect_Corrupt: bytes that are not an entry are reported in
// Corrupt with the raw bytes, never as an error.
func TestInspect_Corrupt(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		c := newTestCache[user](t, rdb, &Options[user]{Prefix: prefix})
		long := string(appendHeader(nil, envelope{codec: 1})) + "{}"
		tests := []struct {
			name    string
			raw     string // "" for a hash
			corrupt string
		}{
			{"short", "garbage", "7 bytes, shorter than the header"},
			{"bad magic", "X" + long[1:], "bad magic byte 0x58"},
			{"unknown format", long[:1] + "\x09" + long[2:], "unknown format version 9"},
			{"negative with payload", long[:2] + "\x01" + long[3:], "negative entry with a payload"},
			{"not a string", "", "a Redis hash, not a string"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				key := c.Key(tt.name)
				var err error
				if tt.raw == "" {
					err = rdb.HSet(ctx, key, "f", "v").Err()
				} else {
					err = rdb.Set(ctx, key, tt.raw, 0).Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := Inspect(ctx, rdb, prefix, tt.name)
				if err != nil {
					t.Fatalf("Inspect: %v", err)
				}
				var raw []byte
				if tt.raw != "" {
					raw = []byte(tt.raw)
				}
				want := Entry{Key: tt.name, RedisKey: key, Exists: true, TTL: -1, Corrupt: tt.corrupt, Payload: raw}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				// Peek reports the same, without an error.
				_, ok, pe, err := c.Peek(ctx, tt.name)
				if err != nil || ok || pe.Corrupt != tt.corrupt {
					t.Errorf("Peek = ok %v, Corrupt %q, %v; want not ok, %q", ok, pe.Corrupt, err, tt.corrupt)
				}
			})
		}
	})
}

// TestCache_Peek: Peek decodes a value of its own codec, never loads,
// never writes, costs one command, and reports another codec's value or a
// payload its codec cannot decode with ok false.
func TestCache_Peek(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		cmds := countCommands(rdb)
		prefix := redistest.Prefix(t)
		l := newCountingLoader(0, "a", "b")
		c := newTestCache(t, rdb, &Options[user]{Prefix: prefix, Loader: l, SoftTTL: time.Minute, OpTimeout: 10 * time.Second})
		if err := c.Set(ctx, "a", user{ID: "a", Name: "Ada"}); err != nil {
			t.Fatal(err)
		}
		// Load the script on the node that holds "a": on a Cluster another
		// key may live on another master, which would still answer NOSCRIPT.
		if _, _, _, err := c.Peek(ctx, "a"); err != nil {
			t.Fatal(err)
		}

		cmds.reset()
		v, ok, e, err := c.Peek(ctx, "a")
		if err != nil || !ok || v != (user{ID: "a", Name: "Ada"}) {
			t.Errorf("Peek(a) = %+v, %v, %v; want Ada, true", v, ok, err)
		}
		if n := cmds.total(); n != 1 {
			t.Errorf("Peek sent %d commands (%v), want 1", n, cmds.n)
		}
		if !e.Exists || e.CodecID != 1 || e.SoftExpiry.IsZero() || e.Key != "a" {
			t.Errorf("Peek(a) entry = %+v", e)
		}

		// An absent key: no load, nothing written.
		v, ok, e, err = c.Peek(ctx, "b")
		if err != nil || ok || e.Exists || v != (user{}) {
			t.Errorf("Peek(b) = %+v, %v, %+v, %v; want nothing", v, ok, e, err)
		}
		if n := l.calls.Load(); n != 0 {
			t.Errorf("loader calls = %d, want 0", n)
		}
		base := c.Key("b")
		if n, err := rdb.Exists(ctx, base).Result(); err != nil || n != 0 {
			t.Errorf("Peek wrote the value: %d, %v", n, err)
		}
		for _, sub := range []string{"lease", "wake", "ver"} {
			if n, err := rdb.Exists(ctx, base+":"+sub).Result(); err != nil || n != 0 {
				t.Errorf("Peek wrote %s: %d, %v", sub, n, err)
			}
		}

		// A cache of another codec over the same keys.
		sc := newTestCache(t, rdb, &Options[string]{Prefix: prefix, Codec: String()})
		s, ok, e, err := sc.Peek(ctx, "a")
		if err != nil || ok || s != "" || e.CodecID != 1 || e.Corrupt != "" || !e.Exists {
			t.Errorf("Peek with another codec = %q, %v, %+v, %v; want not ok, codec 1, not corrupt", s, ok, e, err)
		}

		// A JSON header over bytes JSON cannot decode.
		raw := string(appendHeader(nil, envelope{codec: 1, version: 7})) + "{not json"
		if err := rdb.Set(ctx, c.Key("bad"), raw, 0).Err(); err != nil {
			t.Fatal(err)
		}
		v, ok, e, err = c.Peek(ctx, "bad")
		if err != nil || ok || v != (user{}) {
			t.Errorf("Peek(bad) = %+v, %v, %v; want not ok", v, ok, err)
		}
		if e.Corrupt == "" || string(e.Payload) != raw || e.CodecID != 1 || e.Version != 7 {
			t.Errorf("Peek(bad) entry = %+v; want Corrupt, the raw bytes, codec 1, version 7", e)
		}
		if n := l.calls.Load(); n != 0 {
			t.Errorf("loader calls = %d, want 0", n)
		}
		if st := c.Stats(); st.Corrupt != 0 || st.Misses != 0 {
			t.Errorf("Stats = %+v; Peek must not count", st)
		}
	})
}

func TestInspect_InvalidArguments(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Standalone.Client(t)
	for _, p := range []string{"a{b", "a}b", "a|b"} {
		if _, err := Inspect(ctx, rdb, p, "k"); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Inspect(prefix %q) err = %v, want ErrInvalidOptions", p, err)
		}
		if _, err := InspectBloom(ctx, rdb, p); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("InspectBloom(prefix %q) err = %v, want ErrInvalidOptions", p, err)
		}
	}
	if _, err := Inspect(ctx, nil, "p", "k"); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Inspect(nil client) err = %v, want ErrInvalidOptions", err)
	}
	if _, err := InspectBloom(ctx, nil, "p"); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("InspectBloom(nil client) err = %v, want ErrInvalidOptions", err)
	}
	// "" is the default prefix, as in Options.
	e, err := Inspect(ctx, rdb, "", "k")
	if err != nil || e.RedisKey != "{aside:cache|k}" {
		t.Errorf("Inspect(default prefix) = %q, %v; want {aside:cache|k}", e.RedisKey, err)
	}
}

// TestInspectBloom: a shared filter built by RebuildBloom reads with the
// size and hash count of its options and the bits a local filter of the
// same keys sets; one written before its parameters were stored still
// reads; an in-process filter is not in Redis.
func TestInspectBloom(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := context.Background()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		real := realKeys(300)
		bo := BloomOptions{Expected: 1000, FalsePositive: 0.01, Shared: true, Source: sourceOf(real...)}
		c := newTestCache(t, rdb, &Options[user]{Prefix: prefix, Bloom: &bo, OpTimeout: 10 * time.Second})
		got, err := InspectBloom(ctx, rdb, prefix)
		if err != nil || got != (BloomInfo{}) {
			t.Errorf("before a build: %+v, %v; want Exists false", got, err)
		}
		if err := c.RebuildBloom(ctx); err != nil {
			t.Fatal(err)
		}
		m, k := bloom.EstimateParameters(bo.Expected, bo.FalsePositive)
		f := bloom.New(m, k)
		for _, r := range real {
			f.AddString(r)
		}
		set := uint64(f.BitSet().Count())
		got, err = InspectBloom(ctx, rdb, prefix)
		if err != nil {
			t.Fatal(err)
		}
		fill := float64(set) / float64(m)
		want := BloomInfo{Exists: true, Bits: uint64(m), Hashes: k, SetBits: set,
			FalsePositive: math.Pow(fill, float64(k)), EstimatedItems: -float64(m) / float64(k) * math.Log1p(-fill)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if got.EstimatedItems < 270 || got.EstimatedItems > 330 {
			t.Errorf("EstimatedItems = %v, want about 300", got.EstimatedItems)
		}
		if got.FalsePositive <= 0 || got.FalsePositive >= bo.FalsePositive {
			t.Errorf("FalsePositive = %v, want in (0, %v) at 300 of 1000 keys", got.FalsePositive, bo.FalsePositive)
		}

		// Set adds a key's bits to the live filter.
		if err := c.Set(ctx, "fresh", user{ID: "fresh"}); err != nil {
			t.Fatal(err)
		}
		f.AddString("fresh")
		got, err = InspectBloom(ctx, rdb, prefix)
		if err != nil || got.SetBits != uint64(f.BitSet().Count()) {
			t.Errorf("after Set: SetBits %d, %v; want %d", got.SetBits, err, f.BitSet().Count())
		}

		// A filter from before the parameters were stored.
		bits, params := bloomKeys(prefix)
		if err := rdb.Del(ctx, params).Err(); err != nil {
			t.Fatal(err)
		}
		strlen, err := rdb.StrLen(ctx, bits).Result()
		if err != nil {
			t.Fatal(err)
		}
		got, err = InspectBloom(ctx, rdb, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Exists || got.Bits != uint64(strlen)*8 || got.Hashes != 0 || got.SetBits != uint64(f.BitSet().Count()) ||
			!math.IsNaN(got.FalsePositive) || !math.IsNaN(got.EstimatedItems) {
			t.Errorf("old filter = %+v; want Exists, Bits %d, Hashes 0, SetBits %d, NaN estimates", got, strlen*8, f.BitSet().Count())
		}

		// An in-process filter leaves nothing in Redis.
		local := redistest.Prefix(t)
		lc := newTestCache(t, rdb, &Options[user]{Prefix: local, Bloom: &BloomOptions{Expected: 100, Source: sourceOf("x")}})
		if err := lc.RebuildBloom(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := InspectBloom(ctx, rdb, local); err != nil || got.Exists {
			t.Errorf("in-process filter: %+v, %v; want Exists false", got, err)
		}
	})
}
