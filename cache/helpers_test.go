package cache

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// user is the value type most tests cache.
type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// newTestCache returns a cache over rdb with a unique prefix, closed at
// cleanup.
func newTestCache[V any](t testing.TB, rdb redis.UniversalClient, opt *Options[V]) *Cache[V] {
	t.Helper()
	if opt == nil {
		opt = &Options[V]{}
	}
	o := *opt
	if o.Prefix == "" {
		o.Prefix = redistest.Prefix(t)
	}
	c, err := New(rdb, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// countingLoader counts calls and answers from a map after an optional
// delay; keys missing from the map are ErrNotFound.
type countingLoader struct {
	calls atomic.Int64
	delay time.Duration
	mu    sync.Mutex // guards data, perKey
	data  map[string]user
	per   map[string]int
}

func newCountingLoader(delay time.Duration, keys ...string) *countingLoader {
	l := &countingLoader{delay: delay, data: map[string]user{}, per: map[string]int{}}
	for _, k := range keys {
		l.data[k] = user{ID: k, Name: "name-" + k}
	}
	return l
}

func (l *countingLoader) Load(ctx context.Context, key string) (user, error) {
	l.calls.Add(1)
	l.mu.Lock()
	l.per[key]++
	u, ok := l.data[key]
	l.mu.Unlock()
	if l.delay > 0 {
		select {
		case <-time.After(l.delay):
		case <-ctx.Done():
			return user{}, ctx.Err()
		}
	}
	if !ok {
		return user{}, ErrNotFound
	}
	return u, nil
}

func (l *countingLoader) maxPerKey() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := 0
	for _, n := range l.per {
		m = max(m, n)
	}
	return m
}

// cmdCounter is a go-redis hook counting the commands a client sends, by
// lower-case name.
type cmdCounter struct {
	mu sync.Mutex // guards n
	n  map[string]int
}

func countCommands(rdb redis.UniversalClient) *cmdCounter {
	h := &cmdCounter{n: map[string]int{}}
	rdb.AddHook(h)
	return h
}

func (h *cmdCounter) add(cmds ...redis.Cmder) {
	h.mu.Lock()
	for _, c := range cmds {
		switch name := strings.ToLower(c.Name()); name {
		case "hello", "client", "auth", "select": // connection handshake
		default:
			h.n[name]++
		}
	}
	h.mu.Unlock()
}

func (h *cmdCounter) get(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[name]
}

func (h *cmdCounter) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, v := range h.n {
		n += v
	}
	return n
}

func (h *cmdCounter) reset() {
	h.mu.Lock()
	clear(h.n)
	h.mu.Unlock()
}

func (h *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd)
		return next(ctx, cmd)
	}
}

func (h *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.add(cmds...)
		return next(ctx, cmds)
	}
}
