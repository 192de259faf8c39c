package bench

// Queue benchmarks: a scorecard of aside/queue against asynq, rmq and
// watermill-redisstream, each on the same private redis-server over
// loopback TCP, with 64-byte payloads, next to a floor of plain go-redis in
// the same run.
//
// Names are benchstat keys: BenchmarkQueueThroughput/p=P/h=H/sys=S and
// BenchmarkQueueLatency/sys=S, so `benchstat -col /sys` puts the systems
// side by side for each p and h.
//
// BenchmarkQueueThroughput/p=P/h=H/sys=S: b.N messages enqueued by P
// producer goroutines (P in {1, 10}) while a consumer with H concurrent
// handlers (H in {1, 10, 50}) runs. The clock stops when every message was
// handled AND the library finished its bookkeeping: aside's Counts are all
// zero (its worker acks in batches, after the handlers return); asynq's
// inspector shows no pending or active task; watermill's consumer group
// has no pending entry (XPENDING: it acks after the handler, from another
// goroutine); rmq acks inside the handler, before the message counts as
// handled. Reported as msgs/s, redis-us/msg and client-us/msg (CPU time of
// the Redis server's main thread and of this process, per message), and
// rtt/msg: the round trips the library's
// go-redis client made during the timed part (an redistest.RoundTrips hook: one per
// command, one per pipeline or transaction, background loops included),
// per message. The harness's own checks run on a second client that is
// not counted.
//
// Systems, each configured as its docs advise for throughput:
//   - aside: queue.New defaults, Consume with Concurrency H; each producer
//     calls Enqueue once per message (concurrent calls are merged into one
//     script call by the queue itself, so rtt/msg may fall below 1).
//   - aside-many: the same worker; each producer calls EnqueueMany with
//     batches of 100 messages. The only systems whose producers batch.
//   - aside-many-nopf: aside-many whose worker has Prefetch -1: it holds
//     no message beyond its running handlers (the default prefetch adapts:
//     as many as the handlers finish within one fetch round trip, at most
//     100). It shows what the prefetch buys.
//   - asynq: v0.26.0 server, Concurrency H, default TaskCheckInterval (1s:
//     an idle processor sleeps 0.5-1.5s before it looks again, so the first
//     messages of a run wait that long and small b.N measure mostly that).
//   - asynq-10ms: the same with Config.TaskCheckInterval = 10ms, the knob
//     asynq has for an idle queue (its docs warn that a low value adds load
//     to Redis).
//   - watermill: watermill-redisstream v1.4.5, one consumer group of H
//     subscribers (a subscription hands out one message at a time, so one
//     subscriber per handler), DisableIndefiniteInitialBlock so that an idle
//     read ends after BlockTime; the publisher sends one XADD per message.
//   - rmq: v5.2.0, H consumers, poll duration 10ms, prefetch limit 1000.
//     rmq's fetch loop sleeps the poll duration after every fetch round,
//     full or not, so the prefetch limit caps it at prefetch/poll msgs/s
//     (its README only asks for a limit above the consumer count; 2*H at a
//     10ms poll would cap it at 200*H msgs/s, below what its fetch loop
//     does). Its batch consumer is not used: every system here runs one
//     handler call per message.
//   - bare-streams: not a library but a ceiling: the least work a Redis
//     queue that acknowledges can do per message, written directly on
//     go-redis. Producers send XADD (EnqueueMany-style rows: pipelines of
//     100 XADDs); one reader takes up to 100 entries per XREADGROUP (BLOCK
//     100ms) and hands them to H handler goroutines; one acker sends
//     XACK+XDEL for up to 1000 finished entries per pipeline. No
//     visibility timeout, redelivery, delays, deduplication, dead letters,
//     stale-ack protection or metrics. Every queue here does more per
//     message than this row, so its msgs/s is what the floor ratio of a
//     full queue can at best reach on this machine.
//
// Every system gets its own go-redis client with PoolSize H+P+20, above
// its blocking readers plus producers: watermill keeps one connection per
// subscriber in XREADGROUP, and on the default pool (10 per GOMAXPROCS) 50
// subscribers leave its acks waiting for connections, which measures the
// pool, not watermill. The round-trip count includes the handshake of
// connections dialed during the timed part (it vanishes at a large b.N).
//
// BenchmarkQueueFloor_PipelinedGET: plain go-redis GETs of a 1 KiB value,
// pipelines of 100 from 10 goroutines; ops/s is what this Redis and this
// machine allow a client at best, for stating a queue's drain as a share
// of it.
//
// BenchmarkQueueLatency/sys=S: b.N times, one message enqueued on an idle
// queue (10 handlers); the time from just before the enqueue call to the
// handler's start. Reported as p50-ms / p99-ms (ns/op is the mean round).
// asynq's latency is its TaskCheckInterval; rmq's is its poll duration;
// aside and watermill block in Redis and wake on the message.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/adjust/rmq/v5"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

var (
	queueProducers = []int{1, 10}
	queueHandlers  = []int{1, 10, 50}
)

const (
	queueLatencyHandlers = 10
	queueBatch           = 100                   // aside-many's EnqueueMany batch
	queuePoll            = 10 * time.Millisecond // asynq-10ms's check interval, rmq's poll duration
	queueRmqPrefetch     = 1000
	queuePoolSpare       = 20 // connections above handlers + producers
)

var queuePayload = make([]byte, 64)

// queueEnv is what a setup gets.
type queueEnv struct {
	rdb      *redis.Client // the library's client; its round trips are counted
	ctl      *redis.Client // the harness's client (drained checks, cleanup); not counted
	name     string        // unique to the benchmark
	handlers int
	handled  func() // the handler calls it when it finished a message
}

// queueSystem is one library set up for a benchmark.
type queueSystem struct {
	// enqueue adds one message.
	enqueue func(ctx context.Context, payload []byte) error
	// enqueueMany, if not nil, is what producers use instead of enqueue,
	// with batches of up to queueBatch messages.
	enqueueMany func(ctx context.Context, payloads [][]byte) error
	// drained, if not nil, reports whether the library finished its
	// bookkeeping (acks applied) after the last handler returned.
	drained func(ctx context.Context) bool
	// stop shuts the consumer down and deletes the queue.
	stop func()
}

type queueSetup func(b *testing.B, env queueEnv) queueSystem

type queueImpl struct {
	name  string
	setup queueSetup
}

var queueSystems = []queueImpl{
	{"aside", setupQueueAside},
	{"aside-many", setupQueueAsideMany(0)},
	{"aside-many-nopf", setupQueueAsideMany(-1)},
	{"asynq", setupQueueAsynq(0)},
	{"asynq-10ms", setupQueueAsynq(queuePoll)},
	{"watermill", setupQueueWatermill},
	{"rmq", setupQueueRmq},
	{"bare-streams", setupQueueBareStreams},
}

func BenchmarkQueueThroughput(b *testing.B) {
	for _, p := range queueProducers {
		for _, h := range queueHandlers {
			for _, s := range queueSystems {
				b.Run(fmt.Sprintf("p=%d/h=%d/sys=%s", p, h, s.name), func(b *testing.B) {
					benchQueueThroughput(b, p, h, s.setup)
				})
			}
		}
	}
}

func BenchmarkQueueLatency(b *testing.B) {
	for _, s := range queueSystems {
		if strings.HasPrefix(s.name, "aside-many") { // one message at a time: no batch
			continue
		}
		b.Run("sys="+s.name, func(b *testing.B) { benchQueueLatency(b, s.setup) })
	}
}

// BenchmarkQueueFloor_PipelinedGET is 10 goroutines sending pipelines of
// 100 GETs of a 1 KiB value; an op is one GET.
func BenchmarkQueueFloor_PipelinedGET(b *testing.B) {
	const goroutines, depth = 10, 100
	rdb := poolClient(b, goroutines+queuePoolSpare)
	rtt := &redistest.RoundTrips{}
	rdb.AddHook(rtt)
	ctx := context.Background()
	key := prefix(b) + ":k"
	if err := rdb.Set(ctx, key, value1K, 0).Err(); err != nil {
		b.Fatal(err)
	}
	n := int64(b.N)
	var next atomic.Int64
	b.ResetTimer()
	r0 := rtt.Load()
	redis0, _ := redistest.CPU(b, client(b))
	start := time.Now()
	var g errgroup.Group
	for range goroutines {
		g.Go(func() error {
			for {
				end := next.Add(depth)
				if end-depth >= n {
					return nil
				}
				k := min(end, n) - (end - depth)
				cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for range k {
						p.Get(ctx, key)
					}
					return nil
				})
				if err != nil {
					return err
				}
				for _, c := range cmds {
					if v := c.(*redis.StringCmd).Val(); len(v) != len(value1K) {
						return fmt.Errorf("GET: %d bytes", len(v))
					}
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	rt := rtt.Load() - r0
	b.StopTimer()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(rt)/float64(n), "rtt/op")
	redis1, _ := redistest.CPU(b, client(b))
	b.ReportMetric(float64((redis1-redis0).Nanoseconds())/1e3/float64(n), "redis-us/op")
}

// queueClients returns the library's client, with a pool for handlers +
// producers and a round-trip counter, and the harness's uncounted client.
func queueClients(b *testing.B, handlers, producers int) (rdb, ctl *redis.Client, rtt *redistest.RoundTrips) {
	rdb = poolClient(b, handlers+producers+queuePoolSpare)
	rtt = &redistest.RoundTrips{}
	rdb.AddHook(rtt)
	return rdb, client(b), rtt
}

// benchQueueThroughput measures msgs/s and rtt/msg end to end.
func benchQueueThroughput(b *testing.B, producers, handlers int, setup queueSetup) {
	rdb, ctl, rtt := queueClients(b, handlers, producers)
	ctx := context.Background()
	var count atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	sys := setup(b, queueEnv{rdb: rdb, ctl: ctl, name: prefix(b), handlers: handlers, handled: func() {
		if count.Add(1) == n {
			close(done)
		}
	}})
	defer sys.stop()
	var next atomic.Int64
	b.ResetTimer()
	r0 := rtt.Load()
	redis0, client0 := redistest.CPU(b, ctl)
	start := time.Now()
	var g errgroup.Group
	for range producers {
		g.Go(func() error { return queueProduce(ctx, sys, n, &next) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute + time.Duration(n)*time.Millisecond):
		b.Fatalf("handled %d of %d", count.Load(), n)
	}
	if sys.drained != nil {
		deadline := time.Now().Add(time.Minute)
		for !sys.drained(ctx) {
			if time.Now().After(deadline) {
				b.Fatal("bookkeeping not drained within a minute of the last handler")
			}
			time.Sleep(time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	rt := rtt.Load() - r0
	b.StopTimer()
	redis1, client1 := redistest.CPU(b, ctl)
	redisCPU, clientCPU := redis1-redis0, client1-client0
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(rt)/float64(n), "rtt/msg")
	b.ReportMetric(float64(redisCPU.Nanoseconds())/1e3/float64(n), "redis-us/msg")
	b.ReportMetric(float64(clientCPU.Nanoseconds())/1e3/float64(n), "client-us/msg")
}

// queueProduce enqueues messages until next passes n: one by one, or in
// batches of queueBatch when the system has enqueueMany.
func queueProduce(ctx context.Context, sys queueSystem, n int64, next *atomic.Int64) error {
	if sys.enqueueMany == nil {
		for next.Add(1) <= n {
			if err := sys.enqueue(ctx, queuePayload); err != nil {
				return err
			}
		}
		return nil
	}
	batch := slices.Repeat([][]byte{queuePayload}, queueBatch)
	for {
		end := next.Add(queueBatch)
		first := end - queueBatch
		if first >= n {
			return nil
		}
		if err := sys.enqueueMany(ctx, batch[:min(end, n)-first]); err != nil {
			return err
		}
	}
}

// benchQueueLatency measures enqueue-to-handler latency on an idle queue.
func benchQueueLatency(b *testing.B, setup queueSetup) {
	rdb, ctl, _ := queueClients(b, queueLatencyHandlers, 1)
	ctx := context.Background()
	got := make(chan time.Time, 1)
	sys := setup(b, queueEnv{rdb: rdb, ctl: ctl, name: prefix(b), handlers: queueLatencyHandlers, handled: func() {
		select {
		case got <- time.Now():
		default:
		}
	}})
	defer sys.stop()
	// Let the consumer go idle (asynq and rmq poll; aside and watermill block).
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

// setupQueueAside: one worker with env.handlers handlers, default options.
// Acks are batched by the worker; drained waits until Redis applied them
// all, read through a second Queue value on the uncounted client.
func setupQueueAside(b *testing.B, env queueEnv) queueSystem {
	sys, _ := asideSystem(b, env, 0)
	return sys
}

// setupQueueAsideMany: setupQueueAside whose producers call EnqueueMany,
// with WorkerOptions.Prefetch prefetch (0: automatic).
func setupQueueAsideMany(prefetch int) queueSetup {
	return func(b *testing.B, env queueEnv) queueSystem {
		sys, q := asideSystem(b, env, prefetch)
		sys.enqueueMany = func(ctx context.Context, ps [][]byte) error {
			items := make([]queue.Item, len(ps))
			for i, p := range ps {
				items[i].Payload = p
			}
			_, err := q.EnqueueMany(ctx, items)
			return err
		}
		return sys
	}
}

func asideSystem(b *testing.B, env queueEnv, prefetch int) (queueSystem, *queue.Queue) {
	opt := &queue.Options{Prefix: env.name}
	q, err := queue.New(env.rdb, "bench", opt)
	if err != nil {
		b.Fatal(err)
	}
	probe, err := queue.New(env.ctl, "bench", opt)
	if err != nil {
		b.Fatal(err)
	}
	w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
		env.handled()
		return nil
	}), &queue.WorkerOptions{Concurrency: env.handlers, Prefetch: prefetch})
	if err != nil {
		b.Fatal(err)
	}
	return queueSystem{
		enqueue: func(ctx context.Context, p []byte) error { _, err := q.Enqueue(ctx, p); return err },
		drained: func(ctx context.Context) bool {
			c, err := probe.Counts(ctx)
			return err == nil && c == queue.Counts{}
		},
		stop: func() {
			if err := w.Close(); err != nil {
				b.Error(err)
			}
			_ = probe.Purge(context.Background())
		},
	}, q
}

// setupQueueAsynq returns a setup of an asynq server with Concurrency
// env.handlers and the given TaskCheckInterval (0: asynq's default, 1s),
// sharing the go-redis client with the asynq client.
func setupQueueAsynq(checkInterval time.Duration) queueSetup {
	return func(b *testing.B, env queueEnv) queueSystem {
		qname := "bench" + env.name
		cl := asynq.NewClientFromRedisClient(env.rdb)
		srv := asynq.NewServerFromRedisClient(env.rdb, asynq.Config{
			Concurrency:       env.handlers,
			Queues:            map[string]int{qname: 1},
			TaskCheckInterval: checkInterval,
			LogLevel:          asynq.FatalLevel,
		})
		mux := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			env.handled()
			return nil
		})
		if err := srv.Start(mux); err != nil {
			b.Fatal(err)
		}
		insp := asynq.NewInspectorFromRedisClient(env.ctl)
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
}

// setupQueueRmq: one queue, prefetch limit queueRmqPrefetch, polled every
// queuePoll, env.handlers consumers that ack before the message counts as
// handled.
func setupQueueRmq(b *testing.B, env queueEnv) queueSystem {
	errs := make(chan error, 100)
	go func() {
		for range errs {
		}
	}()
	conn, err := rmq.OpenConnectionWithRedisClient("bench", env.rdb, errs)
	if err != nil {
		b.Fatal(err)
	}
	rq, err := conn.OpenQueue("bench" + env.name)
	if err != nil {
		b.Fatal(err)
	}
	if err := rq.StartConsuming(queueRmqPrefetch, queuePoll); err != nil {
		b.Fatal(err)
	}
	for i := range env.handlers {
		if _, err := rq.AddConsumerFunc(fmt.Sprint("c", i), func(d rmq.Delivery) {
			if err := d.Ack(); err != nil {
				b.Error(err)
			}
			env.handled()
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

// setupQueueWatermill: one stream, one consumer group, env.handlers
// subscribers, each acking after its handler. watermill acks from the
// subscription's goroutine after Ack, so drained waits for the group to
// have no pending entry.
func setupQueueWatermill(b *testing.B, env queueEnv) queueSystem {
	const group = "bench"
	topic := "bench" + env.name
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: env.rdb}, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var subs []*redisstream.Subscriber
	var wg sync.WaitGroup
	for i := range env.handlers {
		sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client:                        env.rdb,
			ConsumerGroup:                 group,
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
				env.handled()
				m.Ack()
			}
		})
	}
	return queueSystem{
		enqueue: func(ctx context.Context, p []byte) error {
			return pub.Publish(topic, message.NewMessage(watermill.NewUUID(), p))
		},
		drained: func(ctx context.Context) bool {
			xp, err := env.ctl.XPending(ctx, topic, group).Result()
			return err == nil && xp.Count == 0
		},
		stop: func() {
			cancel()
			// Subscriber.Close and Publisher.Close close the client they
			// were given (env.rdb): cleanup goes through env.ctl.
			for _, s := range subs {
				_ = s.Close()
			}
			_ = pub.Close()
			wg.Wait()
			_ = env.ctl.Del(context.Background(), topic).Err()
		},
	}
}

// setupQueueBareStreams is the bare-streams ceiling (see the file comment).
func setupQueueBareStreams(b *testing.B, env queueEnv) queueSystem {
	const group = "g"
	stream := env.name + ":bare"
	rdb := env.rdb
	bg := context.Background()
	if err := rdb.XGroupCreateMkStream(bg, stream, group, "$").Err(); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	jobs := make(chan string, env.handlers)
	acks := make(chan string, 1000)
	var readers, handlers sync.WaitGroup
	readers.Go(func() {
		defer close(jobs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := rdb.XReadGroup(bg, &redis.XReadGroupArgs{Group: group, Consumer: "c",
				Streams: []string{stream, ">"}, Count: 100, Block: 100 * time.Millisecond}).Result()
			if err != nil {
				continue // redis.Nil: the block timed out
			}
			for _, m := range res[0].Messages {
				jobs <- m.ID
			}
		}
	})
	for range env.handlers {
		handlers.Go(func() {
			for id := range jobs {
				env.handled()
				acks <- id
			}
		})
	}
	readers.Go(func() {
		batch := make([]string, 0, 1000)
		for id := range acks {
			batch = append(batch[:0], id)
		more:
			for len(batch) < cap(batch) {
				select {
				case id, ok := <-acks:
					if !ok {
						break more
					}
					batch = append(batch, id)
				default:
					break more
				}
			}
			p := rdb.Pipeline()
			p.XAck(bg, stream, group, batch...)
			p.XDel(bg, stream, batch...)
			if _, err := p.Exec(bg); err != nil {
				b.Error(err)
			}
		}
	})
	xadd := func(p redis.Cmdable, ctx context.Context, payload []byte) *redis.StringCmd {
		return p.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"p", payload}})
	}
	return queueSystem{
		enqueue: func(ctx context.Context, p []byte) error { return xadd(rdb, ctx, p).Err() },
		enqueueMany: func(ctx context.Context, ps [][]byte) error {
			_, err := rdb.Pipelined(ctx, func(pp redis.Pipeliner) error {
				for _, p := range ps {
					xadd(pp, ctx, p)
				}
				return nil
			})
			return err
		},
		drained: func(ctx context.Context) bool {
			n, err := env.ctl.XLen(ctx, stream).Result()
			return err == nil && n == 0
		},
		stop: func() {
			close(stop)
			handlers.Wait()
			close(acks)
			readers.Wait()
			_ = env.ctl.Del(bg, stream).Err()
		},
	}
}
