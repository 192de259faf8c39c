package lock

// The two kinds of loss, both matching ErrLost.
var (
	ErrGone        = errGone
	ErrUnconfirmed = errUnconfirmed
)

// Waiting returns how many callers of c are queued waiting for a wake-up.
func (c *Client) Waiting() int {
	return c.hub.Waiting()
}
