package queue

import (
	"testing"
	"time"
)

func TestDefaultBackoff_DoublesWithJitterUpToFiveMinutes(t *testing.T) {
	tests := []struct {
		delivery int
		base     time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute},
		{1000, 5 * time.Minute},
	}
	for _, tt := range tests {
		for range 200 {
			got := defaultBackoff(tt.delivery)
			if got < tt.base/2 || got > tt.base {
				t.Fatalf("defaultBackoff(%d) = %v, want within [%v, %v]", tt.delivery, got, tt.base/2, tt.base)
			}
		}
	}
}

func TestWorkerOptions_Normalize_Defaults(t *testing.T) {
	o, err := (*WorkerOptions)(nil).normalize()
	if err != nil {
		t.Fatal(err)
	}
	if o.Concurrency != 10 || o.FetchBatch != 100 || o.Prefetch != 0 || o.VisibilityTimeout != 30*time.Second ||
		o.HeartbeatInterval != 10*time.Second || o.BlockTimeout != time.Second || o.ReapInterval != 500*time.Millisecond ||
		o.ShutdownTimeout != 30*time.Second || o.Backoff == nil {
		t.Errorf("defaults = %+v", o)
	}
	in := &WorkerOptions{Concurrency: 300}
	o, err = in.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if o.FetchBatch != 100 || in.FetchBatch != 0 {
		t.Errorf("FetchBatch = %d (caller's struct %d), want 100 and the caller's untouched", o.FetchBatch, in.FetchBatch)
	}
	// Without prefetch a fetch takes no more than idle handlers.
	if o, err = (&WorkerOptions{Prefetch: -1}).normalize(); err != nil || o.FetchBatch != 10 {
		t.Errorf("Prefetch -1: FetchBatch = %d, %v; want 10", o.FetchBatch, err)
	}
}
