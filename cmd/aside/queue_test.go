package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
)

// A message dead-lettered by its handler is seen with the CLI, requeued
// with it, and processed.
func TestQueue_requeueDeadLetterWithCLI(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		url := urlOf(t, rdb)
		prefix := redistest.Prefix(t)
		q, err := queue.New(rdb, "invoices", &queue.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		var processed atomic.Int32
		w, err := q.Consume(queue.HandlerFunc(func(ctx context.Context, m *queue.Message) error {
			if m.LastError == "" {
				return queue.Permanent(errors.New("customer 7 unknown"))
			}
			processed.Add(1) // the fix is deployed
			return nil
		}), &queue.WorkerOptions{Concurrency: 1, VisibilityTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close() })
		id, err := q.Enqueue(ctx, []byte(`{"customer":7}`))
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the dead letter", func() bool { c, _ := q.Counts(ctx); return c.Dead == 1 })

		out, errOut, code := cli(t, url, "", "queue", "peek", "invoices", "--dead", "--prefix", prefix)
		if code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "customer 7 unknown") || !strings.Contains(out, `{"customer":7}`) {
			t.Fatalf("peek --dead: code %d\n%s%s", code, out, errOut)
		}
		// Not confirmed: nothing moves.
		if _, errOut, code := cli(t, url, "n\n", "queue", "requeue", "invoices", "--dead", "--all", "--prefix", prefix); code != exitNotApproved || !strings.Contains(errOut, "nothing changed") {
			t.Fatalf("requeue without confirmation: code %d, %s", code, errOut)
		}
		if c, _ := q.Counts(ctx); c.Dead != 1 {
			t.Fatalf("declined requeue changed the counts: %+v", c)
		}
		out, errOut, code = cli(t, url, "y\n", "queue", "requeue", "invoices", "--dead", "--all", "--prefix", prefix)
		if code != exitOK || strings.TrimSpace(out) != "requeued 1" {
			t.Fatalf("requeue: code %d, %q %s", code, out, errOut)
		}
		eventually(t, "the requeued message processed", func() bool { return processed.Load() == 1 })

		out, _, code = cli(t, url, "", "queue", "stats", "invoices", "--prefix", prefix, "--json")
		var st struct{ Ready, InFlight, Delayed, Dead int64 }
		if err := json.Unmarshal([]byte(out), &st); code != exitOK || err != nil {
			t.Fatalf("stats --json: code %d, %v: %s", code, err, out)
		}
		if st.Dead != 0 || st.Ready != 0 {
			t.Errorf("after processing: %+v", st)
		}
		// One message by ID; unknown IDs are "not found".
		if _, _, code := cli(t, url, "", "queue", "requeue", "invoices", "--dead", "--id", "nope", "--prefix", prefix); code != exitNotFound {
			t.Errorf("requeue of an unknown id: code %d, want %d", code, exitNotFound)
		}
	})
}

// The repair commands act on exactly what they name.
func TestQueue_deleteAndPurge(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	ctx := t.Context()
	url := urlOf(t, rdb)
	prefix := redistest.Prefix(t)
	q, _ := queue.New(rdb, "jobs", &queue.Options{Prefix: prefix, MaxDeliveries: 1})
	keep, _ := q.Enqueue(ctx, []byte("keep"))
	gone, _ := q.Enqueue(ctx, []byte("gone"), queue.WithDelay(time.Hour))
	if _, _, code := cli(t, url, "", "queue", "delete", "jobs", "--id", gone, "--prefix", prefix); code != exitNotApproved {
		t.Errorf("delete without --yes and no answer: code %d, want %d", code, exitNotApproved)
	}
	if out, _, code := cli(t, url, "", "--yes", "queue", "delete", "jobs", "--id", gone, "--prefix", prefix); code != exitOK || !strings.Contains(out, "deleted "+gone) {
		t.Errorf("delete: code %d %q", code, out)
	}
	ms, _ := q.Fetch(ctx, 1, time.Minute)
	_, _ = q.Nack(ctx, ms[0], errors.New("boom"), 0) // max 1 delivery: dead
	if out, _, code := cli(t, url, "", "-y", "queue", "purge", "jobs", "--dead", "--prefix", prefix); code != exitOK || strings.TrimSpace(out) != "purged 1" {
		t.Errorf("purge: code %d %q", code, out)
	}
	if c, _ := q.Counts(ctx); c != (queue.Counts{}) {
		t.Errorf("after delete and purge: %+v", c)
	}
	_ = keep
	if _, errOut, code := cli(t, url, "", "queue", "purge", "jobs", "--prefix", prefix); code != exitUsage || !strings.Contains(errOut, "--dead") {
		t.Errorf("purge without --dead: code %d %s", code, errOut)
	}
}
