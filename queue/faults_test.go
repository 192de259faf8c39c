package queue_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"github.com/redis/go-redis/v9"
)

// The consumer child process: the test binary re-executed with childEnv
// set. It consumes the queue named by the environment, records every
// handled message id in a hash (HINCRBY, so redeliveries are counted), and
// runs until it is killed or its stdin (a pipe from the parent) closes.
const (
	childEnv     = "ASIDE_QUEUE_TEST_CHILD"
	childAddrs   = "ASIDE_QUEUE_TEST_ADDRS"
	childCluster = "ASIDE_QUEUE_TEST_CLUSTER"
	childPrefix  = "ASIDE_QUEUE_TEST_PREFIX"
)

func childMain() int {
	addrs := strings.Split(os.Getenv(childAddrs), ",")
	var rdb redis.UniversalClient
	if os.Getenv(childCluster) == "1" {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	} else {
		rdb = redis.NewClient(&redis.Options{Addr: addrs[0]})
	}
	prefix := os.Getenv(childPrefix)
	q, err := queue.New(rdb, "jobs", &queue.Options{Prefix: prefix})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	handled := handledKey(prefix)
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		if err := rdb.HIncrBy(ctx, handled, m.ID, 1).Err(); err != nil {
			return err
		}
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // the kill lands mid-handler
		return nil
	}), &queue.WorkerOptions{
		Concurrency:       8,
		Prefetch:          8, // kills land on prefetched batches too
		VisibilityTimeout: time.Second,
		BlockTimeout:      200 * time.Millisecond,
		ReapInterval:      100 * time.Millisecond,
		Backoff:           func(int) time.Duration { return 10 * time.Millisecond },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
	_ = w.Close()
	return 0
}

func handledKey(prefix string) string { return "{" + prefix + ":jobs}:handled" }

// child is one running consumer process.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	started time.Time
}

func startChild(tb testing.TB, addrs []string, cluster bool, prefix string) *child {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cl := "0"
	if cluster {
		cl = "1"
	}
	cmd.Env = append(os.Environ(), childEnv+"=1", childAddrs+"="+strings.Join(addrs, ","), childCluster+"="+cl, childPrefix+"="+prefix)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return &child{cmd: cmd, stdin: in, started: time.Now()}
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill() // SIGKILL
	_ = c.cmd.Wait()
	_ = c.stdin.Close()
}

func addrsOf(tb testing.TB, rdb redis.UniversalClient) []string {
	tb.Helper()
	switch c := rdb.(type) {
	case *redis.Client:
		return []string{c.Options().Addr}
	case *redis.ClusterClient:
		return c.Options().Addrs
	}
	tb.Fatalf("unknown client type %T", rdb)
	return nil
}

// TestWorker_ConsumerKilled_NothingLost enqueues 10,000 messages while
// consumer processes are killed with SIGKILL mid-handler, again and again,
// and checks that every message was handled at least once.
func TestWorker_ConsumerKilled_NothingLost(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		const total, children, maxKills, minLife = 10000, 3, 25, 500 * time.Millisecond
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		q := newQueue(t, rdb, &queue.Options{Prefix: prefix, MaxDeliveries: -1})
		addrs := addrsOf(t, rdb)

		var mu sync.Mutex // guards procs
		procs := make([]*child, children)
		for i := range procs {
			procs[i] = startChild(t, addrs, tp.IsCluster(), prefix)
		}
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range procs {
				c.kill()
			}
		})

		// Produce in batches while the killer works.
		ids := make([]string, 0, total)
		produced := make(chan error, 1)
		go func() {
			for len(ids) < total {
				items := make([]queue.Item, 200)
				for i := range items {
					items[i].Payload = []byte("job") // equal payloads: ids tell them apart
				}
				got, err := q.EnqueueMany(ctx, items)
				if err != nil {
					produced <- err
					return
				}
				for _, r := range got {
					ids = append(ids, r.ID)
				}
				// Spread production over ~3 s: batched consumers drain fast, and
				// the kills must land while messages flow.
				time.Sleep(60 * time.Millisecond)
			}
			produced <- nil
		}()

		handledCount := func() int64 {
			n, err := rdb.HLen(ctx, handledKey(prefix)).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		kills := 0
		deadline := time.Now().Add(90 * time.Second)
		for handledCount() < total {
			if time.Now().After(deadline) {
				t.Fatalf("after 90s only %d of %d handled, counts %+v", handledCount(), total, counts(t, q))
			}
			time.Sleep(time.Duration(100+rand.IntN(150)) * time.Millisecond)
			if handledCount() >= total {
				break
			}
			i := rand.IntN(children)
			mu.Lock()
			if kills >= maxKills || time.Since(procs[i].started) < minLife {
				// Let a fresh child start consuming before it dies again
				// (a -race binary with a Cluster client starts slowly).
				mu.Unlock()
				continue
			}
			procs[i].kill()
			procs[i] = startChild(t, addrs, tp.IsCluster(), prefix)
			mu.Unlock()
			kills++
		}
		if err := <-produced; err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		waitFor(t, "the queue to drain", func() bool { return counts(t, q) == queue.Counts{} })

		hs, err := rdb.HGetAll(ctx, handledKey(prefix)).Result()
		if err != nil {
			t.Fatal(err)
		}
		lost, dups := 0, 0
		for _, id := range ids {
			n, _ := strconv.Atoi(hs[id])
			if n == 0 {
				lost++
			}
			if n > 1 {
				dups += n - 1
			}
		}
		t.Logf("%s: %d messages, %d consumer kills (SIGKILL), %d lost, %d duplicate deliveries handled",
			tp.Name, len(ids), kills, lost, dups)
		if len(ids) != total || lost != 0 {
			t.Errorf("%d of %d enqueued messages never handled", lost, len(ids))
		}
		if kills < 3 {
			t.Errorf("only %d kills happened while messages flowed; the test proved little", kills)
		}
	})
}

// TestWorker_RedisKilled_AcknowledgedEnqueuesSurvive kills Redis with
// SIGKILL while a producer enqueues and some messages are in flight,
// restarts it (appendonly yes, appendfsync always), and checks that every
// enqueue that returned nil is then delivered to a worker.
func TestWorker_RedisKilled_AcknowledgedEnqueuesSurvive(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		s := redistest.StartServer(t, redistest.Config{AOF: true})
		testRedisKilled(t, s.Client(t), func(string) *redistest.Server { return s })
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c := redistest.StartCluster(t, redistest.ClusterConfig{AOF: true})
		rdb := c.Client(t).(*redis.ClusterClient)
		testRedisKilled(t, rdb, func(key string) *redistest.Server {
			// The master that holds the queue's slot.
			m, err := rdb.MasterForKey(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.Masters {
				if s.Addr() == m.Options().Addr {
					return s
				}
			}
			t.Fatalf("no master at %s", m.Options().Addr)
			return nil
		})
	})
}

// testRedisKilled runs the kill test on rdb; victim returns the server
// that holds key, the queue's ready list.
func testRedisKilled(t *testing.T, rdb redis.UniversalClient, victim func(key string) *redistest.Server) {
	prefix := redistest.Prefix(t)
	q := newQueue(t, rdb, &queue.Options{Prefix: prefix})
	s := victim("{" + prefix + "|jobs}:ready")

	const attempts = 1500
	var ok []string
	halfway := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range attempts {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			id, err := q.Enqueue(ctx, fmt.Appendf(nil, "m%d", i))
			cancel()
			if err == nil {
				ok = append(ok, id)
				if len(ok) == 300 {
					close(halfway)
				}
			}
		}
	}()
	<-halfway
	// Some deliveries are in flight, never acked, when Redis dies.
	inflight, err := q.Fetch(t.Context(), 50, 500*time.Millisecond)
	if err != nil || len(inflight) != 50 {
		t.Fatalf("Fetch = %d, %v", len(inflight), err)
	}
	s.Kill()
	time.Sleep(100 * time.Millisecond) // an outage, not a synchronisation
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	<-done

	rec := newRecorder()
	consume(t, q, func(ctx context.Context, m *queue.Message) error {
		rec.add(m.ID)
		return nil
	}, fastWorker(10))
	waitFor(t, "every acknowledged enqueue to be handled", func() bool {
		for _, id := range ok {
			if rec.count(id) == 0 {
				return false
			}
		}
		return true
	})
	for _, m := range inflight {
		if rec.count(m.ID) == 0 {
			t.Errorf("message %s, in flight at the kill, was not redelivered", m.ID)
		}
	}
	t.Logf("%d of %d enqueues succeeded across the Redis kill; all %d handled, including the 50 in flight at the kill",
		len(ok), attempts, rec.len())
}

// TestWorker_RedisPaused_WorkerRecovers freezes Redis (SIGSTOP) under a
// running worker, then thaws it: the worker reports the errors, keeps
// going, and handles every message enqueued before and after.
func TestWorker_RedisPaused_WorkerRecovers(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	rdb := s.Client(t)
	q := newQueue(t, rdb, nil)
	rec := newRecorder()
	opt := fastWorker(4)
	opt.VisibilityTimeout = 5 * time.Second
	w := consume(t, q, func(ctx context.Context, m *queue.Message) error {
		rec.add(string(m.Payload))
		return nil
	}, opt)
	ctx := t.Context()
	if _, err := q.Enqueue(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first message", func() bool { return rec.count("before") == 1 })

	s.Pause()
	// While Redis is frozen the worker's calls time out (the harness
	// client's ReadTimeout); wait until it has seen at least one error.
	waitFor(t, "the worker to notice the outage", func() bool { return w.Stats().Errors > 0 })
	s.Resume()

	if _, err := q.Enqueue(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "message after the outage", func() bool { return rec.count("after") == 1 })
	waitFor(t, "queue drained", func() bool { return counts(t, q) == queue.Counts{} })
	t.Logf("worker stats after the outage: %+v", w.Stats())
}
