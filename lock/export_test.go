package lock

// Stats is what a Client's waiting did, for tests.
type Stats struct {
	Attempts  int64 // obtain/acquire scripts run
	Woken     int64 // attempts made because a wake-up arrived
	Fallbacks int64 // attempts made because the fallback timer fired
	PassedOn  int64 // wake-ups handed back to Redis
	Polls     int64 // attempts by callers without a watcher
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Attempts:  c.stats.attempts.Load(),
		Woken:     c.stats.woken.Load(),
		Fallbacks: c.stats.fallbacks.Load(),
		PassedOn:  c.stats.passedOn.Load(),
		Polls:     c.stats.polls.Load(),
	}
}

// The two kinds of loss, both matching ErrLost.
var (
	ErrGone        = errGone
	ErrUnconfirmed = errUnconfirmed
)

// Waiting returns how many callers of c are queued waiting for a wake-up.
func (c *Client) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, q := range c.queues {
		n += len(q.waiters)
	}
	return n
}
