package pubsub_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
)

// The examples run against the Redis at $REDIS_ADDR; under go test that is
// a private server the test harness starts.

type priceChanged struct {
	SKU   string
	Cents int
}

func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close() // the PubSub never closes it

	ps, err := pubsub.New(rdb, &pubsub.Options{
		Concurrency: 4,
		Overflow:    pubsub.DropOldest,
		OnGap: func(g pubsub.Gap) {
			// Messages on g.Topics may have been missed: flush what was
			// derived from them (an L1 cache, a materialised view).
			log.Printf("pubsub gap on %v for %v (%v)", g.Topics, g.Until.Sub(g.Since), g.Reason)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ps.Close() // stops subscriptions, waits for running handlers
	fmt.Println(ps.Stats().Subscriptions)
	// Output: 0
}

func ExamplePubSub_Subscribe() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	ps, err := pubsub.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ps.Close()
	ctx := context.Background()

	done := make(chan struct{})
	sub, err := ps.Subscribe(ctx, []string{"prices"}, pubsub.Typed(
		func(ctx context.Context, msg *pubsub.Message, p priceChanged) error {
			fmt.Printf("%s now costs %d cents\n", p.SKU, p.Cents)
			close(done)
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	// Subscribe has returned: Redis confirmed the subscription, so this
	// message reaches the handler.
	if err := ps.Publish(ctx, "prices", priceChanged{SKU: "A-1", Cents: 1299}); err != nil {
		log.Fatal(err)
	}
	<-done
	// Output: A-1 now costs 1299 cents
}

func ExamplePubSub_PSubscribe() {
	// On a Cluster: redis.NewClusterClient(&redis.ClusterOptions{Addrs: ...})
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	// Patterns need classic Pub/Sub: on a Cluster, SPUBLISHed messages
	// never match them.
	ps, err := pubsub.New(rdb, &pubsub.Options{Mode: pubsub.ModeClassic})
	if err != nil {
		log.Fatal(err)
	}
	defer ps.Close()
	ctx := context.Background()
	done := make(chan struct{})
	_, err = ps.PSubscribe(ctx, []string{"orders.*"}, pubsub.HandlerFunc(
		func(ctx context.Context, msg *pubsub.Message) error {
			fmt.Println(msg.Pattern, "matched", msg.Topic)
			close(done)
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	if err := ps.Publish(ctx, "orders.created", map[string]int{"id": 7}); err != nil {
		log.Fatal(err)
	}
	<-done
	// Output: orders.* matched orders.created
}

func ExamplePubSub_Subscribe_slowConsumer() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	ps, err := pubsub.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ps.Close()
	// A handler that may fall behind: keep the newest 100 messages, drop the
	// oldest, and learn of the drops through Options.OnGap and Stats.
	sub, err := ps.Subscribe(context.Background(), []string{"ticks"}, pubsub.HandlerFunc(
		func(ctx context.Context, msg *pubsub.Message) error {
			time.Sleep(10 * time.Millisecond)
			return nil
		}), pubsub.WithBuffer(100), pubsub.WithOverflow(pubsub.DropOldest), pubsub.WithConcurrency(2))
	if err != nil {
		log.Fatal(err)
	}
	st := sub.Stats()
	fmt.Println(st.Received, st.Handled, st.Dropped)
	// Output: 0 0 0
}

func ExampleMessage_Decode() {
	msg := &pubsub.Message{Topic: "prices", Payload: []byte(`{"SKU":"A-1","Cents":1299}`)}
	var p priceChanged
	if err := msg.Decode(&p); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.SKU, p.Cents)
	// Output: A-1 1299
}

func ExampleGapReason_String() {
	fmt.Println(pubsub.GapReconnect, pubsub.GapUnsubscribed, pubsub.GapOverflow)
	// Output: reconnect unsubscribed overflow
}
