package queue

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/script"
)

// State is where a message is in its life.
type State int

// The states of a message.
const (
	Ready    State = iota + 1 // waiting for a consumer
	InFlight                  // delivered, not yet settled
	Delayed                   // waiting for its due time or a retry backoff
	Dead                      // in the dead-letter list
)

// String returns "ready", "inflight", "delayed" or "dead".
func (s State) String() string {
	switch s {
	case Ready:
		return "ready"
	case InFlight:
		return "inflight"
	case Delayed:
		return "delayed"
	case Dead:
		return "dead"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MessageInfo describes a stored message, for inspection.
type MessageInfo struct {
	ID            string
	Payload       []byte
	State         State
	Deliveries    int    // deliveries so far
	MaxDeliveries int    // its limit; 0 means none
	LastError     string // why its last delivery failed, if one did
	// Due is, for a delayed message, when it becomes ready; for one in
	// flight, its visibility deadline (server clock). Zero otherwise.
	Due time.Time
	// Enqueued is when it was enqueued, read from an ID that this package
	// made (the producer's clock); zero for IDs given with WithID.
	Enqueued time.Time
}

// Peek returns up to n messages in state without changing anything: the
// oldest first (ready and dead messages), the soonest due first (delayed
// and in flight). It is meant for operators; a queue of millions reads only
// the n it returns.
func (q *Queue) Peek(ctx context.Context, state State, n int) ([]MessageInfo, error) {
	if n <= 0 {
		return nil, errors.New("queue: Peek needs n > 0")
	}
	var key string
	switch state {
	case Ready:
		key = q.k.ready
	case InFlight:
		key = q.k.inflight
	case Delayed:
		key = q.k.delayed
	case Dead:
		key = q.k.dead
	default:
		return nil, fmt.Errorf("queue: Peek: unknown state %d", int(state))
	}
	res, err := script.QueuePeek.Run(ctx, q.rdb, []string{key, q.k.payload, q.k.count, q.k.error}, state.String(), n).Slice()
	if err != nil {
		return nil, fmt.Errorf("queue: peek %s: %w", state, err)
	}
	out := make([]MessageInfo, 0, len(res)/5)
	for i := 0; i+4 < len(res); i += 5 {
		maxD, payload := splitStored(str(res[i+1]))
		m := MessageInfo{
			ID: str(res[i]), Payload: payload, State: state, MaxDeliveries: maxD,
			Deliveries: int(toInt(res[i+2])), LastError: str(res[i+3]),
		}
		if ms, err := strconv.ParseFloat(str(res[i+4]), 64); err == nil {
			m.Due = time.UnixMilli(int64(ms))
		}
		m.Enqueued = idTime(m.ID)
		out = append(out, m)
	}
	return out, nil
}

// Delete removes the message with this ID, whatever its state, and reports
// whether it existed. A running delivery of it becomes stale: its ack is
// rejected with [ErrStaleDelivery].
func (q *Queue) Delete(ctx context.Context, id string) (bool, error) {
	n, err := script.QueueDelete.Run(ctx, q.rdb, q.k.remove, id).Int()
	if err != nil {
		return false, fmt.Errorf("queue: delete %q: %w", id, err)
	}
	return n == 1, nil
}

// RequeueDeadID moves the dead letter with this ID back to the ready list
// with its delivery count reset, and reports whether it was a dead letter.
func (q *Queue) RequeueDeadID(ctx context.Context, id string) (bool, error) {
	n, err := script.QueueRequeueDeadID.Run(ctx, q.rdb, q.k.requeue, id).Int()
	if err != nil {
		return false, fmt.Errorf("queue: requeue %q: %w", id, err)
	}
	return n == 1, nil
}

// PurgeDead deletes every dead letter and returns how many it deleted.
// Messages in other states are left alone.
func (q *Queue) PurgeDead(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := script.QueuePurgeDead.Run(ctx, q.rdb, q.k.deadRecords, requeueChunk).Int()
		if err != nil {
			return total, fmt.Errorf("queue: purge dead: %w", err)
		}
		total += n
		if n < requeueChunk {
			return total, nil
		}
	}
}

// List returns the names of the queues with messages under prefix (""
// means the default prefix), sorted. It walks the keyspace with SCAN (on
// every master of a Cluster), so it is for operators and tools, never for
// a request path.
func List(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]string, error) {
	if prefix == "" {
		prefix = defaultPrefix
	}
	if err := keys.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("%w: Prefix %q: %v", ErrInvalidOptions, prefix, err)
	}
	found := map[string]bool{}
	err := keys.Scan(ctx, rdb, keys.Pattern(prefix, ":payload"), func(k string) {
		if p, name, ok := keys.Split(strings.TrimSuffix(k, ":payload")); ok && p == prefix {
			found[name] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// IDs made by this package start with the enqueue time in milliseconds,
// 10 characters of base32, then 16 random ones: they sort by time and
// tell an operator a message's age.
var idTimeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns a new message ID.
func newID(now time.Time) string {
	// 48 bits of milliseconds (until the year 10889) in 10 characters,
	// then 80 random bits in 16, in the alphabet of rand.Text.
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(now.UnixMilli()))
	var r [10]byte
	_, _ = rand.Read(r[:]) // never fails: see crypto/rand.Read
	var id [26]byte
	idTimeEncoding.Encode(id[:10], t[2:])
	idTimeEncoding.Encode(id[10:], r[:])
	return string(id[:])
}

// idTime returns the enqueue time in an ID made by newID, or the zero time
// for other IDs.
func idTime(id string) time.Time {
	if len(id) != 26 {
		return time.Time{}
	}
	b, err := idTimeEncoding.DecodeString(id[:10])
	if err != nil || len(b) != 6 {
		return time.Time{}
	}
	var ms int64
	for _, c := range b {
		ms = ms<<8 | int64(c)
	}
	t := time.UnixMilli(ms)
	// An ID from before this format (26 random characters) decodes to a
	// random time: accept only plausible ones.
	if t.Before(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || t.After(time.Now().Add(24*time.Hour)) {
		return time.Time{}
	}
	return t
}
