package pgcdc

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// ErrInvalidOptions is returned for options that cannot work; the message
// names the field and the value.
var ErrInvalidOptions = errors.New("pgcdc: invalid options")

// Options configure a [Follower], [Setup] and [Drop].
type Options struct {
	// Slot names the logical replication slot. If empty, "aside_cdc".
	// Lowercase letters, digits and underscores, as PostgreSQL requires.
	Slot string
	// Publication names the publication the slot streams. If empty,
	// "aside_cdc".
	Publication string
	// Tables are the tables Setup publishes ("schema.table" or "table").
	// If nil, Setup creates the publication FOR ALL TABLES (a superuser
	// may; a plain owner must list its tables).
	Tables []string

	// Mapper turns each change into the keys to invalidate. Required for
	// a Follower.
	Mapper Mapper

	// StatusInterval is how often the follower reports its progress to
	// the server when idle. If zero, 10 seconds.
	StatusInterval time.Duration
	// RetryInterval is how long a follower waits before trying again when
	// another one streams from the slot, or after a lost connection. If
	// zero, 2 seconds.
	RetryInterval time.Duration
	// WALCheckInterval is how often the follower reads how much WAL the
	// slot retains. If zero, 1 minute; negative turns it off.
	WALCheckInterval time.Duration
	// RetainedWALWarning is the retained WAL, in bytes, past which
	// OnError gets an [ErrWALRetained]: the follower lags or is down and
	// the server's disk fills. If zero, 1 GiB.
	RetainedWALWarning int64

	// OnError receives what goes wrong while following: lost
	// connections, invalidations that failed and are retried, warnings.
	// If nil, errors are only counted.
	OnError func(error)
	// MeterProvider receives the counters (aside.pgcdc.*, the same as
	// [Follower.Stats]). If nil, the global provider.
	MeterProvider metric.MeterProvider
}

// ErrWALRetained is passed to OnError when the slot retains more WAL than
// RetainedWALWarning.
var ErrWALRetained = errors.New("pgcdc: replication slot retains much WAL")

func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Slot == "" {
		c.Slot = "aside_cdc"
	}
	if c.Publication == "" {
		c.Publication = "aside_cdc"
	}
	if !validName(c.Slot) {
		return c, fmt.Errorf("%w: Slot %q: want lowercase letters, digits and underscores, at most 63", ErrInvalidOptions, c.Slot)
	}
	if c.Publication == "" || len(c.Publication) > 63 {
		return c, fmt.Errorf("%w: Publication %q: want 1 to 63 bytes", ErrInvalidOptions, c.Publication)
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = 10 * time.Second
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 2 * time.Second
	}
	if c.WALCheckInterval == 0 {
		c.WALCheckInterval = time.Minute
	}
	if c.RetainedWALWarning == 0 {
		c.RetainedWALWarning = 1 << 30
	}
	switch {
	case c.StatusInterval < 0:
		return c, fmt.Errorf("%w: StatusInterval %v is negative", ErrInvalidOptions, c.StatusInterval)
	case c.RetryInterval < 0:
		return c, fmt.Errorf("%w: RetryInterval %v is negative", ErrInvalidOptions, c.RetryInterval)
	case c.RetainedWALWarning < 0:
		return c, fmt.Errorf("%w: RetainedWALWarning %d is negative", ErrInvalidOptions, c.RetainedWALWarning)
	}
	return c, nil
}

// validName reports whether s is a valid replication slot name.
func validName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
