package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/aside-go/aside/internal/script"
)

// Counts is how many messages a queue holds in each state.
type Counts struct {
	Ready    int64 // waiting for a consumer
	InFlight int64 // delivered, not yet acked or nacked (includes expired deliveries not yet reclaimed)
	Delayed  int64 // waiting for their due time or a retry backoff
	Dead     int64 // in the dead-letter list
}

// Counts returns the queue's counts, read at one instant.
func (q *Queue) Counts(ctx context.Context) (Counts, error) {
	res, err := script.QueueCounts.Run(ctx, q.rdb, q.k.counts).Int64Slice()
	if err != nil {
		return Counts{}, fmt.Errorf("queue: counts: %w", err)
	}
	if len(res) != 4 {
		return Counts{}, fmt.Errorf("queue: counts: short reply %v", res)
	}
	return Counts{Ready: res[0], InFlight: res[1], Delayed: res[2], Dead: res[3]}, nil
}

// DeadLetter is a message in the dead-letter list.
type DeadLetter struct {
	ID         string
	Payload    []byte
	Deliveries int    // how many times it was delivered
	LastError  string // why its last delivery failed
}

// PeekDead returns up to n dead letters, oldest first, without moving them.
func (q *Queue) PeekDead(ctx context.Context, n int) ([]DeadLetter, error) {
	if n <= 0 {
		return nil, errors.New("queue: PeekDead needs n > 0")
	}
	res, err := script.QueuePeekDead.Run(ctx, q.rdb, q.k.peek, n).Slice()
	if err != nil {
		return nil, fmt.Errorf("queue: peek dead: %w", err)
	}
	out := make([]DeadLetter, 0, len(res)/4)
	for i := 0; i+3 < len(res); i += 4 {
		_, payload := splitStored(str(res[i+1]))
		out = append(out, DeadLetter{
			ID:         str(res[i]),
			Payload:    payload,
			Deliveries: int(toInt(res[i+2])),
			LastError:  str(res[i+3]),
		})
	}
	return out, nil
}

// requeueChunk is how many dead letters one script call moves.
const requeueChunk = 1000

// RequeueDead moves up to n of the oldest dead letters (all of them if n
// <= 0) back to the ready list with their delivery count reset, and returns
// how many it moved. Their last error stays visible to the next handler in
// [Message.LastError].
func (q *Queue) RequeueDead(ctx context.Context, n int) (int, error) {
	total := 0
	for n <= 0 || total < n {
		want := requeueChunk
		if n > 0 {
			want = min(want, n-total)
		}
		got, err := script.QueueRequeueDead.Run(ctx, q.rdb, q.k.requeue, want).Int()
		if err != nil {
			return total, fmt.Errorf("queue: requeue dead: %w", err)
		}
		total += got
		if got < want {
			// Fewer than asked: the list is empty (or held purged ids).
			if l, err := q.rdb.LLen(ctx, q.k.dead).Result(); err != nil || l == 0 {
				break
			}
		}
	}
	return total, nil
}

// Purge deletes every message of the queue in every state, and its dedupe
// records. Deliveries running at the time become stale: their acks are
// rejected.
func (q *Queue) Purge(ctx context.Context) error {
	if err := q.rdb.Del(ctx, q.k.all...).Err(); err != nil {
		return fmt.Errorf("queue: purge: %w", err)
	}
	return nil
}
