package queue_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/queue"
)

// WaitReplicas: an enqueue returns once the replicas have the message, and
// says so when they do not (the message is on the master, with its ID).
func TestQueue_Enqueue_WaitReplicas(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.ClusterConfig{ReplicasPerMaster: 1})
	ctx := t.Context()
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	rdb := c.Client(t)
	q := newQueue(t, rdb, &queue.Options{WaitReplicas: 1})
	if _, err := q.Enqueue(ctx, []byte("safe")); err != nil {
		t.Fatalf("Enqueue waiting for the one replica: %v", err)
	}
	if _, err := q.EnqueueMany(ctx, []queue.Item{{Payload: []byte("a")}, {Payload: []byte("b")}}); err != nil {
		t.Fatalf("EnqueueMany waiting for the one replica: %v", err)
	}
	greedy := newQueue(t, rdb, &queue.Options{WaitReplicas: 2, WaitTimeout: 200 * time.Millisecond})
	id, err := greedy.Enqueue(ctx, []byte("unsure"))
	if !errors.Is(err, queue.ErrNotReplicated) || id == "" {
		t.Fatalf("Enqueue wanting 2 replicas of 1: %q, %v; want the ID and ErrNotReplicated", id, err)
	}
	if n, err := greedy.Counts(ctx); err != nil || n.Ready != 1 {
		t.Fatalf("counts %+v, %v; want the message stored on the master", n, err)
	}
}

func TestQueue_Enqueue_WaitReplicasWithoutReplica(t *testing.T) {
	t.Parallel()
	q := newQueue(t, redistest.Standalone.Client(t), &queue.Options{WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond})
	if _, err := q.Enqueue(t.Context(), []byte("x")); !errors.Is(err, queue.ErrNotReplicated) {
		t.Fatalf("Enqueue on a server without replicas: %v, want ErrNotReplicated", err)
	}
}
