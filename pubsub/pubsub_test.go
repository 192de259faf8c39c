package pubsub_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"
)

type event struct {
	ID   int
	Name string
}

func TestPubSub_Publish_roundTripWithCodec(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		p := newPubSub(t, tp.Client(t), nil)
		if got, want := p.Sharded(), tp.IsCluster(); got != want {
			t.Errorf("Sharded() = %v, want %v", got, want)
		}
		got := make(chan event, 10)
		topic := prefix + ":events"
		_, err := p.Subscribe(ctx, []string{topic}, pubsub.Typed(func(_ context.Context, m *pubsub.Message, v event) error {
			if m.Topic != topic {
				t.Errorf("Topic = %q, want %q", m.Topic, topic)
			}
			got <- v
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		// A second client publishes, as another process would.
		pub := newPubSub(t, tp.Client(t), nil)
		want := []event{{1, "created"}, {2, "updated"}, {3, "deleted"}}
		for _, e := range want {
			if err := pub.Publish(ctx, topic, e); err != nil {
				t.Fatal(err)
			}
		}
		var have []event
		for range want {
			have = append(have, <-got)
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("handled events (-want +got):\n%s", diff)
		}
		st := p.Stats()
		if st.Received != 3 || st.Subscriptions != 1 {
			t.Errorf("Stats = %+v, want Received 3, Subscriptions 1", st)
		}
	})
}

func TestPubSub_PublishRaw_bytesAsIs(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		topic := redistest.Prefix(t) + ":raw"
		p := newPubSub(t, tp.Client(t), nil)
		c := newCollector()
		if _, err := p.Subscribe(ctx, []string{topic}, c); err != nil {
			t.Fatal(err)
		}
		want := []byte{0, 1, 2, 0xff, '{'}
		if err := p.PublishRaw(ctx, topic, want); err != nil {
			t.Fatal(err)
		}
		if got := c.next(t).Payload; !cmp.Equal(got, want) {
			t.Errorf("payload = %v, want %v", got, want)
		}
	})
}

func TestPubSub_Subscribe_manyTopicsAcrossSlots(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		// On a Cluster these land in different slots and on different nodes.
		topics := []string{
			topicInRange(prefix, 0, 5000),
			topicInRange(prefix, 6000, 10000),
			topicInRange(prefix, 12000, 16383),
		}
		p := newPubSub(t, tp.Client(t), nil)
		c := newCollector()
		sub, err := p.Subscribe(ctx, topics, c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(topics, sub.Topics(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("Topics() (-want +got):\n%s", diff)
		}
		for _, topic := range topics {
			if err := p.Publish(ctx, topic, topic); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]bool{}
		for range topics {
			m := c.next(t)
			var v string
			if err := m.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if v != m.Topic {
				t.Errorf("message on %q carries %q", m.Topic, v)
			}
			got[m.Topic] = true
		}
		if len(got) != len(topics) {
			t.Errorf("messages on %d topics, want %d", len(got), len(topics))
		}
	})
}

func TestPubSub_PSubscribe_patterns(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		prefix := redistest.Prefix(t)
		p := newPubSub(t, tp.Client(t), &pubsub.Options{Mode: pubsub.ModeClassic})
		c := newCollector()
		if _, err := p.PSubscribe(ctx, []string{prefix + ":news.*"}, c); err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{prefix + ":sport", prefix + ":news.sport", prefix + ":news.weather"} {
			if err := p.Publish(ctx, topic, 1); err != nil {
				t.Fatal(err)
			}
		}
		// On a Cluster, PUBLISHes to different slots reach the subscriber's
		// node over different paths: order across topics is not kept.
		var got []string
		for range 2 {
			m := c.next(t)
			if m.Pattern != prefix+":news.*" {
				t.Errorf("message on %q via %q, want via the pattern", m.Topic, m.Pattern)
			}
			got = append(got, m.Topic)
		}
		want := []string{prefix + ":news.sport", prefix + ":news.weather"}
		if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("topics matched (-want +got):\n%s", diff)
		}
		if tp.IsCluster() {
			sharded := newPubSub(t, tp.Client(t), nil)
			_, err := sharded.PSubscribe(ctx, []string{prefix + ":*"}, c)
			if !errors.Is(err, pubsub.ErrShardedPattern) {
				t.Errorf("PSubscribe in sharded mode: err = %v, want ErrShardedPattern", err)
			}
		}
	})
}

func TestPubSub_Close_idempotentKeepsClient(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		topic := redistest.Prefix(t) + ":close"
		rdb := tp.Client(t)
		p := newPubSub(t, rdb, nil)
		started := make(chan struct{})
		finished := make(chan struct{})
		_, err := p.Subscribe(ctx, []string{topic}, pubsub.HandlerFunc(func(ctx context.Context, _ *pubsub.Message) error {
			close(started)
			<-ctx.Done() // Close cancels the handler's context...
			close(finished)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Publish(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
		<-started
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-finished: // ...and waits for it to return.
		default:
			t.Error("Close returned before the running handler")
		}
		if err := p.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := p.Publish(ctx, topic, 1); !errors.Is(err, pubsub.ErrClosed) {
			t.Errorf("Publish after Close: err = %v, want ErrClosed", err)
		}
		if _, err := p.Subscribe(ctx, []string{topic}, newCollector()); !errors.Is(err, pubsub.ErrClosed) {
			t.Errorf("Subscribe after Close: err = %v, want ErrClosed", err)
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Errorf("client unusable after Close: %v", err)
		}
	})
}

func TestNew_validatesOptions(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialed
	defer rdb.Close()
	tests := []struct {
		name string
		opt  *pubsub.Options
		ok   bool
	}{
		{"nil means defaults", nil, true},
		{"zero value", &pubsub.Options{}, true},
		{"negative concurrency", &pubsub.Options{Concurrency: -1}, false},
		{"negative buffer", &pubsub.Options{Buffer: -1}, false},
		{"unknown policy", &pubsub.Options{Overflow: 9}, false},
		{"unknown mode", &pubsub.Options{Mode: 9}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pubsub.New(rdb, tt.opt)
			if (err == nil) != tt.ok {
				t.Errorf("New err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := pubsub.New(nil, nil); err == nil {
		t.Error("New(nil client) succeeded")
	}
}

func TestPubSub_Subscribe_badArguments(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	p := newPubSub(t, rdb, nil)
	ctx := t.Context()
	if _, err := p.Subscribe(ctx, nil, newCollector()); !errors.Is(err, pubsub.ErrNoTopics) {
		t.Errorf("no topics: err = %v, want ErrNoTopics", err)
	}
	if _, err := p.Subscribe(ctx, []string{"a"}, nil); err == nil {
		t.Error("nil handler accepted")
	}
	if _, err := p.Subscribe(ctx, []string{"a"}, newCollector(), pubsub.WithBuffer(0)); err == nil {
		t.Error("buffer 0 accepted")
	}
}

// TypedWith decodes with the codec it is given (here the String codec, for
// messages sent with PublishRaw); a payload the codec rejects is a handler
// error that names the topic, and the handler is not called for it.
func TestTypedWith_customCodecAndUndecodable(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		topic := redistest.Prefix(t) + ":codec"
		errs := make(chan error, 10)
		p := newPubSub(t, tp.Client(t), &pubsub.Options{OnError: func(err error) { errs <- err }})
		strs := make(chan string, 10)
		_, err := p.Subscribe(ctx, []string{topic}, pubsub.TypedWith(pubsub.String(),
			func(_ context.Context, _ *pubsub.Message, s string) error {
				strs <- s
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		evs := make(chan event, 10)
		_, err = p.Subscribe(ctx, []string{topic}, pubsub.Typed(func(_ context.Context, _ *pubsub.Message, e event) error {
			evs <- e
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		b, err := pubsub.String().Append(nil, "not json")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.PublishRaw(ctx, topic, b); err != nil {
			t.Fatal(err)
		}
		if got := <-strs; got != "not json" {
			t.Errorf("TypedWith(String) got %q, want %q", got, "not json")
		}
		err = <-errs
		var he *pubsub.HandlerError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), "decode message on") {
			t.Errorf("OnError got %v, want a *HandlerError about decoding", err)
		}
		select {
		case e := <-evs:
			t.Errorf("Typed handler called with %+v for an undecodable payload", e)
		default:
		}
	})
}
