package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/queue"
)

// The examples run against the Redis at $REDIS_ADDR; under go test that is
// a private server the test harness starts.

// A producer and a worker with 10 concurrent handlers.
func ExampleQueue_Consume() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close() // after the worker

	q, err := queue.New(rdb, "emails", &queue.Options{Prefix: "myapp", MaxDeliveries: 5})
	if err != nil {
		log.Fatal(err)
	}

	sent := make(chan string, 1)
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		if len(m.Payload) == 0 {
			return queue.Permanent(errors.New("empty message")) // dead-lettered at once
		}
		sent <- string(m.Payload) // send the email here
		return nil                // nil acks; an error retries with backoff
	}), &queue.WorkerOptions{Concurrency: 10, VisibilityTimeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}

	if _, err := q.Enqueue(context.Background(), []byte("ada@example.com")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent to", <-sent)

	// On SIGTERM: stop fetching, let running handlers finish; what does not
	// finish in time goes back to the queue for another worker.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	// Output: sent to ada@example.com
}

// Dedupe: a second Enqueue with the same ID inside the dedupe window is
// refused, so a retried request does not send a second email.
func ExampleWithDedupeID() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	q, err := queue.New(rdb, "welcome", &queue.Options{Prefix: "myapp"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	defer q.Purge(ctx) // the example leaves nothing behind
	for range 2 {
		_, err := q.Enqueue(ctx, []byte("ada@example.com"), queue.WithDedupeID("welcome:ada"))
		fmt.Println(errors.Is(err, queue.ErrDuplicate))
	}
	// Output:
	// false
	// true
}

// Dead letters: look at them, then put them back once the bug is fixed.
func ExampleQueue_RequeueDead() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	q, err := queue.New(rdb, "invoices", &queue.Options{Prefix: "myapp"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	defer q.Purge(ctx) // the example leaves nothing behind

	// A message whose handler fails permanently.
	if _, err := q.Enqueue(ctx, []byte("customer 7")); err != nil {
		log.Fatal(err)
	}
	msgs, err := q.Fetch(ctx, 1, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		if _, err := q.Nack(ctx, m, queue.Permanent(errors.New("unknown customer")), 0); err != nil {
			log.Fatal(err)
		}
	}

	c, err := q.Counts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d ready, %d in flight, %d delayed, %d dead\n", c.Ready, c.InFlight, c.Delayed, c.Dead)
	dead, err := q.PeekDead(ctx, 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range dead {
		fmt.Printf("%q after %d deliveries: %s\n", d.Payload, d.Deliveries, d.LastError)
	}
	n, err := q.RequeueDead(ctx, 0) // all of them
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("requeued", n)
	// Output:
	// 0 ready, 0 in flight, 0 delayed, 1 dead
	// "customer 7" after 1 deliveries: unknown customer
	// requeued 1
}

// A pull consumer without a Worker: fetch, handle, ack by delivery.
func ExampleQueue_Fetch() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	q, err := queue.New(rdb, "reports", &queue.Options{Prefix: "myapp"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	defer q.Purge(ctx) // the example leaves nothing behind
	if _, err := q.Enqueue(ctx, []byte("weekly")); err != nil {
		log.Fatal(err)
	}

	msgs, err := q.Fetch(ctx, 10, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Printf("building the %s report\n", m.Payload)
		err := q.Ack(ctx, m)
		if errors.Is(err, queue.ErrStaleDelivery) {
			// Took longer than a minute: someone else has it now.
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output: building the weekly report
}

// Permanent marks an error that retrying cannot fix.
func ExamplePermanent() {
	err := queue.Permanent(errors.New("unknown customer"))
	fmt.Println(errors.Is(err, queue.ErrPermanent), err)
	// Output: true unknown customer
}

// Bulk work: many jobs in one round trip, each with its own options and
// result.
func ExampleQueue_EnqueueMany() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	q, err := queue.New(rdb, "thumbnails", &queue.Options{Prefix: "myapp"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	defer q.Purge(ctx) // the example leaves nothing behind

	items := []queue.Item{
		{Payload: []byte("a.jpg"), Options: []queue.EnqueueOption{queue.WithDedupeID("a.jpg")}},
		{Payload: []byte("b.jpg")},
		{Payload: []byte("a.jpg"), Options: []queue.EnqueueOption{queue.WithDedupeID("a.jpg")}},
	}
	res, err := q.EnqueueMany(ctx, items)
	if err != nil {
		log.Fatal(err)
	}
	for i, r := range res {
		fmt.Printf("%s: duplicate %v\n", items[i].Payload, errors.Is(r.Err, queue.ErrDuplicate))
	}

	done := make(chan string, len(items))
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		done <- string(m.Payload)
		return nil
	}), &queue.WorkerOptions{Concurrency: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-done, <-done) // one handler, so in queue order
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// a.jpg: duplicate false
	// b.jpg: duplicate false
	// a.jpg: duplicate true
	// a.jpg b.jpg
}
