package lock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
)

// WaitReplicas: a lock is obtained only once the replicas have the hold;
// an obtain they do not acknowledge is given back and reported as
// ErrUnavailable, never left held on the master alone.
func TestClient_Obtain_WaitReplicas(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.ClusterConfig{ReplicasPerMaster: 1})
	ctx := t.Context()
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	rdb := c.Client(t)
	prefix := redistest.Prefix(t)
	safe, err := lock.New(rdb, &lock.Options{Prefix: prefix, WaitReplicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer safe.Close()
	l, err := safe.TryObtain(ctx, "k", 10*time.Second)
	if err != nil {
		t.Fatalf("TryObtain waiting for the one replica: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	greedy, err := lock.New(rdb, &lock.Options{Prefix: prefix, WaitReplicas: 2, WaitTimeout: 100 * time.Millisecond, OpTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer greedy.Close()
	if _, err := greedy.TryObtain(ctx, "k", 10*time.Second); !errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("TryObtain wanting 2 replicas of 1: %v, want ErrUnavailable", err)
	}
	if _, err := greedy.Obtain(ctx, "k", 10*time.Second); !errors.Is(err, lock.ErrUnavailable) {
		t.Fatalf("Obtain wanting 2 replicas of 1: %v, want ErrUnavailable", err)
	}
	// Nothing was left held: another client takes it at once.
	other := newClient(t, rdb, prefix)
	l, err = other.TryObtain(ctx, "k", time.Second)
	if err != nil {
		t.Fatalf("after unreplicated obtains: %v, want the lock free", err)
	}
	l.Release(ctx)
}
