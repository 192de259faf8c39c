package queue_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
)

// Every state can be read without changing it, and the repair operations
// act on exactly the message named.
func TestQueue_Peek_Delete_RequeueDeadID_PurgeDead(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), &queue.Options{MaxDeliveries: 3})
		before := time.Now().Add(-time.Second)
		ready1, err := q.Enqueue(ctx, []byte("r1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Enqueue(ctx, []byte("r2"), queue.WithID("given-id")); err != nil {
			t.Fatal(err)
		}
		delayed, err := q.Enqueue(ctx, []byte("later"), queue.WithDelay(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// r1 goes in flight, then (failing permanently) dead; r2 stays in
		// flight.
		msgs, err := q.Fetch(ctx, 2, time.Minute)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("Fetch = %d messages, %v", len(msgs), err)
		}
		if _, err := q.Nack(ctx, msgs[0], queue.Permanent(errors.New("bad input")), 0); err != nil {
			t.Fatal(err)
		}
		after := time.Now().Add(time.Second)

		dead, err := q.Peek(ctx, queue.Dead, 10)
		if err != nil || len(dead) != 1 {
			t.Fatalf("Peek(Dead) = %+v, %v", dead, err)
		}
		if d := dead[0]; d.ID != ready1 || string(d.Payload) != "r1" || d.Deliveries != 1 || d.MaxDeliveries != 3 ||
			d.LastError != "bad input" || d.State != queue.Dead || d.Enqueued.Before(before) || d.Enqueued.After(after) {
			t.Errorf("dead letter %+v", d)
		}
		inflight, err := q.Peek(ctx, queue.InFlight, 10)
		if err != nil || len(inflight) != 1 || inflight[0].ID != "given-id" || !inflight[0].Enqueued.IsZero() {
			t.Fatalf("Peek(InFlight) = %+v, %v", inflight, err)
		}
		if due := time.Until(inflight[0].Due); due < 50*time.Second || due > 70*time.Second {
			t.Errorf("in-flight deadline in %v, want about 1 minute", due)
		}
		later, err := q.Peek(ctx, queue.Delayed, 10)
		if err != nil || len(later) != 1 || later[0].ID != delayed {
			t.Fatalf("Peek(Delayed) = %+v, %v", later, err)
		}
		if due := time.Until(later[0].Due); due < 59*time.Minute || due > 61*time.Minute {
			t.Errorf("delayed due in %v, want about 1 hour", due)
		}
		if c, _ := q.Counts(ctx); c != (queue.Counts{InFlight: 1, Delayed: 1, Dead: 1}) {
			t.Errorf("Peek changed the counts: %+v", c)
		}

		// Requeue the dead letter by ID: ready, count reset.
		if ok, err := q.RequeueDeadID(ctx, "no-such-id"); ok || err != nil {
			t.Errorf("RequeueDeadID(unknown) = %v, %v", ok, err)
		}
		if ok, err := q.RequeueDeadID(ctx, ready1); !ok || err != nil {
			t.Errorf("RequeueDeadID = %v, %v", ok, err)
		}
		rd, _ := q.Peek(ctx, queue.Ready, 10)
		if len(rd) != 1 || rd[0].ID != ready1 || rd[0].Deliveries != 0 || rd[0].LastError != "bad input" {
			t.Errorf("after requeue, ready = %+v", rd)
		}

		// Delete the message in flight: its delivery's ack is stale.
		if ok, err := q.Delete(ctx, "given-id"); !ok || err != nil {
			t.Errorf("Delete = %v, %v", ok, err)
		}
		if err := q.Ack(ctx, msgs[1]); !errors.Is(err, queue.ErrStaleDelivery) {
			t.Errorf("Ack after Delete = %v, want ErrStaleDelivery", err)
		}
		if ok, _ := q.Delete(ctx, "given-id"); ok {
			t.Error("Delete of a deleted message reported it existed")
		}

		// Dead letters only are purged.
		if ok, _ := q.Delete(ctx, ready1); !ok {
			t.Fatal("Delete of a ready message reported it absent")
		}
		for range 3 {
			if _, err := q.Enqueue(ctx, []byte("x"), queue.WithMaxDeliveries(1)); err != nil {
				t.Fatal(err)
			}
			ms, err := q.Fetch(ctx, 1, time.Minute)
			if err != nil || len(ms) != 1 {
				t.Fatalf("Fetch = %v, %v", ms, err)
			}
			if dl, err := q.Nack(ctx, ms[0], errors.New("boom"), 0); !dl || err != nil {
				t.Fatalf("Nack = %v, %v; want dead-lettered", dl, err)
			}
		}
		if _, err := q.Enqueue(ctx, []byte("stays")); err != nil {
			t.Fatal(err)
		}
		n, err := q.PurgeDead(ctx)
		if err != nil || n != 3 {
			t.Errorf("PurgeDead = %d, %v; want 3", n, err)
		}
		if c, _ := q.Counts(ctx); c != (queue.Counts{Ready: 1, Delayed: 1}) {
			t.Errorf("after PurgeDead counts = %+v, want 1 ready, 1 delayed", c)
		}
		if _, err := q.Peek(ctx, queue.State(9), 1); err == nil {
			t.Error("Peek(unknown state) = nil error")
		}
	})
}

// List finds the queues under a prefix on every master, and only those.
func TestList(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		prefix := redistest.Prefix(t)
		for _, name := range []string{"emails", "reports", "a*b"} {
			q, err := queue.New(rdb, name, &queue.Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		other, _ := queue.New(rdb, "elsewhere", &queue.Options{Prefix: prefix + "-other"})
		_, _ = other.Enqueue(ctx, []byte("x"))
		got, err := queue.List(ctx, rdb, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a*b", "emails", "reports"}; !slices.Equal(got, want) {
			t.Errorf("List = %q, want %q", got, want)
		}
		if _, err := queue.List(ctx, rdb, "bad{prefix"); !errors.Is(err, queue.ErrInvalidOptions) {
			t.Errorf("List(bad prefix) = %v, want ErrInvalidOptions", err)
		}
	})
}
