package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
)

func init() {
	register(scenario{order: 30, name: "pubsub", title: "publish/subscribe that tells you what it may have missed", run: demoPubSub})
}

type demoPrice struct {
	SKU   string
	Cents int
}

func demoPubSub(ctx context.Context, env *demoEnv) error {
	topic := env.prefix + ":prices"
	ps, err := pubsub.New(env.rdb, &pubsub.Options{Concurrency: 2})
	if err != nil {
		return err
	}
	defer ps.Close()
	got := make(chan demoPrice, 16)
	handler := pubsub.Typed(func(_ context.Context, _ *pubsub.Message, p demoPrice) error {
		got <- p
		return nil
	})
	sub, err := ps.Subscribe(ctx, []string{topic}, handler)
	if err != nil {
		return err
	}
	start := time.Now()
	prices := []demoPrice{{"A-1", 1299}, {"B-2", 450}, {"C-3", 9900}}
	for _, p := range prices {
		if err := ps.Publish(ctx, topic, p); err != nil {
			return err
		}
	}
	for range prices {
		if _, err := receive(ctx, got); err != nil {
			return err
		}
	}
	mode := "classic PUBLISH/SUBSCRIBE"
	if ps.Sharded() {
		mode = "sharded SPUBLISH/SSUBSCRIBE"
	}
	env.say("Subscribed to %q and published %d price changes as JSON (%s);", topic, len(prices), mode)
	env.say("the handler (2 goroutines, buffer of 1024) had all %d after %v.", sub.Stats().Handled, time.Since(start).Round(time.Microsecond))
	_ = sub.Close()

	return demoPubSubGap(ctx, env, topic+":gap")
}

// demoPubSubGap kills the subscriber's connection and shows the gap report.
func demoPubSubGap(ctx context.Context, env *demoEnv, topic string) error {
	c, ok := env.rdb.(*redis.Client)
	if env.embedded || !ok {
		env.say("Redis Pub/Sub keeps nothing: a message published while a subscriber is reconnecting is lost.")
		env.say("aside reconnects on its own and reports each such gap (Options.OnGap and the aside.pubsub.gaps counter);")
		env.say("the embedded Redis cannot kill a client connection, so this demo does not show one (run it against a real Redis).")
		return nil
	}
	// A client of its own with a name, so the demo kills its own connection
	// and nobody else's on a shared Redis.
	opt := *c.Options()
	opt.ClientName = env.prefix + ":subscriber"
	rdb := redis.NewClient(&opt)
	defer rdb.Close()

	gaps := make(chan pubsub.Gap, 4)
	ps, err := pubsub.New(rdb, &pubsub.Options{OnGap: func(g pubsub.Gap) { gaps <- g }})
	if err != nil {
		return err
	}
	defer ps.Close()
	got := make(chan demoPrice, 4)
	if _, err := ps.Subscribe(ctx, []string{topic}, pubsub.Typed(func(_ context.Context, _ *pubsub.Message, p demoPrice) error {
		got <- p
		return nil
	})); err != nil {
		return err
	}
	id, err := clientID(ctx, env.rdb, opt.ClientName)
	if err != nil {
		env.say("Could not find the subscriber's connection to kill it (%v); skipping the reconnect part.", err)
		return nil
	}
	killed := time.Now()
	if err := env.rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
		env.say("CLIENT KILL is not allowed here (%v); skipping the reconnect part.", err)
		return nil
	}
	var gap pubsub.Gap
	select {
	case gap = <-gaps:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("no gap reported 30s after killing the subscriber's connection")
	}
	env.say("Killed the subscriber's connection (CLIENT KILL ID %s). aside reconnected and resubscribed %v later", id, gap.Until.Sub(killed).Round(time.Microsecond))
	env.say("and reported a gap: reason %q, topics %q, %v without a subscription.", gap.Reason, gap.Topics, gap.Until.Sub(gap.Since).Round(time.Microsecond))
	env.say("Anything published in that window is gone for good; a program that caches data these messages invalidate")
	env.say("should flush its local copy now (aside's consistency package does). go-redis alone would have resubscribed silently.")
	if err := ps.Publish(ctx, topic, demoPrice{"A-1", 1199}); err != nil {
		return err
	}
	p, err := receive(ctx, got)
	if err != nil {
		return err
	}
	env.say("A price published after the reconnect arrived as usual: %s now %d cents.", p.SKU, p.Cents)
	return nil
}

// clientID finds the id of the connection named name in CLIENT LIST.
func clientID(ctx context.Context, rdb redis.UniversalClient, name string) (string, error) {
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(" "+line+" ", " name="+name+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("no connection named %q", name)
}

func receive[T any](ctx context.Context, ch <-chan T) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	case <-time.After(30 * time.Second):
		var zero T
		return zero, fmt.Errorf("no message within 30s")
	}
}
