package staleness

import (
	"testing"
	"time"
)

func TestRecorder_Check(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r := &recorder{done: make([][]completion, 2), reads: make([][]read, 2)}
	r.write(0, 2, at(10)) // version 2 completed at 10 ms
	r.write(0, 3, at(30))
	r.read(0, 1, at(5))   // began before any write completed: fresh
	r.read(0, 1, at(12))  // v2 completed 2 ms before: stale, age 2 ms
	r.read(0, 2, at(20))  // fresh
	r.read(0, 2, at(100)) // v3 completed 70 ms before: stale, age 70 ms
	r.read(0, 3, at(100)) // fresh
	r.read(1, 1, at(100)) // row 1 never written: fresh
	n, beyond, maxAge := r.check(50 * time.Millisecond)
	if n != 2 || beyond != 1 || maxAge != 70*time.Millisecond {
		t.Errorf("check = %d stale, %d beyond 50ms, max age %v; want 2, 1, 70ms", n, beyond, maxAge)
	}
}

func TestScenario_String(t *testing.T) {
	for _, s := range Scenarios {
		if s.String() == "" || s.String()[0] == 'S' {
			t.Errorf("Scenario %d has no name: %q", int(s), s.String())
		}
	}
	if got := Scenario(9).String(); got != "Scenario(9)" {
		t.Errorf("String = %q", got)
	}
}
