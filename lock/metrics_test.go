package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/otelx/otelxtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func TestClient_Stats_ExportedAsOTelCounters(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	rdb := redistest.Standalone.Client(t)
	c, err := lock.New(rdb, &lock.Options{Prefix: redistest.Prefix(t), MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()

	l, err := c.TryObtain(ctx, "k", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TryObtain(ctx, "k", time.Second); !errors.Is(err, lock.ErrNotObtained) {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	short, err := c.TryObtain(ctx, "short", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, short.Context(), 10*time.Second, "50ms lease")

	want := lock.Stats{Obtained: 2, NotObtained: 1, Released: 1, Lost: 1, Attempts: 3}
	if diff := cmp.Diff(want, c.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	got := otelxtest.Sums(t, reader, "")
	wantOTel := map[string]int64{
		"aside.lock.obtained": 2, "aside.lock.not_obtained": 1, "aside.lock.released": 1,
		"aside.lock.lost": 1, "aside.lock.attempts": 3, "aside.lock.retries": 0,
	}
	if diff := cmp.Diff(wantOTel, got); diff != "" {
		t.Errorf("OTel counters (-want +got):\n%s", diff)
	}
}
