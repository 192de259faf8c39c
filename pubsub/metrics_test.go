package pubsub_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aside-go/aside/internal/otelx/otelxtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
)

// The PubSub's counts reach OpenTelemetry through internal/otelx, as every
// package's do, with the kind of handler failure as an attribute.
func TestPubSub_Stats_ExportedAsOTelCounters(t *testing.T) {
	t.Parallel()
	reader, mp := otelxtest.NewProvider(t)
	p := newPubSub(t, redistest.Standalone.Client(t), &pubsub.Options{MeterProvider: mp})
	topic := redistest.Prefix(t) + ":m"
	sub, err := p.Subscribe(t.Context(), []string{topic}, pubsub.HandlerFunc(func(_ context.Context, m *pubsub.Message) error {
		if string(m.Payload) == `"bad"` {
			return errors.New("bad")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "bad", "c"} {
		if err := p.Publish(t.Context(), topic, v); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "3 handled", func() bool { return sub.Stats().Handled == 3 })
	got := otelxtest.Sums(t, reader, "kind")
	if got["aside.pubsub.received"] != 3 || got["aside.pubsub.handled"] != 3 || got["aside.pubsub.handler_errors/error"] != 1 {
		t.Fatalf("OTel sums %v, want 3 received, 3 handled, 1 handler error", got)
	}
}
