package queue_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	redistest.Main(m)
}

// newQueue returns a queue with a unique prefix on rdb.
func newQueue(tb testing.TB, rdb redis.UniversalClient, opt *queue.Options) *queue.Queue {
	tb.Helper()
	o := queue.Options{}
	if opt != nil {
		o = *opt
	}
	if o.Prefix == "" {
		o.Prefix = redistest.Prefix(tb)
	}
	q, err := queue.New(rdb, "jobs", &o)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// consume starts a worker shut down at cleanup.
func consume(tb testing.TB, q *queue.Queue, h queue.HandlerFunc, opt *queue.WorkerOptions) *queue.Worker {
	tb.Helper()
	w, err := q.Consume(h, opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
	})
	return w
}

// fastWorker are worker options that keep tests quick.
func fastWorker(concurrency int) *queue.WorkerOptions {
	return &queue.WorkerOptions{
		Concurrency:       concurrency,
		VisibilityTimeout: 2 * time.Second,
		BlockTimeout:      200 * time.Millisecond,
		ReapInterval:      100 * time.Millisecond,
		Backoff:           func(int) time.Duration { return 10 * time.Millisecond },
	}
}

// waitFor polls cond every 10ms until it holds or 20s pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counts returns q's counts or fails tb.
func counts(tb testing.TB, q *queue.Queue) queue.Counts {
	tb.Helper()
	c, err := q.Counts(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// recorder records handled payloads.
type recorder struct {
	mu   sync.Mutex // guards seen
	seen map[string]int
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.seen[s]++
	r.mu.Unlock()
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[s]
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// enqueueN enqueues n messages with payloads "m0", "m1", ...
func enqueueN(tb testing.TB, q *queue.Queue, n int) {
	tb.Helper()
	for i := range n {
		if _, err := q.Enqueue(context.Background(), fmt.Appendf(nil, "m%d", i)); err != nil {
			tb.Fatal(err)
		}
	}
}
