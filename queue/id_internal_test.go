package queue

import (
	"strings"
	"testing"
	"time"
)

// A generated ID is 26 characters of rand.Text's alphabet whose first 10
// give back the enqueue time (to the millisecond), and IDs do not repeat.
func TestNewID(t *testing.T) {
	now := time.UnixMilli(1_780_000_000_123)
	seen := map[string]bool{}
	for range 1000 {
		id := newID(now)
		if len(id) != 26 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("newID = %q: want 26 characters of A-Z2-7", id)
		}
		if got := idTime(id); !got.Equal(now) {
			t.Fatalf("idTime(%q) = %v, want %v", id, got, now)
		}
		if seen[id] {
			t.Fatalf("newID repeated %q", id)
		}
		seen[id] = true
	}
	if got := idTime("caller-chosen"); !got.IsZero() {
		t.Errorf("idTime of a caller's ID = %v, want the zero time", got)
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		_ = newID(now)
	}
}
