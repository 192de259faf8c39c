package cache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
)

// trackedCache returns a cache of strings with a tracked L1 of a minute,
// whose loader answers from src, and the errors passed to OnError.
func trackedCache(t *testing.T, rdb redis.UniversalClient, prefix string, src *sync.Map) (*Cache[string], *[]error, *sync.Mutex) {
	t.Helper()
	var mu sync.Mutex
	var errs []error
	c := newTestCache(t, rdb, &Options[string]{Prefix: prefix, OpTimeout: 10 * time.Second,
		Local:   &LocalOptions{TTL: time.Minute, Tracking: true},
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
		Loader: LoaderFunc[string](func(_ context.Context, k string) (string, error) {
			v, ok := src.Load(k)
			if !ok {
				return "", ErrNotFound
			}
			return v.(string), nil
		})})
	return c, &errs, &mu
}

// waitTracking writes a probe key until every cache saw an invalidation
// more than it had: the tracking connections are up.
func waitTracking(t *testing.T, writer *Cache[string], cs ...*Cache[string]) {
	t.Helper()
	base := make([]int64, len(cs))
	for i, c := range cs {
		base[i] = c.Stats().TrackingInvalidations
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := writer.Set(context.Background(), "probe", "x"); err != nil {
			t.Fatal(err)
		}
		up := true
		for i, c := range cs {
			up = up && c.Stats().TrackingInvalidations > base[i]
		}
		if up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("tracking never delivered an invalidation")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inL1 reads key until a read is answered from L1 (a fill's own write
// echoes back as an invalidation first).
func inL1(t *testing.T, c *Cache[string], key, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := c.Stats().LocalHits
		eventuallyValue(t, c, key, want)
		if c.Stats().LocalHits > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered from L1", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func eventuallyValue(t *testing.T, c *Cache[string], key, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := c.Get(context.Background(), key)
		if errors.Is(err, ErrNotFound) {
			v = "<none>"
		} else if err != nil {
			t.Fatal(err)
		}
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q after 10 s, want %q (L1 TTL is a minute)", key, v, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A value changed by a writer that publishes nothing (another cache
// without L1, a plain DEL) leaves every instance's tracked L1.
func TestTracking_writesByOthersDropL1(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		prefix := redistest.Prefix(t)
		var src sync.Map
		src.Store("k", "v1")
		a, _, _ := trackedCache(t, tp.Client(t), prefix, &src)
		b, _, _ := trackedCache(t, tp.Client(t), prefix, &src)
		other := newTestCache(t, tp.Client(t), &Options[string]{Prefix: prefix, OpTimeout: 10 * time.Second})
		waitTracking(t, other, a, b)

		inL1(t, a, "k", "v1")
		inL1(t, b, "k", "v1")
		if err := other.Set(context.Background(), "k", "v2"); err != nil {
			t.Fatal(err)
		}
		eventuallyValue(t, a, "k", "v2")
		eventuallyValue(t, b, "k", "v2")
		inL1(t, a, "k", "v2")
		inL1(t, b, "k", "v2")

		// A plain DEL by another client: the next read loads.
		src.Store("k", "v3")
		raw := tp.Client(t)
		if err := raw.Del(context.Background(), a.Key("k")).Err(); err != nil {
			t.Fatal(err)
		}
		eventuallyValue(t, a, "k", "v3")
		eventuallyValue(t, b, "k", "v3")
	})
}

// Killing the tracking subscriber flushes L1 and is reported; tracking
// comes back and goes on dropping changed keys.
func TestTracking_lostConnectionFlushes(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Config{})
	prefix := redistest.Prefix(t)
	var src sync.Map
	src.Store("k", "v1")
	a, errs, mu := trackedCache(t, srv.Client(t), prefix, &src)
	other := newTestCache(t, srv.Client(t), &Options[string]{Prefix: prefix, OpTimeout: 10 * time.Second})
	waitTracking(t, other, a)
	inL1(t, a, "k", "v1")

	admin := srv.Client(t)
	if err := admin.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats().TrackingFlushes == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no flush after the subscriber was killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	reported := len(*errs) > 0 && strings.Contains((*errs)[0].Error(), "tracked L1 flushed")
	mu.Unlock()
	if !reported {
		t.Errorf("OnError got %v, want a tracked-L1 flush", *errs)
	}
	// Tracking is back: a later change is seen.
	waitTracking(t, other, a) // tracking is back
	inL1(t, a, "k", "v1")
	if err := other.Set(context.Background(), "k", "v2"); err != nil {
		t.Fatal(err)
	}
	eventuallyValue(t, a, "k", "v2")

	// A Redis restart (it keeps nothing here): flushed, then tracked again.
	inL1(t, a, "k", "v2")
	flushes := a.Stats().TrackingFlushes
	srv.Kill()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for a.Stats().TrackingFlushes == flushes {
		if time.Now().After(deadline) {
			t.Fatal("no flush after a Redis restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	src.Store("k", "v3") // the restart lost the stored value: the next read loads
	eventuallyValue(t, a, "k", "v3")
	waitTracking(t, other, a)
	if err := other.Set(context.Background(), "k", "v4"); err != nil {
		t.Fatal(err)
	}
	eventuallyValue(t, a, "k", "v4")
}

// A load racing a versioned delete of a key Redis does not hold (only its
// version marker changes) must not leave the old value in the tracked L1.
func TestTracking_loadRacingMarkerOnlyDelete(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	prefix := redistest.Prefix(t)
	var src sync.Map
	src.Store("k", "old")
	read, release := make(chan struct{}), make(chan struct{})
	var once, released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	defer unblock() // a failed test must not leave the loader blocked
	a := newTestCache(t, rdb, &Options[string]{Prefix: prefix, OpTimeout: 10 * time.Second, VersionedFills: true,
		Local: &LocalOptions{TTL: time.Minute, Tracking: true},
		Loader: LoaderFunc[string](func(_ context.Context, k string) (string, error) {
			v, _ := src.Load(k)
			once.Do(func() { close(read); <-release })
			return v.(string), nil
		})})
	other := newTestCache(t, rdb, &Options[string]{Prefix: prefix, OpTimeout: 10 * time.Second, VersionedFills: true})
	waitTracking(t, other, a)
	got := make(chan string, 1)
	go func() { v, _ := a.Get(context.Background(), "k"); got <- v }()
	<-read // the loader has read "old"; Redis holds nothing for k
	n := a.Stats().TrackingInvalidations
	src.Store("k", "new")
	if err := other.Delete(context.Background(), "k"); err != nil { // bumps only the marker
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats().TrackingInvalidations == n {
		if time.Now().After(deadline) {
			t.Fatal("the marker change was not reported")
		}
		time.Sleep(5 * time.Millisecond)
	}
	unblock()
	if v := <-got; v != "old" {
		t.Fatalf("the racing read got %q", v)
	}
	if v, err := a.Get(context.Background(), "k"); err != nil || v != "new" {
		t.Errorf("after the race Get = %q, %v; want new (the old value stayed in L1 or Redis)", v, err)
	}
}

// A server that refuses tracking (an ACL without CLIENT TRACKING here;
// Redis before 6 answers "unknown subcommand") makes the tracked L1 fall
// back to an untracked one: reported once, counted, and L1 serves again.
func TestTracking_refusedFallsBackToUntrackedL1(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	rdb := s.Client(t)
	ctx := t.Context()
	if err := rdb.Do(ctx, "ACL", "SETUSER", "default", "-client|tracking").Err(); err != nil {
		t.Fatal(err)
	}
	src := &sync.Map{}
	src.Store("k", "v1")
	c, errs, mu := trackedCache(t, rdb, "fb", src)
	deadline := time.Now().Add(20 * time.Second)
	for c.Stats().TrackingFallbacks == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no fallback; stats %+v", c.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	inL1(t, c, "k", "v1") // L1 serves again
	// Untracked now: a write by another client is not seen until the TTL.
	if err := rdb.Set(ctx, c.Key("k"), `"v2"`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || v != "v1" {
		t.Errorf("Get = %q, %v; want the L1 copy v1 (untracked)", v, err)
	}
	time.Sleep(200 * time.Millisecond) // no retry, no second report
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, err := range *errs {
		if strings.Contains(err.Error(), "falls back") {
			n++
			if !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("the report does not say why: %v", err)
			}
		}
	}
	if n != 1 || c.Stats().TrackingFallbacks != 1 {
		t.Errorf("%d fallback reports, %d counted; want 1 (errors: %v)", n, c.Stats().TrackingFallbacks, *errs)
	}
}
