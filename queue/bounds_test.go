package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"github.com/redis/go-redis/v9"
)

func TestQueue_Enqueue_MaxPayloadSize(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		big := make([]byte, 1<<20+1)
		if _, err := q.Enqueue(ctx, big); !errors.Is(err, queue.ErrTooLarge) {
			t.Fatalf("Enqueue of 1 MiB + 1: %v, want ErrTooLarge", err)
		}
		if _, err := q.EnqueueMany(ctx, []queue.Item{{Payload: []byte("small")}, {Payload: big}}); !errors.Is(err, queue.ErrTooLarge) {
			t.Fatalf("EnqueueMany with one too large: %v, want ErrTooLarge", err)
		}
		if c, err := q.Counts(ctx); err != nil || c != (queue.Counts{}) {
			t.Fatalf("counts %+v, %v; want nothing stored", c, err)
		}
		if _, err := q.Enqueue(ctx, big[:1<<20]); err != nil {
			t.Fatalf("Enqueue of exactly 1 MiB: %v", err)
		}
		unbounded := newQueue(t, tp.Client(t), &queue.Options{MaxPayloadSize: -1})
		if _, err := unbounded.Enqueue(ctx, make([]byte, 2<<20)); err != nil {
			t.Fatalf("MaxPayloadSize -1: %v", err)
		}
	})
}

// A fetch is bounded by payload bytes as well as by count, always
// delivers its first message, and leaves the rest in order.
func TestQueue_Fetch_BoundedByBytes(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), &queue.Options{MaxFetchBytes: 1000})
		for i := range 5 {
			p := append([]byte(fmt.Sprintf("%d:", i)), bytes.Repeat([]byte("x"), 400)...)
			if _, err := q.Enqueue(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		big := bytes.Repeat([]byte("y"), 5000)
		if _, err := q.Enqueue(ctx, big); err != nil {
			t.Fatal(err)
		}
		var sizes []int
		var order []string
		for range 10 {
			msgs, err := q.Fetch(ctx, 10, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 0 {
				break
			}
			sizes = append(sizes, len(msgs))
			for _, m := range msgs {
				order = append(order, strings.SplitN(string(m.Payload), ":", 2)[0][:1])
			}
		}
		if fmt.Sprint(sizes) != "[2 2 1 1]" {
			t.Errorf("messages per fetch = %v, want [2 2 1 1] (1000 bytes each, the 5000-byte one alone)", sizes)
		}
		if got := strings.Join(order, ""); got != "01234y" {
			t.Errorf("order %q, want 01234y", got)
		}
	})
}

// Corrupt bookkeeping in Redis (a bad token counter, delivery count or
// max-deliveries field) loses no message: the counter is repaired, a
// message whose record cannot be read goes to the dead letters with the
// reason, and the others are delivered.
func TestQueue_Fetch_CorruptBookkeepingLosesNothing(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		q := newQueue(t, rdb, &queue.Options{Prefix: prefix})
		base := "{" + prefix + "|jobs}"
		ids := make([]string, 50)
		for i := range ids {
			id, err := q.Enqueue(ctx, []byte(fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(rdb.Set(ctx, base+":seq", "not a number", 0).Err())
		must(rdb.HSet(ctx, base+":count", ids[3], "x").Err())
		must(rdb.HSet(ctx, base+":payload", ids[7], "garbage without a max").Err())
		var got []*queue.Message
		for range 5 {
			msgs, err := q.Fetch(ctx, 50, time.Minute)
			if err != nil {
				t.Fatalf("Fetch with corrupt bookkeeping: %v", err)
			}
			got = append(got, msgs...)
			if len(msgs) == 0 {
				break
			}
		}
		if len(got) != 48 {
			t.Fatalf("delivered %d messages, want 48", len(got))
		}
		tokens := map[string]bool{}
		for _, m := range got {
			if tokens[m.Token] {
				t.Fatalf("token %q handed out twice", m.Token)
			}
			tokens[m.Token] = true
			if err := q.Ack(ctx, m); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		dead, err := q.PeekDead(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 2 {
			t.Fatalf("dead letters %+v, want the 2 corrupt ones", dead)
		}
		for _, d := range dead {
			if (d.ID != ids[3] && d.ID != ids[7]) || !strings.Contains(d.LastError, "corrupt") {
				t.Errorf("dead letter %+v, want message 3 or 7 with the reason", d)
			}
		}
	})
}

// Enqueue without a caller deadline is bounded by OpTimeout: a Redis that
// stopped answering costs that long, not forever.
func TestQueue_Enqueue_OpTimeoutBoundsAStalledRedis(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	// No read timeout of the client's own: only OpTimeout can end the wait.
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true, ReadTimeout: -1})
	t.Cleanup(func() { rdb.Close() })
	q := newQueue(t, rdb, &queue.Options{OpTimeout: 200 * time.Millisecond})
	if _, err := q.Enqueue(t.Context(), []byte("warm")); err != nil { // dial first
		t.Fatal(err)
	}
	s.Pause()
	defer s.Resume()
	done := make(chan error, 1)
	go func() {
		_, err := q.Enqueue(context.Background(), []byte("x"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Enqueue to a stalled Redis succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Enqueue without a deadline hung on a stalled Redis")
	}
}
