package pubsub_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
)

// Benchmarks run on a private redis-server over loopback TCP:
//
//	go test -run x -bench . -benchtime 2000x ./pubsub/

func benchServer(b *testing.B) (pubRDB, subRDB redis.UniversalClient, topic string) {
	b.Helper()
	s := redistest.StartServer(b, redistest.Config{})
	return s.Client(b), s.Client(b), redistest.Prefix(b) + ":bench"
}

// reportLatency reports p50 and p99 of lat in microseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkPubSubLatency_Aside publishes one message at a time and waits
// until the handler has it: publish-to-handler latency.
func BenchmarkPubSubLatency_Aside(b *testing.B) {
	pubRDB, subRDB, topic := benchServer(b)
	p := newPubSub(b, pubRDB, nil)
	s := newPubSub(b, subRDB, nil)
	got := make(chan struct{}, 1)
	if _, err := s.Subscribe(context.Background(), []string{topic}, pubsub.HandlerFunc(func(context.Context, *pubsub.Message) error {
		got <- struct{}{}
		return nil
	})); err != nil {
		b.Fatal(err)
	}
	payload := []byte("0123456789abcdef0123456789abcdef")
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := p.PublishRaw(context.Background(), topic, payload); err != nil {
			b.Fatal(err)
		}
		<-got
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkPubSubLatency_GoRedis is the floor: go-redis's own PubSub
// channel, no handler goroutines, no gap detection.
func BenchmarkPubSubLatency_GoRedis(b *testing.B) {
	pubRDB, subRDB, topic := benchServer(b)
	ps := subRDB.Subscribe(context.Background(), topic)
	defer ps.Close()
	if _, err := ps.Receive(context.Background()); err != nil { // the confirmation
		b.Fatal(err)
	}
	ch := ps.Channel()
	payload := []byte("0123456789abcdef0123456789abcdef")
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := pubRDB.Publish(context.Background(), topic, payload).Err(); err != nil {
			b.Fatal(err)
		}
		<-ch
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkPubSubThroughput_Aside publishes b.N messages from 8
// goroutines and waits until handlers (concurrency 4, Block policy, so none
// is dropped) have them all: messages per second end to end.
func BenchmarkPubSubThroughput_Aside(b *testing.B) {
	pubRDB, subRDB, topic := benchServer(b)
	p := newPubSub(b, pubRDB, nil)
	s := newPubSub(b, subRDB, &pubsub.Options{Concurrency: 4})
	var wg sync.WaitGroup
	wg.Add(b.N)
	sub, err := s.Subscribe(context.Background(), []string{topic}, pubsub.HandlerFunc(func(context.Context, *pubsub.Message) error {
		wg.Done()
		return nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte("0123456789abcdef0123456789abcdef")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	publishN(b, b.N, func() error { return p.PublishRaw(context.Background(), topic, payload) })
	waitAll(b, &wg)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msg/s")
	if st := sub.Stats(); st.Dropped != 0 {
		b.Errorf("dropped %d", st.Dropped)
	}
}

// BenchmarkPubSubThroughput_GoRedis is the same through go-redis's
// PubSub channel read by 4 goroutines.
func BenchmarkPubSubThroughput_GoRedis(b *testing.B) {
	pubRDB, subRDB, topic := benchServer(b)
	ps := subRDB.Subscribe(context.Background(), topic)
	defer ps.Close()
	if _, err := ps.Receive(context.Background()); err != nil {
		b.Fatal(err)
	}
	ch := ps.Channel(redis.WithChannelSize(1024))
	var wg sync.WaitGroup
	wg.Add(b.N)
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for range ch {
				wg.Done()
			}
		}()
	}
	payload := []byte("0123456789abcdef0123456789abcdef")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	publishN(b, b.N, func() error { return pubRDB.Publish(context.Background(), topic, payload).Err() })
	waitAll(b, &wg)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msg/s")
	_ = ps.Close()
	readers.Wait()
}

// publishN calls publish n times from 8 goroutines.
func publishN(b *testing.B, n int, publish func() error) {
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := publish(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// waitAll waits for wg, failing b after a minute (a lost message).
func waitAll(b *testing.B, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatal("not every message was handled")
	}
}
