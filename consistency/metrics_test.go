package consistency

import (
	"context"
	"testing"

	"github.com/aside-go/aside/internal/otelx/otelxtest"
	"github.com/aside-go/aside/internal/redistest"
)

// The Keeper's counters reach OpenTelemetry through internal/otelx, as
// every package's do, and stop being exported after Close.
func TestKeeper_Stats_ExportedAsOTelCounters(t *testing.T) {
	t.Parallel()
	reader, mp := otelxtest.NewProvider(t)
	rdb := redistest.Standalone.Client(t)
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	k := newKeeper(t, rdb, f, &Options{NoBroadcast: true, MeterProvider: mp})
	for range 2 {
		if err := k.Write(t.Context(), func(context.Context) error { return nil }, "a", "b"); err != nil {
			t.Fatal(err)
		}
	}
	got := otelxtest.Sums(t, reader, "")
	if got["aside.consistency.writes"] != 2 || got["aside.consistency.invalidated"] != k.Stats().Invalidated {
		t.Fatalf("OTel sums %v, want writes 2 and invalidated as Stats (%+v)", got, k.Stats())
	}
}
