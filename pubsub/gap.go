package pubsub

import (
	"fmt"
	"time"
)

// GapReason says why messages may have been missed.
type GapReason int

const (
	// GapReconnect: the connection was lost (a read or write error, a
	// killed client, a restarted server, an unanswered health check) and
	// has been reestablished and resubscribed.
	GapReconnect GapReason = iota + 1
	// GapUnsubscribed: Redis ended the subscription on a live connection,
	// as it does for sharded subscribers when a Cluster slot moves to
	// another node; the PubSub has subscribed again at the slot's owner.
	GapUnsubscribed
	// GapOverflow: the subscription's buffer was full and the [Policy]
	// dropped messages; Gap.Dropped says how many.
	GapOverflow
)

// String returns "reconnect", "unsubscribed" or "overflow".
func (r GapReason) String() string {
	switch r {
	case GapReconnect:
		return "reconnect"
	case GapUnsubscribed:
		return "unsubscribed"
	case GapOverflow:
		return "overflow"
	}
	return fmt.Sprintf("GapReason(%d)", int(r))
}

// Gap reports a stretch of time in which messages of some topics may have
// been lost: they were published but no handler saw them. Users who derive
// local state from messages (an L1 cache invalidated by messages) should
// treat that state as stale for these topics when a Gap arrives.
type Gap struct {
	// Topics are the topics (or patterns) of the affected connection or
	// subscription. On a Cluster in sharded mode that is the topics of one
	// hash slot.
	Topics []string
	// Since is the last moment the subscription was known to be receiving:
	// the last message, PING reply or subscribe confirmation before the
	// loss, or the first dropped message for [GapOverflow]. It is an
	// estimate: when a Cluster slot moves, the new owner may accept
	// publishes slightly before the old one tells the subscriber. Treat the
	// gap itself as the signal: whatever was derived from messages before
	// Until may be stale.
	Since time.Time
	// Until is when the subscription was receiving again: the subscribe
	// confirmations arrived, or a message was buffered again after drops.
	// Every message published after Until reaches the subscription (or is
	// reported by a later Gap).
	Until time.Time
	// Reason says what happened.
	Reason GapReason
	// Dropped is the number of messages the [Policy] dropped, for
	// [GapOverflow]; zero otherwise (messages published while disconnected
	// cannot be counted).
	Dropped int64
	// Err is the error that ended the connection, for [GapReconnect] and
	// [GapUnsubscribed].
	Err error
}

// Disconnect reports a subscription connection found lost, before the
// PubSub reconnects. A [Gap] with the same Since and Topics follows once it
// is resubscribed.
type Disconnect struct {
	Topics []string
	Since  time.Time
	Err    error
}
