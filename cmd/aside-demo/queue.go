package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aside-go/aside/queue"
)

func init() {
	register(scenario{order: 40, name: "queue", title: "a job queue that keeps every job until a handler finished it", run: demoQueue})
}

func demoQueue(ctx context.Context, env *demoEnv) error {
	q, err := queue.New(env.rdb, "jobs", &queue.Options{Prefix: env.prefix, MaxDeliveries: 3})
	if err != nil {
		return err
	}
	defer func() { _ = q.Purge(context.WithoutCancel(ctx)) }()

	env.say("The usual Redis list queue (RPUSH, then BLPOP, then LREM to \"acknowledge\") loses a job")
	env.say("whenever a consumer dies after popping it. Here every delivery moves the job into an")
	env.say("in-flight set with a deadline; only the handler's success deletes it.")

	// A consumer takes a job and dies before finishing it.
	crashedID, err := q.Enqueue(ctx, []byte("resize photo 17"))
	if err != nil {
		return err
	}
	taken, err := q.Fetch(ctx, 1, 300*time.Millisecond)
	if err != nil {
		return err
	}
	if len(taken) != 1 {
		return fmt.Errorf("fetch returned %d jobs, want 1", len(taken))
	}
	crashedAt := time.Now()
	env.say("A consumer took %q and crashed without finishing (its deadline: 300ms).", taken[0].Payload)

	var mu sync.Mutex // guards log and handledAt
	var log []string
	handledAt := map[string]time.Time{}
	failedOnce := false
	done := make(chan struct{}, 8)
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		mu.Lock()
		defer mu.Unlock()
		defer func() { done <- struct{}{} }()
		p := string(m.Payload)
		switch {
		case strings.HasPrefix(p, "charge card"):
			if !failedOnce {
				failedOnce = true
				log = append(log, fmt.Sprintf("%q failed on delivery %d (payment service timed out); retried after a backoff", p, m.Delivery))
				return errors.New("payment service timed out")
			}
		case strings.HasPrefix(p, "import file"):
			log = append(log, fmt.Sprintf("%q failed on delivery %d of %d (corrupt file)", p, m.Delivery, m.MaxDeliveries))
			return errors.New("corrupt file: unexpected EOF")
		}
		handledAt[m.ID] = time.Now()
		log = append(log, fmt.Sprintf("%q handled on delivery %d", p, m.Delivery))
		return nil
	}), &queue.WorkerOptions{
		Concurrency:  4,
		BlockTimeout: 200 * time.Millisecond,
		ReapInterval: 100 * time.Millisecond,
		Backoff:      func(int) time.Duration { return 50 * time.Millisecond },
	})
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			_ = w.Close()
		}
	}()

	if _, err := q.Enqueue(ctx, []byte("send welcome mail to ana")); err != nil {
		return err
	}
	if _, err := q.Enqueue(ctx, []byte("charge card of order 42")); err != nil {
		return err
	}
	if _, err := q.Enqueue(ctx, []byte("import file broken.csv")); err != nil {
		return err
	}
	delayedAt := time.Now()
	delayedID, err := q.Enqueue(ctx, []byte("remind bob tomorrow (here: in 400ms)"), queue.WithDelay(400*time.Millisecond))
	if err != nil {
		return err
	}

	// Wait until everything settled: 4 handled, 1 dead letter.
	deadline := time.After(20 * time.Second)
	for {
		c, err := q.Counts(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		handled := len(handledAt)
		mu.Unlock()
		if handled == 4 && c.Dead == 1 && c.Ready == 0 && c.InFlight == 0 && c.Delayed == 0 {
			break
		}
		select {
		case <-done:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return fmt.Errorf("queue did not settle: %d handled, counts %+v", handled, c)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	mu.Lock()
	for _, l := range log {
		env.say("  %s", l)
	}
	recovered := handledAt[crashedID].Sub(crashedAt)
	late := handledAt[delayedID].Sub(delayedAt)
	mu.Unlock()
	env.say("The crashed consumer's job was redelivered and handled %v after the crash: nothing lost.", recovered.Round(time.Millisecond))
	env.say("The delayed job ran %v after it was enqueued (due at 400ms, never earlier).", late.Round(time.Millisecond))

	c, err := q.Counts(ctx)
	if err != nil {
		return err
	}
	env.say("Counts now: %d ready, %d in flight, %d delayed, %d dead.", c.Ready, c.InFlight, c.Delayed, c.Dead)
	dead, err := q.PeekDead(ctx, 10)
	if err != nil {
		return err
	}
	for _, d := range dead {
		env.say("Dead letter %q after %d deliveries, last error: %s", d.Payload, d.Deliveries, d.LastError)
	}
	env.say("A poison job stops after its max deliveries instead of blocking the queue forever;")
	env.say("once fixed, RequeueDead puts it back. Acks name the delivery (id + token), so equal")
	env.say("payloads never acknowledge each other and a late ack from a timed-out consumer is refused.")
	closed = true
	if err := w.Close(); err != nil {
		return err
	}
	st := w.Stats()
	env.say("Worker: %d handled, %d failed, %d retried, %d dead-lettered, %d acked.", st.Handled, st.Failed, st.Retried, st.DeadLettered, st.Acked)
	if len(dead) != 1 || c.Dead != 1 {
		return fmt.Errorf("want 1 dead letter, got %d", len(dead))
	}
	return nil
}
