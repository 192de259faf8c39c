// Package quantile keeps the latest durations of something (loads,
// invalidations) and answers quantiles of them.
package quantile

import (
	"slices"
	"sync"
	"time"
)

// Size is how many of the latest durations a Window keeps.
const Size = 1024

// Window keeps the latest Size durations. Its zero value is ready; it is
// safe for concurrent use.
type Window struct {
	mu   sync.Mutex // guards ring, n
	ring [Size]time.Duration
	n    int // total observed; ring[n%Size] is next
}

// Observe records d.
func (w *Window) Observe(d time.Duration) {
	w.mu.Lock()
	w.ring[w.n%Size] = d
	w.n++
	w.mu.Unlock()
}

// Quantiles returns the q-quantiles (0 to 1) of the kept durations, zero
// when none was observed.
func (w *Window) Quantiles(qs ...float64) []time.Duration {
	w.mu.Lock()
	n := min(w.n, Size)
	s := slices.Clone(w.ring[:n])
	w.mu.Unlock()
	out := make([]time.Duration, len(qs))
	if n == 0 {
		return out
	}
	slices.Sort(s)
	for i, q := range qs {
		q = min(max(q, 0), 1)
		out[i] = s[min(int(q*float64(n)), n-1)]
	}
	return out
}
