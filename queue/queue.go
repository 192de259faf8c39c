package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aside-go/aside/internal/script"
	"github.com/aside-go/aside/internal/validate"
	"github.com/redis/go-redis/v9"
)

// Queue is one named queue in Redis. It is safe for concurrent use; many
// Queue values, in many processes, may share one queue name.
//
// All keys of a queue share one hash tag, so on Redis Cluster a queue lives
// on one shard. To spread load over shards, use several queues.
type Queue struct {
	rdb  redis.UniversalClient
	name string
	opt  Options
	k    keyset
	enq  combiner // merges concurrent Enqueue calls into one script call
}

// New returns the queue called name, stored under opt.Prefix. It checks the
// options and does no I/O. opt may be nil for defaults; New copies it. The
// client is shared, never closed by the queue.
func New(rdb redis.UniversalClient, name string, opt *Options) (*Queue, error) {
	if validate.Nil(rdb) {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOptions)
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty name", ErrInvalidOptions)
	}
	o, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	q := &Queue{rdb: rdb, name: name, opt: o, k: newKeyset(o.Prefix, name)}
	q.enq.q = q
	return q, nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Message is one delivery of a message to a consumer. Deliveries of the
// same message differ in Token; [Queue.Ack] and [Queue.Nack] name the
// delivery by ID and Token, never by payload, so equal payloads are
// independent messages.
type Message struct {
	// ID identifies the message; it stays the same across deliveries.
	ID string
	// Payload is the message's content, as enqueued.
	Payload []byte
	// Delivery is this delivery's number: 1 for the first.
	Delivery int
	// MaxDeliveries is the message's limit; 0 means no limit.
	MaxDeliveries int
	// LastError is the error text of the previous failed delivery, if any.
	LastError string
	// Token identifies this delivery. An ack carrying an older token is
	// rejected with [ErrStaleDelivery].
	Token string
}

// crashedText is the last error of a message dead-lettered because its last
// allowed delivery ran out of time.
const crashedText = "queue: visibility timeout expired on the last allowed delivery (consumer crashed or stalled)"

// reapLimit is how many expired or due entries one fetch moves at most.
const reapLimit = 500

// Fetch delivers up to n ready messages without blocking, each invisible to
// other consumers for visibility unless extended. It first returns expired
// deliveries and due delayed messages to the ready list. The caller must
// [Queue.Ack] or [Queue.Nack] each message; [Worker] does all this for you.
func (q *Queue) Fetch(ctx context.Context, n int, visibility time.Duration) ([]*Message, error) {
	if n <= 0 {
		return nil, errors.New("queue: Fetch needs n > 0")
	}
	if visibility < time.Millisecond {
		return nil, fmt.Errorf("queue: visibility %v is below 1ms", visibility)
	}
	r, err := q.fetch(ctx, fetchArgs{n: n, visibility: visibility, reap: true})
	return r.msgs, err
}

// fetchArgs is one fetch script call.
type fetchArgs struct {
	n          int           // messages to deliver at most; 0 to only reap or ack
	visibility time.Duration // of the delivered messages
	reap       bool          // reclaim expired deliveries and promote due delayed messages first
	acks       []*Message    // finished deliveries to ack first
	// wait, when above zero, blocks on the wake list for at most wait
	// before the script runs, in the same round trip.
	wait time.Duration
}

// fetchResult is what a fetch script call did.
type fetchResult struct {
	msgs  []*Message
	moved int           // entries moved to ready or dead by reaping
	next  time.Duration // until the next delayed message is due or deadline passes (0: overdue); -1: none or unknown
	stale int           // acks rejected as stale
	left  int           // messages left in the ready list
	// waitErr is the error of the wait on the wake list, when the script
	// itself ran.
	waitErr error
}

func (q *Queue) fetch(ctx context.Context, a fetchArgs) (fetchResult, error) {
	reap := "0"
	if a.reap {
		reap = "1"
	}
	args := make([]any, 7, 7+2*len(a.acks))
	args[0], args[1], args[2], args[3], args[4] = a.n, a.visibility.Milliseconds(), reap, reapLimit, crashedText
	args[5], args[6] = max(q.opt.MaxFetchBytes, 0), len(a.acks)
	for _, m := range a.acks {
		args = append(args, m.ID, m.Token)
	}
	r := fetchResult{next: -1}
	var cmd *redis.Cmd
	if a.wait > 0 {
		// BLPOP through a plain command: go-redis's BLPop rounds timeouts
		// up to whole seconds. The connection's read timeout is the
		// client's ReadTimeout, which Consume checked is above BlockTimeout.
		blpop := redis.NewCmd(ctx, "blpop", q.k.wake, strconv.FormatFloat(a.wait.Seconds(), 'f', 3, 64))
		cmd = script.QueueFetch.RunBehind(ctx, q.rdb, blpop, q.k.fetch, args...)
		if err := blpop.Err(); err != nil && !isNil(err) && cmd.Err() == nil {
			r.waitErr = fmt.Errorf("queue: wait: %w", err)
		}
	} else {
		cmd = script.QueueFetch.Run(ctx, q.rdb, q.k.fetch, args...)
	}
	res, err := cmd.Slice()
	if err != nil {
		return r, fmt.Errorf("queue: fetch: %w", err)
	}
	if len(res) < 4 {
		return r, fmt.Errorf("queue: fetch: short reply %v", res)
	}
	r.moved = int(toInt(res[0]))
	if ms := toInt(res[1]); ms >= 0 {
		r.next = time.Duration(ms) * time.Millisecond
	}
	r.stale = int(toInt(res[2]))
	r.left = int(toInt(res[3]))
	if rest := len(res) - 4; rest > 0 {
		r.msgs = make([]*Message, 0, rest/5)
		for i := 4; i+4 < len(res); i += 5 {
			maxD, payload := splitStored(str(res[i+1]))
			r.msgs = append(r.msgs, &Message{
				ID:            str(res[i]),
				Payload:       payload,
				Delivery:      int(toInt(res[i+2])),
				Token:         str(res[i+3]),
				MaxDeliveries: maxD,
				LastError:     str(res[i+4]),
			})
		}
	}
	return r, nil
}

// Ack finishes a delivery: the message is deleted. It returns
// [ErrStaleDelivery], changing nothing, when m is not the current delivery.
func (q *Queue) Ack(ctx context.Context, m *Message) error {
	res, err := q.ackBatch(ctx, []*Message{m})
	if err != nil {
		return err
	}
	if !res[0] {
		return ErrStaleDelivery
	}
	return nil
}

// ackBatch acks many deliveries in one script call and reports which were
// current.
func (q *Queue) ackBatch(ctx context.Context, ms []*Message) ([]bool, error) {
	return q.perDelivery(ctx, "ack", script.QueueAck, q.k.ack, nil, ms)
}

// perDelivery runs s with head and then the ID and token of each of ms as
// arguments; the script answers 1 (current delivery, done) or 0 (stale)
// per delivery, in order.
func (q *Queue) perDelivery(ctx context.Context, op string, s *script.Script, keys []string, head []any, ms []*Message) ([]bool, error) {
	args := make([]any, 0, len(head)+2*len(ms))
	args = append(args, head...)
	for _, m := range ms {
		args = append(args, m.ID, m.Token)
	}
	res, err := s.Run(ctx, q.rdb, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("queue: %s: %w", op, err)
	}
	if len(res) != len(ms) {
		return nil, fmt.Errorf("queue: %s: %d replies for %d messages", op, len(res), len(ms))
	}
	out := make([]bool, len(res))
	for i, r := range res {
		out[i] = toInt(r) == 1
	}
	return out, nil
}

// Nack ends a failed delivery. The message is delivered again after
// retryAfter (at once if zero), or goes to the dead-letter list with cause
// as its last error when cause wraps [ErrPermanent] or the message reached
// its max deliveries. deadLettered reports which happened. It returns
// [ErrStaleDelivery], changing nothing, when m is not the current delivery.
func (q *Queue) Nack(ctx context.Context, m *Message, cause error, retryAfter time.Duration) (deadLettered bool, err error) {
	text := "queue: nacked"
	if cause != nil {
		text = cause.Error()
	}
	perm := "0"
	if errors.Is(cause, ErrPermanent) {
		perm = "1"
	}
	var delayMs int64
	if retryAfter > 0 {
		delayMs = max(1, (retryAfter + time.Millisecond - 1).Milliseconds())
	}
	r, err := script.QueueNack.Run(ctx, q.rdb, q.k.nack, m.ID, m.Token, text, delayMs, perm).Int()
	if err != nil {
		return false, fmt.Errorf("queue: nack: %w", err)
	}
	switch r {
	case 0:
		return false, ErrStaleDelivery
	case 2:
		return true, nil
	}
	return false, nil
}

// releaseBatch returns deliveries that never reached a handler to the
// front of the ready list, in order, and takes back their delivery counts.
// It reports which were current.
func (q *Queue) releaseBatch(ctx context.Context, ms []*Message) ([]bool, error) {
	return q.perDelivery(ctx, "release", script.QueueRelease, q.k.release, nil, ms)
}

// Extend moves the visibility deadline of a running delivery to visibility
// from now. It returns [ErrStaleDelivery] when m is not the current
// delivery.
func (q *Queue) Extend(ctx context.Context, m *Message, visibility time.Duration) error {
	res, err := q.extendBatch(ctx, []*Message{m}, visibility)
	if err != nil {
		return err
	}
	if !res[0] {
		return ErrStaleDelivery
	}
	return nil
}

func (q *Queue) extendBatch(ctx context.Context, ms []*Message, visibility time.Duration) ([]bool, error) {
	return q.perDelivery(ctx, "extend", script.QueueExtend, q.k.extend, []any{visibility.Milliseconds()}, ms)
}

// storedValue is how a message is kept in the payload hash: its max
// deliveries, a colon, the payload. One field instead of two saves a
// Redis call on every enqueue, delivery and ack.
func storedValue(maxDeliveries int, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+8)
	b = strconv.AppendInt(b, int64(maxDeliveries), 10)
	b = append(b, ':')
	return append(b, payload...)
}

// splitStored undoes storedValue.
func splitStored(v string) (maxDeliveries int, payload []byte) {
	i := strings.IndexByte(v, ':')
	if i < 0 {
		return 0, []byte(v)
	}
	n, _ := strconv.Atoi(v[:i])
	return n, []byte(v[i+1:])
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
