package cache

import (
	"math/rand/v2"
	"time"
)

// jitter takes a random part of up to frac*d off d, so TTLs written
// together spread over (d*(1-frac), d]. It never returns less than 1ms.
func jitter(d time.Duration, frac float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	span := int64(float64(d) * frac)
	if span <= 0 {
		return d
	}
	out := d - time.Duration(rand.Int64N(span))
	if out < time.Millisecond {
		out = time.Millisecond
	}
	return out
}
