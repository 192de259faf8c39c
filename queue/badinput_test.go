package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"github.com/redis/go-redis/v9"
)

// Bad input at construction is an error wrapping ErrInvalidOptions, never
// a panic at first use.
func TestQueue_BadInputAtConstruction(t *testing.T) {
	var typedNil *redis.Client
	if _, err := queue.New(typedNil, "q", nil); !errors.Is(err, queue.ErrInvalidOptions) {
		t.Errorf("New with a typed-nil client: %v, want ErrInvalidOptions", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Standalone.Client(t).(*redis.Client).Options().Addr, ReadTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	q := newQueue(t, rdb, nil)
	if _, err := q.Consume(nil, nil); !errors.Is(err, queue.ErrInvalidOptions) {
		t.Errorf("Consume(nil): %v, want ErrInvalidOptions", err)
	}
	var hf queue.HandlerFunc
	if _, err := q.Consume(hf, nil); !errors.Is(err, queue.ErrInvalidOptions) {
		t.Errorf("Consume(nil HandlerFunc): %v, want ErrInvalidOptions", err)
	}
	ok := queue.HandlerFunc(func(_ context.Context, _ *queue.Message) error { return nil })
	if _, err := q.Consume(ok, &queue.WorkerOptions{BlockTimeout: 2 * time.Second}); !errors.Is(err, queue.ErrInvalidOptions) {
		t.Errorf("BlockTimeout 2s with a 1s ReadTimeout: %v, want ErrInvalidOptions", err)
	}
}
