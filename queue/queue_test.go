package queue_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
	"github.com/google/go-cmp/cmp"
)

func TestNew_Validates(t *testing.T) {
	tests := []struct {
		name string
		opt  *queue.Options
		qn   string
	}{
		{name: "empty name", qn: ""},
		{name: "tiny dedupe window", qn: "q", opt: &queue.Options{DedupeWindow: time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := redistest.Standalone.Client(t)
			if _, err := queue.New(rdb, tt.qn, tt.opt); !errors.Is(err, queue.ErrInvalidOptions) {
				t.Errorf("New(%q, %+v) = %v, want ErrInvalidOptions", tt.qn, tt.opt, err)
			}
		})
	}
	q := newQueue(t, redistest.Standalone.Client(t), nil)
	h := queue.HandlerFunc(func(context.Context, *queue.Message) error { return nil })
	if _, err := q.Consume(h, &queue.WorkerOptions{ReapInterval: -time.Second}); !errors.Is(err, queue.ErrInvalidOptions) ||
		!strings.Contains(err.Error(), "ReapInterval -1000000000") {
		t.Errorf("Consume with a negative ReapInterval = %v, want ErrInvalidOptions naming the field", err)
	}
	if _, err := queue.New(nil, "q", nil); err == nil {
		t.Error("New(nil client) = nil error, want one")
	}
}

func TestQueue_Fetch_DeliversInOrderAndAckDeletes(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		var want []string
		for i := range 5 {
			if _, err := q.Enqueue(ctx, fmt.Appendf(nil, "m%d", i)); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("m%d", i))
		}
		if got := counts(t, q); got.Ready != 5 {
			t.Errorf("Ready = %d, want 5", got.Ready)
		}
		msgs, err := q.Fetch(ctx, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, string(m.Payload))
			if m.Delivery != 1 || m.MaxDeliveries != 5 {
				t.Errorf("message %s: Delivery %d MaxDeliveries %d, want 1 and 5", m.ID, m.Delivery, m.MaxDeliveries)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("payloads (-want +got):\n%s", diff)
		}
		if c := counts(t, q); c != (queue.Counts{InFlight: 5}) {
			t.Errorf("counts after fetch = %+v, want 5 in flight", c)
		}
		for _, m := range msgs {
			if err := q.Ack(ctx, m); err != nil {
				t.Errorf("Ack(%s) = %v", m.ID, err)
			}
		}
		if c := counts(t, q); c != (queue.Counts{}) {
			t.Errorf("counts after ack = %+v, want all zero", c)
		}
		if err := q.Ack(ctx, msgs[0]); !errors.Is(err, queue.ErrStaleDelivery) {
			t.Errorf("second Ack = %v, want ErrStaleDelivery", err)
		}
	})
}

func TestQueue_Ack_StaleDeliveryRejected(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		id, err := q.Enqueue(ctx, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		first, err := q.Fetch(ctx, 1, 20*time.Millisecond)
		if err != nil || len(first) != 1 {
			t.Fatalf("Fetch = %v, %v", first, err)
		}
		// The deadline passes; a later fetch reclaims and redelivers it.
		var second []*queue.Message
		waitFor(t, "redelivery", func() bool {
			second, err = q.Fetch(ctx, 1, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return len(second) == 1
		})
		if second[0].ID != id || second[0].Delivery != 2 || second[0].Token == first[0].Token {
			t.Fatalf("redelivery = %+v, want id %s, delivery 2, new token", second[0], id)
		}
		if err := q.Ack(ctx, first[0]); !errors.Is(err, queue.ErrStaleDelivery) {
			t.Errorf("stale Ack = %v, want ErrStaleDelivery", err)
		}
		if _, err := q.Nack(ctx, first[0], errors.New("boom"), 0); !errors.Is(err, queue.ErrStaleDelivery) {
			t.Errorf("stale Nack = %v, want ErrStaleDelivery", err)
		}
		if err := q.Extend(ctx, first[0], time.Minute); !errors.Is(err, queue.ErrStaleDelivery) {
			t.Errorf("stale Extend = %v, want ErrStaleDelivery", err)
		}
		if c := counts(t, q); c.InFlight != 1 {
			t.Errorf("stale calls changed the queue: %+v", c)
		}
		if err := q.Ack(ctx, second[0]); err != nil {
			t.Errorf("current Ack = %v", err)
		}
	})
}

func TestQueue_Ack_EqualPayloadsIndependent(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		a, err := q.Enqueue(ctx, []byte("same"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.Enqueue(ctx, []byte("same"))
		if err != nil {
			t.Fatal(err)
		}
		if a == b {
			t.Fatalf("equal payloads got the same id %s", a)
		}
		msgs, err := q.Fetch(ctx, 2, time.Minute)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("Fetch = %d messages, %v", len(msgs), err)
		}
		if err := q.Ack(ctx, msgs[0]); err != nil {
			t.Fatal(err)
		}
		if c := counts(t, q); c.InFlight != 1 {
			t.Errorf("after acking one of two equal payloads: %+v, want 1 in flight", c)
		}
		// Nack the other: it must come back, not be swallowed by the first ack.
		if _, err := q.Nack(ctx, msgs[1], errors.New("retry"), 0); err != nil {
			t.Fatal(err)
		}
		again, err := q.Fetch(ctx, 2, time.Minute)
		if err != nil || len(again) != 1 || again[0].ID != msgs[1].ID || again[0].LastError != "retry" {
			t.Fatalf("refetch = %+v, %v; want %s with last error", again, err, msgs[1].ID)
		}
	})
}

func TestQueue_Enqueue_Duplicates(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		id, err := q.Enqueue(ctx, []byte("a"), queue.WithID("order-1"))
		if err != nil || id != "order-1" {
			t.Fatalf("Enqueue WithID = %q, %v", id, err)
		}
		if _, err := q.Enqueue(ctx, []byte("b"), queue.WithID("order-1")); !errors.Is(err, queue.ErrDuplicate) {
			t.Errorf("second WithID enqueue = %v, want ErrDuplicate", err)
		}
		d1, err := q.Enqueue(ctx, []byte("c"), queue.WithDedupeID("mail-7"))
		if err != nil {
			t.Fatal(err)
		}
		d2, err := q.Enqueue(ctx, []byte("d"), queue.WithDedupeID("mail-7"))
		if !errors.Is(err, queue.ErrDuplicate) || d2 != d1 {
			t.Errorf("second dedupe enqueue = %q, %v; want %q, ErrDuplicate", d2, err, d1)
		}
		if c := counts(t, q); c.Ready != 2 {
			t.Errorf("Ready = %d, want 2", c.Ready)
		}
		// Once acked, the caller-chosen id is free again; the dedupe id is not.
		msgs, err := q.Fetch(ctx, 2, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := q.Ack(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := q.Enqueue(ctx, []byte("e"), queue.WithID("order-1")); err != nil {
			t.Errorf("WithID after ack = %v, want nil", err)
		}
		if _, err := q.Enqueue(ctx, []byte("f"), queue.WithDedupeID("mail-7")); !errors.Is(err, queue.ErrDuplicate) {
			t.Errorf("dedupe after ack = %v, want ErrDuplicate", err)
		}
	})
}

func TestQueue_Enqueue_DedupeWindowExpires(t *testing.T) {
	ctx := t.Context()
	q := newQueue(t, redistest.Standalone.Client(t), &queue.Options{DedupeWindow: 30 * time.Millisecond})
	if _, err := q.Enqueue(ctx, nil, queue.WithDedupeID("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dedupe window to pass", func() bool {
		_, err := q.Enqueue(ctx, nil, queue.WithDedupeID("x"))
		if err != nil && !errors.Is(err, queue.ErrDuplicate) {
			t.Fatal(err)
		}
		return err == nil
	})
	if c := counts(t, q); c.Ready != 2 {
		t.Errorf("Ready = %d, want 2", c.Ready)
	}
}

func TestQueue_EnqueueMany_ResultsPerMessage(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		items := make([]queue.Item, 2500)
		for i := range items {
			items[i].Payload = fmt.Appendf(nil, "%d", i)
		}
		items[3].Options = []queue.EnqueueOption{queue.WithDelay(time.Hour)}
		items[4].Options = []queue.EnqueueOption{queue.WithID("fixed")}
		items[5].Options = []queue.EnqueueOption{queue.WithID("fixed")}
		res, err := q.EnqueueMany(ctx, items)
		if err != nil {
			t.Fatalf("EnqueueMany: %v", err)
		}
		if len(res) != len(items) || res[4].ID != "fixed" || res[5].ID != "fixed" {
			t.Fatalf("results: %d, [4]=%+v [5]=%+v", len(res), res[4], res[5])
		}
		for i, r := range res {
			want := error(nil)
			if i == 5 {
				want = queue.ErrDuplicate
			}
			if !errors.Is(r.Err, want) || (want == nil && r.Err != nil) || r.ID == "" {
				t.Errorf("result %d = %+v, want err %v", i, r, want)
			}
		}
		if c := counts(t, q); c != (queue.Counts{Ready: 2498, Delayed: 1}) {
			t.Errorf("counts = %+v, want 2498 ready, 1 delayed", c)
		}
		if res, err := q.EnqueueMany(ctx, []queue.Item{{}, {Options: []queue.EnqueueOption{queue.WithDelay(-1)}}}); err == nil || res != nil {
			t.Errorf("negative delay accepted: %v, %v", res, err)
		}
		if c := counts(t, q); c != (queue.Counts{Ready: 2498, Delayed: 1}) {
			t.Errorf("a rejected batch stored messages: counts = %+v", c)
		}
	})
}

func TestQueue_Purge_DeletesEverything(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		for _, o := range []queue.EnqueueOption{queue.WithDelay(time.Hour), queue.WithID("a"), queue.WithID("b")} {
			if _, err := q.Enqueue(ctx, []byte("p"), o); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err := q.Fetch(ctx, 1, time.Minute)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("Fetch = %v, %v", msgs, err)
		}
		if err := q.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if c := counts(t, q); c != (queue.Counts{}) {
			t.Errorf("counts after purge = %+v", c)
		}
		if err := q.Ack(ctx, msgs[0]); !errors.Is(err, queue.ErrStaleDelivery) {
			t.Errorf("Ack after purge = %v, want ErrStaleDelivery", err)
		}
	})
}

// Delays too large for a millisecond count in nanoseconds (MaxInt64, a
// time in year 9999) are not an overflow that delivers at once.
func TestQueue_Enqueue_HugeDelayNotImmediate(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		for _, o := range []queue.EnqueueOption{
			queue.WithDelay(math.MaxInt64),
			queue.WithAt(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)),
		} {
			if _, err := q.Enqueue(ctx, []byte("far"), o); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err := q.Fetch(ctx, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 0 {
			t.Fatalf("fetched %d messages with a delay of centuries", len(msgs))
		}
		if c, err := q.Counts(ctx); err != nil || c.Delayed != 2 || c.Ready != 0 {
			t.Fatalf("counts %+v, %v; want 2 delayed", c, err)
		}
	})
}

func TestQueue_Fetch_DelayedNotEarly(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), nil)
		start := time.Now()
		if _, err := q.Enqueue(ctx, []byte("later"), queue.WithDelay(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Enqueue(ctx, []byte("at"), queue.WithAt(start.Add(200*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
		seen := map[string]time.Duration{}
		waitFor(t, "both delayed messages", func() bool {
			msgs, err := q.Fetch(ctx, 2, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				seen[string(m.Payload)] = time.Since(start)
			}
			return len(seen) == 2
		})
		if seen["later"] < 300*time.Millisecond || seen["at"] < 200*time.Millisecond {
			t.Errorf("delivered early: %v", seen)
		}
	})
}

func TestQueue_Fetch_CrashCountsOnlyAsItsDelivery(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		q := newQueue(t, tp.Client(t), &queue.Options{MaxDeliveries: 2})
		if _, err := q.Enqueue(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
		// Delivery 1 "crashes": never acked, its deadline passes.
		if msgs, err := q.Fetch(ctx, 1, 10*time.Millisecond); err != nil || len(msgs) != 1 {
			t.Fatalf("Fetch = %v, %v", msgs, err)
		}
		var m *queue.Message
		waitFor(t, "redelivery", func() bool {
			msgs, err := q.Fetch(ctx, 1, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 1 {
				m = msgs[0]
			}
			return m != nil
		})
		if m.Delivery != 2 || m.LastError != "" {
			t.Errorf("redelivery = %+v, want delivery 2 with no error recorded", m)
		}
		// Delivery 2, the last allowed, also crashes: dead letter.
		waitFor(t, "dead letter", func() bool {
			if _, err := q.Fetch(ctx, 1, time.Minute); err != nil {
				t.Fatal(err)
			}
			return counts(t, q).Dead == 1
		})
		dead, err := q.PeekDead(ctx, 1)
		if err != nil || len(dead) != 1 || dead[0].Deliveries != 2 || dead[0].LastError == "" {
			t.Errorf("PeekDead = %+v, %v; want 2 deliveries and a reason", dead, err)
		}
	})
}
