package backoff

import (
	"testing"
	"time"
)

func TestBackoff_Next(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"zero value", Backoff{}, []time.Duration{10, 20, 40, 80, 160, 320, 640, 1000, 1000}},
		{"min and max", Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}, []time.Duration{20, 40, 80, 100, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, w := range tc.want {
				w *= time.Millisecond
				if d := tc.b.Next(); d < w || d > w+w/4 {
					t.Errorf("delay %d = %v, want in [%v, %v]", i, d, w, w+w/4)
				}
			}
			tc.b.Reset()
			if d, w := tc.b.Next(), tc.want[0]*time.Millisecond; d < w || d > w+w/4 {
				t.Errorf("after Reset: %v, want about %v", d, w)
			}
		})
	}
}

func TestBackoff_NoOverflow(t *testing.T) {
	b := Backoff{Max: time.Hour}
	for range 100 {
		if d := b.Next(); d <= 0 || d > time.Hour+time.Hour/4 {
			t.Fatalf("delay %v out of range", d)
		}
	}
}

func TestJitter(t *testing.T) {
	if Jitter(0) != 0 || Jitter(-time.Second) != 0 {
		t.Error("Jitter of a non-positive delay is not 0")
	}
	for range 1000 {
		if d := Jitter(100 * time.Millisecond); d < 100*time.Millisecond || d > 125*time.Millisecond {
			t.Fatalf("Jitter(100ms) = %v", d)
		}
	}
}
