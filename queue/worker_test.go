package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"go.uber.org/goleak"
)

func TestWorker_Handle_FailOnceThenSucceed(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		var calls atomic.Int32
		done := make(chan *queue.Message, 1)
		w := consume(t, q, func(ctx context.Context, m *queue.Message) error {
			if calls.Add(1) == 1 {
				return errors.New("flaky")
			}
			done <- m
			return nil
		}, fastWorker(2))
		if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
		m := <-done
		if m.Delivery != 2 || m.LastError != "flaky" {
			t.Errorf("second delivery = %+v, want Delivery 2 and LastError flaky", m)
		}
		waitFor(t, "ack", func() bool { return w.Stats().Acked == 1 })
		if c := counts(t, q); c != (queue.Counts{}) {
			t.Errorf("counts after ack = %+v", c)
		}
		if s := w.Stats(); s.Failed != 1 || s.Retried != 1 || s.Handled != 1 || s.Acked != 1 {
			t.Errorf("stats = %+v", s)
		}
	})
}

func TestWorker_Handle_PoisonGoesToDeadLettersAndRequeueBringsItBack(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), &queue.Options{MaxDeliveries: 3})
		var healed atomic.Bool
		var calls atomic.Int32
		consume(t, q, func(ctx context.Context, m *queue.Message) error {
			calls.Add(1)
			if string(m.Payload) == "poison" && !healed.Load() {
				return fmt.Errorf("cannot parse delivery %d", m.Delivery)
			}
			return nil
		}, fastWorker(4))
		if _, err := q.Enqueue(ctx, []byte("poison")); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Enqueue(ctx, []byte("fine")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "dead letter", func() bool { return counts(t, q).Dead == 1 })
		dead, err := q.PeekDead(ctx, 10)
		if err != nil || len(dead) != 1 {
			t.Fatalf("PeekDead = %v, %v", dead, err)
		}
		if d := dead[0]; string(d.Payload) != "poison" || d.Deliveries != 3 || d.LastError != "cannot parse delivery 3" {
			t.Errorf("dead letter = %+v, want poison after 3 deliveries", d)
		}
		if got := calls.Load(); got != 4 {
			t.Errorf("handler calls = %d, want 3 for poison + 1 for fine", got)
		}
		healed.Store(true)
		n, err := q.RequeueDead(ctx, 0)
		if err != nil || n != 1 {
			t.Fatalf("RequeueDead = %d, %v", n, err)
		}
		waitFor(t, "requeued message handled", func() bool { return counts(t, q) == queue.Counts{} })
		if got := calls.Load(); got != 5 {
			t.Errorf("handler calls = %d, want 5", got)
		}
	})
}

func TestWorker_Handle_PermanentDeadLettersAtOnce(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		var calls atomic.Int32
		w := consume(t, q, func(ctx context.Context, m *queue.Message) error {
			calls.Add(1)
			if string(m.Payload) == "panic" {
				panic("bad input")
			}
			return queue.Permanent(errors.New("unknown customer"))
		}, fastWorker(2))
		if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Enqueue(ctx, []byte("panic"), queue.WithMaxDeliveries(1)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "dead letters", func() bool { return counts(t, q).Dead == 2 && w.Stats().DeadLettered == 2 })
		dead, err := q.PeekDead(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, d := range dead {
			got[string(d.Payload)] = d.LastError
		}
		if got["x"] != "unknown customer" || got["panic"] != "queue: handler panicked: bad input" {
			t.Errorf("dead letters = %v", got)
		}
		if calls.Load() != 2 || w.Stats().DeadLettered != 2 {
			t.Errorf("calls %d, stats %+v; want 2 calls, 2 dead-lettered", calls.Load(), w.Stats())
		}
	})
}

func TestWorker_Handle_DelayedArrivesNoEarlierThanDue(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		got := make(chan time.Time, 1)
		consume(t, q, func(ctx context.Context, m *queue.Message) error {
			got <- time.Now()
			return nil
		}, fastWorker(1))
		start := time.Now()
		if _, err := q.Enqueue(ctx, []byte("later"), queue.WithDelay(400*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if c := counts(t, q); c.Delayed != 1 {
			t.Errorf("counts = %+v, want 1 delayed", c)
		}
		at := <-got
		d := at.Sub(start)
		t.Logf("delivered %v after enqueue (delay 400ms)", d)
		if d < 400*time.Millisecond {
			t.Errorf("delivered after %v, before its 400ms delay", d)
		}
	})
}

func TestWorker_Heartbeat_KeepsLongHandlerInvisible(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		var calls atomic.Int32
		opt := fastWorker(2)
		opt.VisibilityTimeout = 400 * time.Millisecond
		opt.HeartbeatInterval = 40 * time.Millisecond
		w := consume(t, q, func(ctx context.Context, m *queue.Message) error {
			calls.Add(1)
			select {
			case <-time.After(1200 * time.Millisecond): // three visibility timeouts
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, opt)
		if _, err := q.Enqueue(ctx, []byte("slow")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "ack", func() bool { return w.Stats().Acked == 1 })
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1: heartbeats did not hold the delivery", n)
		}
	})
}

func TestWorker_Heartbeat_LostDeliveryCancelsHandler(t *testing.T) {
	ctx := t.Context()
	q := newQueue(t, redistest.Standalone.Client(t), nil)
	canceled := make(chan error, 1)
	started := make(chan *queue.Message, 1)
	opt := fastWorker(1)
	opt.HeartbeatInterval = 20 * time.Millisecond
	w := consume(t, q, func(ctx context.Context, m *queue.Message) error {
		started <- m
		<-ctx.Done()
		canceled <- ctx.Err()
		return ctx.Err()
	}, opt)
	if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	m := <-started
	// Someone else finishes the delivery (as if reclaimed and redone).
	if err := q.Ack(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := <-canceled; !errors.Is(err, context.Canceled) {
		t.Errorf("handler ctx = %v, want canceled", err)
	}
	waitFor(t, "stale nack counted", func() bool { return w.Stats().Stale == 1 })
	if s := w.Stats(); s.LostLeases != 1 {
		t.Errorf("stats = %+v, want 1 lost lease", s)
	}
}

// TestWorker_Shutdown_WaitsForHandlersAndLeavesNoGoroutine is not
// parallel, so goleak sees only its own goroutines.
func TestWorker_Shutdown_WaitsForHandlersAndLeavesNoGoroutine(t *testing.T) {
	rdb := redistest.Standalone.NewClient(t)
	defer rdb.Close()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := t.Context()
	q := newQueue(t, rdb, nil)
	started := make(chan struct{}, 3)
	release := make(chan struct{})
	var finished atomic.Int32
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		started <- struct{}{}
		<-release
		finished.Add(1)
		return nil
	}), fastWorker(3))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		<-started
	}
	shut := make(chan error, 1)
	go func() { shut <- w.Shutdown(context.Background()) }()
	close(release)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	// The 3 running handlers finished; the fetcher may have taken the other
	// two before it saw the shutdown, and then waited for them too.
	c := counts(t, q)
	if n := finished.Load(); n < 3 || int64(n)+c.Ready != 5 || c.InFlight != 0 {
		t.Errorf("%d handlers finished, counts %+v; want >= 3 finished, the rest ready, none in flight", n, c)
	}
	if err := w.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}

// TestWorker_Shutdown_DeadlineReturnsRunningToReady is not parallel, so
// goleak sees only its own goroutines.
func TestWorker_Shutdown_DeadlineReturnsRunningToReady(t *testing.T) {
	rdb := redistest.Standalone.NewClient(t)
	defer rdb.Close()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	q := newQueue(t, rdb, nil)
	started := make(chan struct{}, 2)
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}), fastWorker(2))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := q.Enqueue(t.Context(), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if c := counts(t, q); c != (queue.Counts{Ready: 2}) {
		t.Errorf("counts after abandoning = %+v, want both back in ready", c)
	}
}

func TestWorkerOptions_Validate(t *testing.T) {
	q := newQueue(t, redistest.Standalone.Client(t), nil)
	h := queue.HandlerFunc(func(context.Context, *queue.Message) error { return nil })
	tests := []struct {
		name string
		opt  queue.WorkerOptions
	}{
		{name: "negative concurrency", opt: queue.WorkerOptions{Concurrency: -1}},
		{name: "heartbeat not below visibility", opt: queue.WorkerOptions{VisibilityTimeout: time.Second, HeartbeatInterval: time.Second}},
		{name: "tiny visibility", opt: queue.WorkerOptions{VisibilityTimeout: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w, err := q.Consume(h, &tt.opt); err == nil {
				_ = w.Close()
				t.Errorf("Consume(%+v) = nil error", tt.opt)
			}
		})
	}
	if _, err := q.Consume(nil, nil); err == nil {
		t.Error("Consume(nil handler) = nil error")
	}
}

// An idle worker waits for work and fetches it in one round trip: from
// the enqueue to the handler's start the worker starts no Redis call.
func TestWorker_IdleWakeUp_OneRoundTrip(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		var rt redistest.RoundTrips
		rdb.AddHook(&rt)
		prefix := redistest.Prefix(t)
		q := newQueue(t, rdb, &queue.Options{Prefix: prefix})
		producer := newQueue(t, tp.Client(t), &queue.Options{Prefix: prefix})
		started := make(chan int64, 10)
		opt := fastWorker(1)
		opt.Prefetch = -1 // the fetcher waits for the one handler
		opt.BlockTimeout, opt.ReapInterval, opt.HeartbeatInterval = 2*time.Second, time.Minute, time.Minute
		opt.VisibilityTimeout = 2 * time.Minute
		consume(t, q, func(ctx context.Context, m *queue.Message) error {
			started <- rt.Load() // Concurrency 1: the fetcher waits for this handler
			return nil
		}, opt)
		for round := range 3 {
			time.Sleep(300 * time.Millisecond) // the worker is blocked on the wake list
			before := rt.Load()
			if _, err := producer.Enqueue(ctx, []byte("x")); err != nil {
				t.Fatal(err)
			}
			select {
			case at := <-started:
				if at != before {
					t.Errorf("round %d: the worker started %d Redis calls between the enqueue and the handler, want 0", round, at-before)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: not handled", round)
			}
		}
	})
}

// Prefetch holds messages beyond the running handlers; Shutdown returns
// the unstarted ones to the front of the queue at once, not counted as a
// delivery.
func TestWorker_Prefetch_HoldsAndReleasesAtShutdown(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		enqueueN(t, q, 6)
		started := make(chan *queue.Message, 10)
		unblock := make(chan struct{})
		opt := fastWorker(1)
		opt.Prefetch = 3
		w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
			started <- m
			<-unblock
			return nil
		}), opt)
		if err != nil {
			t.Fatal(err)
		}
		first := <-started
		waitFor(t, "1 running + 3 prefetched in flight", func() bool {
			c := counts(t, q)
			return c.InFlight == 4 && c.Ready == 2
		})
		select {
		case m := <-started:
			t.Fatalf("a second handler started (%s) with Concurrency 1", m.Payload)
		case <-time.After(100 * time.Millisecond):
		}
		shut := make(chan error, 1)
		go func() { shut <- w.Shutdown(context.Background()) }()
		waitFor(t, "the 3 prefetched back in the ready list", func() bool {
			c := counts(t, q)
			return c.InFlight == 1 && c.Ready == 5
		})
		close(unblock)
		if err := <-shut; err != nil {
			t.Fatal(err)
		}
		if s := w.Stats(); s.Released != 3 || s.Handled != 1 || s.Acked != 1 {
			t.Errorf("stats = %+v, want 3 released, 1 handled and acked", s)
		}
		if c := counts(t, q); c != (queue.Counts{Ready: 5}) {
			t.Errorf("counts after shutdown = %+v, want 5 ready", c)
		}
		// The released ones come first, as first deliveries.
		ms, err := q.Fetch(ctx, 5, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, string(m.Payload))
			if m.Delivery != 1 {
				t.Errorf("%s: delivery %d after release, want 1", m.Payload, m.Delivery)
			}
		}
		want := []string{"m1", "m2", "m3", "m4", "m5"}
		if first.Delivery != 1 || string(first.Payload) != "m0" || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("first %s, then %v; want m0, then %v", first.Payload, got, want)
		}
	})
}

// Heartbeats extend prefetched deliveries while they wait for a handler:
// none expires and none is delivered twice.
func TestWorker_Prefetch_HeartbeatKeepsWaitingDeliveries(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		q := newQueue(t, tp.Client(t), nil)
		const n = 8
		enqueueN(t, q, n)
		var mu sync.Mutex
		var deliveries []int
		record := func(m *queue.Message) {
			mu.Lock()
			deliveries = append(deliveries, m.Delivery)
			mu.Unlock()
		}
		opt := fastWorker(1)
		opt.Prefetch = n
		opt.VisibilityTimeout, opt.HeartbeatInterval, opt.ReapInterval = 300*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
		w := consume(t, q, func(ctx context.Context, m *queue.Message) error {
			record(m)
			time.Sleep(100 * time.Millisecond) // 8 of them: far past the visibility timeout
			return nil
		}, opt)
		waitFor(t, "the worker holding every message", func() bool {
			return counts(t, q) == queue.Counts{InFlight: n}
		})
		// Another worker reaps, and would take, any delivery that expires.
		consume(t, q, func(ctx context.Context, m *queue.Message) error {
			record(m)
			return nil
		}, fastWorker(1))
		waitFor(t, "all handled and acked", func() bool {
			return counts(t, q) == queue.Counts{}
		})
		mu.Lock()
		defer mu.Unlock()
		for _, d := range deliveries {
			if d != 1 {
				t.Errorf("a redelivery (delivery %d): a waiting delivery expired", d)
			}
		}
		if len(deliveries) != n {
			t.Errorf("%d deliveries of %d messages", len(deliveries), n)
		}
		if s := w.Stats(); s.LostLeases != 0 || s.Stale != 0 || s.Handled != n {
			t.Errorf("worker stats %+v: a prefetched delivery was lost", s)
		}
	})
}

// Automatic prefetch never hoards long jobs: with handlers much longer
// than a round trip the worker holds nothing beyond its running handlers.
func TestWorker_AutoPrefetch_LongHandlersHoldNothingExtra(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		q := newQueue(t, tp.Client(t), nil)
		enqueueN(t, q, 6)
		var running atomic.Int64
		var worst atomic.Int64
		consume(t, q, func(ctx context.Context, m *queue.Message) error {
			running.Add(1)
			defer running.Add(-1)
			time.Sleep(300 * time.Millisecond) // far above a round trip, even on a loaded machine
			return nil
		}, fastWorker(2)) // Prefetch 0: automatic
		deadline := time.Now().Add(20 * time.Second)
		for {
			c := counts(t, q)
			if extra := int64(c.InFlight) - 2; extra > worst.Load() {
				worst.Store(extra)
			}
			if c == (queue.Counts{}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not drained: %+v", c)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if worst.Load() > 0 {
			t.Errorf("the worker held %d messages beyond its 2 handlers of 300ms each", worst.Load())
		}
	})
}
