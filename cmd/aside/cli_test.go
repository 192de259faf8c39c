package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
	"github.com/aside-go/aside/pubsub"
	"github.com/aside-go/aside/queue"
	"github.com/redis/go-redis/v9"
)

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// The terminal output of the read commands, compared with golden files
// (times, durations, IDs and tokens normalised).
func TestCLI_terminalOutput(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	ctx := t.Context()
	url := urlOf(t, rdb)
	prefix := redistest.Prefix(t)

	for name, n := range map[string]int{"emails": 2, "reports": 1} {
		q, _ := queue.New(rdb, name, &queue.Options{Prefix: prefix})
		for range n {
			if _, err := q.Enqueue(ctx, []byte("to: ada@example.com")); err != nil {
				t.Fatal(err)
			}
		}
	}
	q, _ := queue.New(rdb, "reports", &queue.Options{Prefix: prefix})
	_, _ = q.Enqueue(ctx, []byte("weekly"), queue.WithDelay(time.Hour))

	users, err := cache.New(rdb, &cache.Options[user]{Prefix: prefix + "-users", TTL: time.Hour, SoftTTL: 10 * time.Minute,
		Loader: cache.LoaderFunc[user](func(_ context.Context, id string) (user, error) {
			if id == "404" {
				return user{}, cache.ErrNotFound
			}
			return user{ID: id, Name: "Ada"}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	_, _ = users.Get(ctx, "42")
	_, _ = users.Get(ctx, "404")

	locks, _ := lock.New(rdb, &lock.Options{Prefix: prefix + "-locks"})
	defer locks.Close()
	l, err := locks.Obtain(ctx, "billing", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"queue_ls", []string{"queue", "ls", "--prefix", prefix}, exitOK},
		{"queue_stats", []string{"queue", "stats", "reports", "--prefix", prefix}, exitOK},
		{"queue_peek_delayed", []string{"queue", "peek", "reports", "--delayed", "--prefix", prefix}, exitOK},
		{"cache_get", []string{"cache", "get", prefix + "-users", "42"}, exitOK},
		{"cache_get_negative", []string{"cache", "get", prefix + "-users", "404"}, exitOK},
		{"cache_get_json", []string{"cache", "get", prefix + "-users", "42", "--json"}, exitOK},
		{"lock_info", []string{"lock", "info", "billing", "--prefix", prefix + "-locks"}, exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cli(t, url, "", tc.args...)
			if code != tc.code {
				t.Fatalf("code %d, want %d; stderr %s", code, tc.code, errOut)
			}
			golden(t, tc.name, normalize(out, prefix))
		})
	}
	// The lock's holder is the token the library handed out.
	out, _, _ := cli(t, url, "", "lock", "info", "billing", "--prefix", prefix+"-locks", "--json")
	var info struct {
		Held  bool   `json:"held"`
		Token string `json:"token"`
		Fence int64  `json:"fence"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil || !info.Held || info.Token != l.Token() || info.Fence != l.Fence() {
		t.Errorf("lock info --json = %+v (%v), want held by %s with fence %d", info, err, l.Token(), l.Fence())
	}
}

// Exit codes say what happened.
func TestCLI_exitCodes(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	url := urlOf(t, rdb)
	prefix := redistest.Prefix(t)
	for _, tc := range []struct {
		name string
		url  string
		args []string
		code int
		msg  string
	}{
		{"unknown command", url, []string{"nonsense"}, exitUsage, "unknown command"},
		{"missing argument", url, []string{"queue", "stats"}, exitUsage, "arg(s)"},
		{"bad url", "http://x", []string{"queue", "ls"}, exitUsage, "scheme"},
		{"redis down", "redis://127.0.0.1:1", []string{"queue", "ls"}, exitFailed, "does not answer"},
		{"absent cache entry", url, []string{"cache", "get", prefix, "nope"}, exitNotFound, "no entry"},
		{"bad prefix", url, []string{"queue", "ls", "--prefix", "a{b"}, exitFailed, "Prefix"},
		{"cache del unconfirmed", url, []string{"cache", "del", prefix, "k"}, exitNotApproved, "--yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := cli(t, tc.url, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.msg)
			}
		})
	}
}

// cache del and cache bloom, on both topologies.
func TestCache_delAndBloom(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		url := urlOf(t, rdb)
		prefix := redistest.Prefix(t)
		users, err := cache.New(rdb, &cache.Options[user]{Prefix: prefix,
			Loader: cache.LoaderFunc[user](func(_ context.Context, id string) (user, error) { return user{ID: id}, nil }),
			Bloom: &cache.BloomOptions{Expected: 1000, FalsePositive: 0.01, Shared: true,
				Source: func(_ context.Context, add func(string)) error {
					for _, id := range []string{"1", "2", "3"} {
						add(id)
					}
					return nil
				}},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer users.Close()
		if err := users.RebuildBloom(ctx); err != nil {
			t.Fatal(err)
		}
		_, _ = users.Get(ctx, "1")
		if _, _, code := cli(t, url, "", "cache", "get", prefix, "1"); code != exitOK {
			t.Fatalf("cache get of a stored entry: code %d", code)
		}
		if out, errOut, code := cli(t, url, "", "--yes", "cache", "del", prefix, "1", "2"); code != exitOK || strings.TrimSpace(out) != "deleted 2" {
			t.Fatalf("cache del: code %d %q %s", code, out, errOut)
		}
		if _, _, code := cli(t, url, "", "cache", "get", prefix, "1"); code != exitNotFound {
			t.Errorf("after del, cache get: code %d, want %d", code, exitNotFound)
		}
		out, errOut, code := cli(t, url, "", "cache", "bloom", prefix, "--json")
		var b struct {
			Exists        bool     `json:"exists"`
			Bits          uint64   `json:"bits"`
			Hashes        uint     `json:"hashes"`
			SetBits       uint64   `json:"set_bits"`
			FalsePositive *float64 `json:"false_positive"`
		}
		if err := json.Unmarshal([]byte(out), &b); code != exitOK || err != nil {
			t.Fatalf("bloom --json: code %d, %v, %s %s", code, err, out, errOut)
		}
		if !b.Exists || b.Bits < 9000 || b.Hashes == 0 || b.SetBits == 0 || b.SetBits > 3*uint64(b.Hashes) || b.FalsePositive == nil || *b.FalsePositive > 0.001 {
			t.Errorf("bloom = %+v", b)
		}
	})
}

// pubsub tail prints what is published; top shows every queue.
func TestPubsubTail_and_Top(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		url := urlOf(t, rdb)
		topic := redistest.Prefix(t) + ":prices"
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() {
			env := func(k string) string {
				if k == "REDIS_URL" {
					return url
				}
				return ""
			}
			done <- run(ctx, []string{"pubsub", "tail", topic, "-n", "2", "--for", "20s"}, strings.NewReader(""), &out, &errOut, env)
		}()
		eventually(t, "the subscription", func() bool { return strings.Contains(errOut.String(), "tailing") })
		ps, err := pubsub.New(rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ps.Close()
		for _, p := range []string{"a", "b"} {
			if err := ps.PublishRaw(ctx, topic, []byte("price "+p)); err != nil {
				t.Fatal(err)
			}
		}
		if code := <-done; code != exitOK {
			t.Fatalf("tail: code %d, %s", code, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 || !strings.HasSuffix(lines[0], topic+" price a") || !strings.HasSuffix(lines[1], topic+" price b") {
			t.Errorf("tail printed %q", lines)
		}

		prefix := redistest.Prefix(t)
		for _, n := range []string{"q1", "q2"} {
			q, _ := queue.New(rdb, n, &queue.Options{Prefix: prefix})
			_, _ = q.Enqueue(ctx, []byte("x"))
		}
		users, err := cache.New(rdb, &cache.Options[user]{Prefix: prefix + "-users",
			Loader: cache.LoaderFunc[user](func(_ context.Context, id string) (user, error) { return user{ID: id}, nil })})
		if err != nil {
			t.Fatal(err)
		}
		defer users.Close()
		for _, id := range []string{"1", "2", "3"} {
			_, _ = users.Get(ctx, id)
		}
		o, e, code := cli(t, url, "", "top", "--prefix", prefix, "--cache", prefix+"-users", "--iterations", "2", "--interval", "10ms")
		if code != exitOK || strings.Count(o, "\x1b[H\x1b[2J") != 2 || !strings.Contains(o, "q1") || !strings.Contains(o, "q2") || !strings.Contains(o, "+0.0") {
			t.Errorf("top: code %d\n%q\n%s", code, o, e)
		}
		last := o[strings.LastIndex(o, "\x1b[H\x1b[2J"):]
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix+"-users") + ` +3 +\+0\.0$`).MatchString(last) {
			t.Errorf("top: no cache row with 3 entries:\n%s", last)
		}
	})
}

// A lost subscription is printed as a gap, and tailing goes on after it.
func TestPubsubTail_marksGaps(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	ctx := t.Context()
	url := urlOf(t, rdb)
	topic := redistest.Prefix(t) + ":events"
	var out, errOut syncBuffer
	done := make(chan int, 1)
	env := func(k string) string {
		if k == "REDIS_URL" {
			return url
		}
		return ""
	}
	go func() {
		done <- run(ctx, []string{"pubsub", "tail", topic, "-n", "2", "--for", "30s"}, strings.NewReader(""), &out, &errOut, env)
	}()
	eventually(t, "the subscription", func() bool { return strings.Contains(errOut.String(), "tailing") })
	ps, err := pubsub.New(rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if err := ps.PublishRaw(ctx, topic, []byte("before")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first message", func() bool { return strings.Contains(out.String(), "before") })
	// Cut every subscriber connection: the tail reconnects and says so.
	if err := rdb.(*redis.Client).ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gap", func() bool { return strings.Contains(out.String(), "--- gap on") })
	// Publish until the resubscribed tail prints it.
	eventually(t, "a message after the gap", func() bool {
		_ = ps.PublishRaw(ctx, topic, []byte("after"))
		return strings.Contains(out.String(), "after")
	})
	if code := <-done; code != exitOK {
		t.Fatalf("tail: code %d, %s", code, errOut.String())
	}
	if i, j := strings.Index(out.String(), "--- gap on"), strings.Index(out.String(), "after"); i < 0 || j < i {
		t.Errorf("gap not printed before the later message:\n%s", out.String())
	}
}
