package queue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
)

// BenchmarkWorker_Drain: one producer adds b.N 64-byte messages with
// EnqueueMany (100 per call) while one worker with h handlers drains them
// (prefetch=-1: none; 0: automatic); the clock stops when every message was
// handled and acked. Reports msgs/s, the round trips per message of
// producer and worker together, and where the time goes: CPU of the Redis
// server's main thread (INFO cpu) and of this process (getrusage: the
// client side, producer and worker) per message.
func BenchmarkWorker_Drain(b *testing.B) {
	for _, c := range []struct{ h, pf int }{{1, -1}, {1, 0}, {10, -1}, {10, 0}, {50, -1}, {50, 0}} {
		b.Run(fmt.Sprintf("h=%d/prefetch=%d", c.h, c.pf), func(b *testing.B) {
			h := c.h
			rdb := redistest.Standalone.Client(b)
			var rt redistest.RoundTrips
			rdb.AddHook(&rt)
			q := newQueue(b, rdb, nil)
			ctx := context.Background()
			var handled atomic.Int64
			done := make(chan struct{})
			n := int64(b.N)
			w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
				if handled.Add(1) == n {
					close(done)
				}
				return nil
			}), &queue.WorkerOptions{Concurrency: h, Prefetch: c.pf})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			time.Sleep(20 * time.Millisecond)
			payload := make([]byte, 64)
			b.ResetTimer()
			rt0 := rt.Load()
			redis0, client0 := redistest.CPU(b, rdb)
			start := time.Now()
			for sent := 0; sent < b.N; {
				items := make([]queue.Item, min(100, b.N-sent))
				for i := range items {
					items[i].Payload = payload
				}
				if _, err := q.EnqueueMany(ctx, items); err != nil {
					b.Fatal(err)
				}
				sent += len(items)
			}
			<-done
			for {
				c, err := q.Counts(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if c == (queue.Counts{}) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			redis1, client1 := redistest.CPU(b, rdb)
			perMsg := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
			b.ReportMetric(perMsg(redis1-redis0), "redis-us/msg")
			b.ReportMetric(perMsg(client1-client0), "client-us/msg")
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
			b.ReportMetric(float64(rt.Load()-rt0)/float64(b.N), "rtt/msg")
		})
	}
}
