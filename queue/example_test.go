package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/queue"
)

// A producer and a worker with 10 concurrent handlers. Needs a Redis at
// $REDIS_ADDR, so it is compiled, not run.
func ExampleQueue_Consume() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close() // after the worker

	q, err := queue.New(rdb, "emails", &queue.Options{Prefix: "myapp", MaxDeliveries: 5})
	if err != nil {
		log.Fatal(err)
	}

	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		if len(m.Payload) == 0 {
			return queue.Permanent(errors.New("empty message")) // dead-lettered at once
		}
		return send(ctx, string(m.Payload)) // nil acks; an error retries with backoff
	}), &queue.WorkerOptions{Concurrency: 10, VisibilityTimeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}

	id, err := q.Enqueue(context.Background(), []byte("ada@example.com"), queue.WithDedupeID("welcome:ada"))
	if err != nil && !errors.Is(err, queue.ErrDuplicate) {
		log.Fatal(err)
	}
	fmt.Println("enqueued", id)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil { // unfinished deliveries go back to the queue
		log.Print(err)
	}
}

func send(ctx context.Context, to string) error { return nil }

// Dead letters: look at them, then put them back once the bug is fixed.
// Compiled, not run.
func ExampleQueue_RequeueDead() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	q, err := queue.New(rdb, "emails", &queue.Options{Prefix: "myapp"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
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
		fmt.Printf("%s after %d deliveries: %s\n", d.ID, d.Deliveries, d.LastError)
	}
	n, err := q.RequeueDead(ctx, 0) // all of them
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("requeued", n)
}

// A pull consumer without a Worker: fetch, handle, ack by delivery.
// Compiled, not run.
func ExampleQueue_Fetch() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	q, err := queue.New(rdb, "reports", nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	msgs, err := q.Fetch(ctx, 10, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		err := q.Ack(ctx, m)
		if errors.Is(err, queue.ErrStaleDelivery) {
			// Took longer than a minute: someone else has it now.
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
	}
}

// Permanent marks an error that retrying cannot fix.
func ExamplePermanent() {
	err := queue.Permanent(errors.New("unknown customer"))
	fmt.Println(errors.Is(err, queue.ErrPermanent), err)
	// Output: true unknown customer
}
