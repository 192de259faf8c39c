package queue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aside-go/aside/internal/otelx/otelxtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func TestWorker_Stats_ExportedAsOTelCounters(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	ctx := t.Context()
	q := newQueue(t, redistest.Standalone.Client(t), nil)
	opt := fastWorker(2)
	opt.MeterProvider = mp
	w := consume(t, q, func(ctx context.Context, m *queue.Message) error {
		if string(m.Payload) == "bad" {
			return queue.Permanent(errors.New("bad"))
		}
		return nil
	}, opt)
	for _, p := range []string{"a", "b", "bad"} {
		if _, err := q.Enqueue(ctx, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all settled", func() bool { s := w.Stats(); return s.Acked == 2 && s.DeadLettered == 1 })

	got := otelxtest.Sums(t, reader, "")
	want := map[string]int64{
		"aside.queue.handled": 2, "aside.queue.failed": 1, "aside.queue.retried": 0,
		"aside.queue.dead_lettered": 1, "aside.queue.acked": 2, "aside.queue.stale": 0,
		"aside.queue.lost_leases": 0, "aside.queue.released": 0, "aside.queue.errors": 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OTel counters (-want +got):\n%s", diff)
	}
}
