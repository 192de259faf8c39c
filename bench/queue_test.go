package bench

// Queue benchmarks: aside/queue against asynq, rmq and
// watermill-redisstream, each on the same private redis-server over
// loopback TCP, each with 10 concurrent handlers.
//
// BenchmarkQueueThroughput_*: b.N messages of 64 bytes enqueued one by one
// by 10 producer goroutines while the consumer runs; the clock stops when
// every message was handled and acked. Reported as msgs/s.
//
// BenchmarkQueueLatency_*: b.N times, one message enqueued on an idle
// queue; the time from just before the enqueue call to the handler's start.
// Reported as p50-ms / p99-ms (ns/op is the mean round).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/adjust/rmq/v5"
	"github.com/aside-go/aside/queue"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

const (
	queueHandlers  = 10
	queueProducers = 10
)

var queuePayload = make([]byte, 64)

// queueSystem is one library set up for a benchmark: enqueue adds one
// message; handled is called by the library's handler after it finished
// the message; stop shuts the consumer down.
type queueSystem struct {
	enqueue func(ctx context.Context, payload []byte) error
	// drained, if not nil, reports whether the library finished its
	// bookkeeping (acks applied) after the last handler returned.
	drained func(ctx context.Context) bool
	stop    func()
}

type queueSetup func(b *testing.B, rdb *redis.Client, name string, handled func()) queueSystem

// benchQueueThroughput measures msgs/s end to end.
func benchQueueThroughput(b *testing.B, setup queueSetup) {
	rdb := client(b)
	ctx := context.Background()
	var count atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	sys := setup(b, rdb, prefix(b), func() {
		if count.Add(1) == n {
			close(done)
		}
	})
	defer sys.stop()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range queueProducers {
		wg.Go(func() {
			for next.Add(1) <= n {
				if err := sys.enqueue(ctx, queuePayload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(time.Minute + time.Duration(n)*time.Millisecond):
		b.Fatalf("handled %d of %d", count.Load(), n)
	}
	if sys.drained != nil {
		for !sys.drained(ctx) {
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
}

// benchQueueLatency measures enqueue-to-handler latency on an idle queue.
func benchQueueLatency(b *testing.B, setup queueSetup) {
	rdb := client(b)
	ctx := context.Background()
	got := make(chan time.Time, 1)
	sys := setup(b, rdb, prefix(b), func() {
		select {
		case got <- time.Now():
		default:
		}
	})
	defer sys.stop()
	// Let the consumer go idle (asynq and rmq poll; aside blocks).
	time.Sleep(50 * time.Millisecond)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := sys.enqueue(ctx, queuePayload); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-got:
			lat = append(lat, at.Sub(start))
		case <-time.After(30 * time.Second):
			b.Fatal("message not handled within 30s")
		}
	}
	b.StopTimer()
	b.ReportMetric(durMs(durPercentile(lat, 50)), "p50-ms")
	b.ReportMetric(durMs(durPercentile(lat, 99)), "p99-ms")
}

// setupQueueAside: one worker with 10 handlers. Acks are batched by the worker;
// drained waits until Redis applied them all.
func setupQueueAside(b *testing.B, rdb *redis.Client, name string, handled func()) queueSystem {
	q, err := queue.New(rdb, "bench", &queue.Options{Prefix: name})
	if err != nil {
		b.Fatal(err)
	}
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		handled()
		return nil
	}), &queue.WorkerOptions{Concurrency: queueHandlers})
	if err != nil {
		b.Fatal(err)
	}
	return queueSystem{
		enqueue: func(ctx context.Context, p []byte) error { _, err := q.Enqueue(ctx, p); return err },
		drained: func(ctx context.Context) bool {
			c, err := q.Counts(ctx)
			return err == nil && c == queue.Counts{}
		},
		stop: func() {
			if err := w.Close(); err != nil {
				b.Error(err)
			}
			_ = q.Purge(context.Background())
		},
	}
}

// setupQueueAsynq: a server with Concurrency 10 and default polling (an idle
// queue is checked once a second), sharing the go-redis client.
func setupQueueAsynq(b *testing.B, rdb *redis.Client, name string, handled func()) queueSystem {
	qname := "bench" + name
	cl := asynq.NewClientFromRedisClient(rdb)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: queueHandlers,
		Queues:      map[string]int{qname: 1},
		LogLevel:    asynq.FatalLevel,
	})
	mux := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		handled()
		return nil
	})
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	return queueSystem{
		enqueue: func(ctx context.Context, p []byte) error {
			_, err := cl.EnqueueContext(ctx, asynq.NewTask("bench", p), asynq.Queue(qname))
			return err
		},
		drained: func(ctx context.Context) bool {
			qi, err := insp.GetQueueInfo(qname)
			return err == nil && qi.Pending == 0 && qi.Active == 0
		},
		stop: func() {
			srv.Shutdown()
			_ = insp.DeleteQueue(qname, true)
		},
	}
}

// setupQueueRmq: one queue, prefetch 20, polled every 10ms, 10 consumers that
// ack synchronously.
func setupQueueRmq(b *testing.B, rdb *redis.Client, name string, handled func()) queueSystem {
	errs := make(chan error, 100)
	go func() {
		for range errs {
		}
	}()
	conn, err := rmq.OpenConnectionWithRedisClient("bench", rdb, errs)
	if err != nil {
		b.Fatal(err)
	}
	rq, err := conn.OpenQueue("bench" + name)
	if err != nil {
		b.Fatal(err)
	}
	if err := rq.StartConsuming(2*queueHandlers, 10*time.Millisecond); err != nil {
		b.Fatal(err)
	}
	for i := range queueHandlers {
		if _, err := rq.AddConsumerFunc(fmt.Sprint("c", i), func(d rmq.Delivery) {
			if err := d.Ack(); err != nil {
				b.Error(err)
			}
			handled()
		}); err != nil {
			b.Fatal(err)
		}
	}
	return queueSystem{
		enqueue: func(ctx context.Context, p []byte) error { return rq.PublishBytes(p) },
		stop: func() {
			<-conn.StopAllConsuming()
			_, _, _ = rq.Destroy()
		},
	}
}

// setupQueueWatermill: one stream, one consumer group, 10 subscribers (a
// watermill subscription hands out one message at a time), each acking.
func setupQueueWatermill(b *testing.B, rdb *redis.Client, name string, handled func()) queueSystem {
	topic := "bench" + name
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: rdb}, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var subs []*redisstream.Subscriber
	var wg sync.WaitGroup
	for i := range queueHandlers {
		sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client:                        rdb,
			ConsumerGroup:                 "bench",
			Consumer:                      fmt.Sprint("c", i),
			DisableIndefiniteInitialBlock: true,
		}, watermill.NopLogger{})
		if err != nil {
			b.Fatal(err)
		}
		ch, err := sub.Subscribe(ctx, topic)
		if err != nil {
			b.Fatal(err)
		}
		subs = append(subs, sub)
		wg.Go(func() {
			for m := range ch {
				handled()
				m.Ack()
			}
		})
	}
	return queueSystem{
		enqueue: func(ctx context.Context, p []byte) error {
			return pub.Publish(topic, message.NewMessage(watermill.NewUUID(), p))
		},
		stop: func() {
			cancel()
			for _, s := range subs {
				_ = s.Close()
			}
			_ = pub.Close()
			wg.Wait()
			_ = rdb.Del(context.Background(), topic).Err()
		},
	}
}

func BenchmarkQueueThroughput_Aside(b *testing.B)     { benchQueueThroughput(b, setupQueueAside) }
func BenchmarkQueueThroughput_Asynq(b *testing.B)     { benchQueueThroughput(b, setupQueueAsynq) }
func BenchmarkQueueThroughput_Rmq(b *testing.B)       { benchQueueThroughput(b, setupQueueRmq) }
func BenchmarkQueueThroughput_Watermill(b *testing.B) { benchQueueThroughput(b, setupQueueWatermill) }

func BenchmarkQueueLatency_Aside(b *testing.B)     { benchQueueLatency(b, setupQueueAside) }
func BenchmarkQueueLatency_Asynq(b *testing.B)     { benchQueueLatency(b, setupQueueAsynq) }
func BenchmarkQueueLatency_Rmq(b *testing.B)       { benchQueueLatency(b, setupQueueRmq) }
func BenchmarkQueueLatency_Watermill(b *testing.B) { benchQueueLatency(b, setupQueueWatermill) }
