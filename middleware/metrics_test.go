package middleware

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/aside-go/aside/internal/otelx/otelxtest"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func TestCache_Stats(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	c := newTestCache(t, redistest.Standalone.Client(t), &CacheOptions{MeterProvider: mp}, nil)
	srv := startServer(t, c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "x")
	})))
	for range 3 {
		do(t, srv.Client(), "GET", srv.URL+"/m", nil)
	}
	want := CacheStats{Hits: 2, Forwarded: 1, Stored: 1}
	if diff := cmp.Diff(want, c.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	got := otelxtest.Sums(t, reader, "result")
	if got["aside.middleware.cache.requests/hit"] != 2 || got["aside.middleware.cache.requests/forwarded"] != 1 ||
		got["aside.middleware.cache.stored"] != 1 {
		t.Errorf("OpenTelemetry counters = %v, want 2 hits, 1 forwarded, 1 stored", got)
	}
}
