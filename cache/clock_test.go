package cache

import (
	"testing"
	"time"
)

func TestCoarseClock_NeverAheadAndStopsWhenIdle(t *testing.T) {
	for range 1000 {
		c := coarseNow()
		if m := monoNow(); c > m {
			t.Fatalf("coarse clock %d ahead of monoNow %d", c, m)
		}
	}
	if !clock.running.Load() {
		t.Fatalf("no ticker after reads")
	}
	start := coarseNow()
	time.Sleep(20 * clockTick)
	if c := clock.now.Load(); c == start {
		t.Errorf("coarse clock did not advance in %v", 20*clockTick)
	}
	// Not parallel: no other test reads an L1 now, so the ticker goes idle.
	for deadline := time.Now().Add(10 * time.Second); clock.running.Load(); {
		if time.Now().After(deadline) {
			t.Fatalf("ticker still running %v after the last read", 10*time.Second)
		}
		time.Sleep(clockTick)
	}
	if c, m := coarseNow(), monoNow(); m-c > int64(clockTick) {
		t.Errorf("first read after idle: coarse %d, mono %d", c, m)
	}
}

func TestLocal_ExpiresOnTime(t *testing.T) {
	l := newLocal[int](100, time.Minute, 0)
	before := time.Now()
	l.set("k", 1, false, 30*time.Millisecond)
	after := time.Now()
	// Served until the TTL (the coarse clock is never ahead), then gone.
	for deadline := after.Add(10 * time.Second); ; time.Sleep(clockTick / 2) {
		_, ok := l.get("k")
		now := time.Now()
		if !ok {
			if now.Sub(before) < 30*time.Millisecond {
				t.Fatalf("entry gone %v after set, TTL 30ms", now.Sub(before))
			}
			break
		}
		if now.After(deadline) {
			t.Fatalf("entry still served %v after set, TTL 30ms", now.Sub(after))
		}
	}
}
