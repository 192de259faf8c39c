package pubsub_test

import (
	"context"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// TestPubSub_Close_leavesNoGoroutine runs a PubSub through subscribe,
// publish, a busy handler, a reconnect and Close, on every topology, and
// checks with goleak that no goroutine is left. It is not parallel, so no
// other test's goroutines are running (parallel tests wait for serial
// ones).
func TestPubSub_Close_leavesNoGoroutine(t *testing.T) {
	for _, tp := range redistest.Topologies() {
		t.Run(tp.Name, func(t *testing.T) {
			_ = tp.NewClient(t).Close() // start the shared servers first
			opts := []goleak.Option{goleak.IgnoreCurrent()}

			rdb := tp.NewClient(t)
			p, err := pubsub.New(rdb, &pubsub.Options{Concurrency: 3, HealthCheck: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			topic := redistest.Prefix(t) + ":leak"
			c := newCollector()
			gate := make(chan struct{})
			busy := pubsub.HandlerFunc(func(ctx context.Context, m *pubsub.Message) error {
				select {
				case <-gate:
				case <-ctx.Done():
				}
				return c.HandleMessage(ctx, m)
			})
			if _, err := p.Subscribe(t.Context(), []string{topic}, busy); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Subscribe(t.Context(), []string{topic + ":2"}, c, pubsub.WithOverflow(pubsub.DropOldest)); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if err := p.Publish(t.Context(), topic, i); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Publish(t.Context(), topic+":2", 1); err != nil {
				t.Fatal(err)
			}
			c.next(t)
			if !tp.IsCluster() {
				// A reconnect in the middle: its goroutines must end too.
				gaps := make(chan pubsub.Gap, 1)
				p2, err := pubsub.New(rdb, &pubsub.Options{HealthCheck: 100 * time.Millisecond, OnGap: func(g pubsub.Gap) { gaps <- g }})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p2.Subscribe(t.Context(), []string{topic + ":3"}, c); err != nil {
					t.Fatal(err)
				}
				killSubscribers(t, rdb.(*redis.Client))
				select {
				case <-gaps:
				case <-time.After(waitTimeout):
					t.Fatal("no gap")
				}
				_ = p2.Close()
			}
			_ = p.Close() // with handlers still blocked on the gate
			close(gate)
			if err := rdb.Ping(context.Background()).Err(); err != nil {
				t.Errorf("client unusable after Close: %v", err)
			}
			_ = rdb.Close()
			goleak.VerifyNone(t, opts...)
		})
	}
}
