package lock

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
