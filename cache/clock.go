package cache

import (
	"sync/atomic"
	"time"
)

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow is a monotonic clock in nanoseconds.
func monoNow() int64 { return int64(time.Since(monoBase)) }

// The L1 tier checks expiry on every hit; reading the system clock there
// was the largest part of a hit. So hits read a coarse clock instead: an
// atomic that a goroutine advances every clockTick while L1 tiers are
// read (it starts on demand and stops after clockIdle ticks without a
// read, so no Close is needed and an idle process has no ticker). The
// coarse clock is never ahead of monoNow; a hit within clockSlack of its
// entry's expiry (by the coarse clock) reads the real clock, so expiry is
// exact unless the ticker is late by more than clockSlack.
const (
	clockTick  = time.Millisecond
	clockSlack = int64(4 * time.Millisecond)
	clockIdle  = 32
)

var clock struct {
	now     atomic.Int64 // a recent monoNow()
	running atomic.Bool  // a ticker goroutine is advancing now
	used    atomic.Bool  // read since the ticker last looked
}

// coarseNow returns a recent monoNow(), at most about clockTick old while
// the ticker keeps up.
func coarseNow() int64 {
	if !clock.used.Load() {
		clock.used.Store(true)
	}
	if clock.running.Load() {
		return clock.now.Load()
	}
	return startClock()
}

// startClock reads the clock and starts the ticker if none runs.
func startClock() int64 {
	now := monoNow()
	advanceClock(now)
	if clock.running.CompareAndSwap(false, true) {
		go runClock()
	}
	return now
}

// advanceClock moves the coarse clock forward to now (never back).
func advanceClock(now int64) {
	for {
		old := clock.now.Load()
		if old >= now || clock.now.CompareAndSwap(old, now) {
			return
		}
	}
}

func runClock() {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for idle := 0; ; {
		<-t.C
		advanceClock(monoNow())
		if clock.used.Swap(false) {
			idle = 0
			continue
		}
		if idle++; idle >= clockIdle {
			clock.running.Store(false)
			return
		}
	}
}

// expired reports whether a deadline exp (monoNow time) has passed, mostly
// without reading the system clock.
func expired(exp int64) bool {
	return coarseNow() >= exp-clockSlack && monoNow() >= exp
}
