package quantile

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	var w Window
	if got := w.Quantiles(0.5); got[0] != 0 {
		t.Errorf("empty window p50 = %v", got[0])
	}
	for i := 1; i <= 100; i++ {
		w.Observe(time.Duration(i) * time.Millisecond)
	}
	got := w.Quantiles(0.5, 0.99, 2)
	if got[0] != 51*time.Millisecond || got[1] != 100*time.Millisecond || got[2] != 100*time.Millisecond {
		t.Errorf("quantiles = %v", got)
	}
	// Only the latest Size count.
	for range Size {
		w.Observe(time.Second)
	}
	if got := w.Quantiles(0); got[0] != time.Second {
		t.Errorf("after the window filled with 1s, p0 = %v", got[0])
	}
}
