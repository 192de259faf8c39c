package pubsub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/pubsub"
	"github.com/redis/go-redis/v9"
)

// TestSubscription_sharded_survivesFailover subscribes (SSUBSCRIBE) to a
// topic whose slot belongs to master 0, fails master 0 over to its replica
// and checks that the moved subscription is reported as a gap and resumes.
func TestSubscription_sharded_survivesFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.ClusterConfig{ReplicasPerMaster: 1})
	prefix := redistest.Prefix(t)
	topic := topicInRange(prefix, 0, 16384/3-1)     // master 0's slots
	other := topicInRange(prefix, 16384*2/3, 16383) // master 2's, untouched
	gaps := newGapRecorder()
	sub := newPubSub(t, c.Client(t), &pubsub.Options{HealthCheck: 200 * time.Millisecond, OnGap: gaps.onGap})
	if !sub.Sharded() {
		t.Fatal("not sharded on a ClusterClient")
	}
	pub := newPubSub(t, c.Client(t), nil)
	msgs := newCollector()
	if _, err := sub.Subscribe(t.Context(), []string{topic, other}, msgs); err != nil {
		t.Fatal(err)
	}
	roundTrip := func(topic, v string) {
		t.Helper()
		if err := pub.Publish(t.Context(), topic, v); err != nil {
			t.Fatal(err)
		}
		m := msgs.next(t)
		var got string
		if err := m.Decode(&got); err != nil || got != v || m.Topic != topic {
			t.Fatalf("next message %q on %q (%v), want %q on %q", got, m.Topic, err, v, topic)
		}
	}
	roundTrip(topic, "before")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	faultAt := time.Now()
	if err := c.Failover(ctx, 0); err != nil {
		t.Fatal(err)
	}
	gap := gaps.next(t)
	if len(gap.Topics) != 1 || gap.Topics[0] != topic {
		t.Errorf("gap topics = %q, want only the moved slot's [%q]", gap.Topics, topic)
	}
	if gap.Reason != pubsub.GapUnsubscribed && gap.Reason != pubsub.GapReconnect {
		t.Errorf("gap reason = %v", gap.Reason)
	}
	// Since is an estimate on a slot move (the old owner learns of the
	// failover after the new one accepts publishes); Until must follow it.
	if gap.Until.Before(faultAt) || gap.Until.Before(gap.Since) {
		t.Errorf("gap [%v, %v] does not end after the failover at %v", gap.Since, gap.Until, faultAt)
	}
	t.Logf("gap after failover: %v, %v, err %v", gap.Reason, gap.Until.Sub(gap.Since), gap.Err)
	roundTrip(topic, "after")
	roundTrip(other, "other")
	select {
	case g := <-gaps.ch:
		t.Errorf("unexpected second gap %+v", g)
	default:
	}

}

// TestSubscription_sharded_resubscribesAfterSlotMigration moves the
// topic's slot from master 0 to master 1 with CLUSTER SETSLOT, as
// resharding does, and checks that the subscription follows it.
func TestSubscription_sharded_resubscribesAfterSlotMigration(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.ClusterConfig{})
	topic := topicInRange(redistest.Prefix(t), 0, 16384/3-1)
	slot := keys.Slot(topic)
	gaps := newGapRecorder()
	sub := newPubSub(t, c.Client(t), &pubsub.Options{OnGap: gaps.onGap})
	pub := newPubSub(t, c.Client(t), nil)
	msgs := newCollector()
	if _, err := sub.Subscribe(t.Context(), []string{topic}, msgs); err != nil {
		t.Fatal(err)
	}
	roundTrip := func(v string) {
		t.Helper()
		if err := pub.Publish(t.Context(), topic, v); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := msgs.next(t).Decode(&got); err != nil || got != v {
			t.Fatalf("next message %q (%v), want %q", got, err, v)
		}
	}
	roundTrip("before")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	from, to := c.Masters[0].Client(t), c.Masters[1].Client(t)
	toID, err := to.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	fromID, err := from.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		node redis.UniversalClient
		args []any
	}{
		{to, []any{"CLUSTER", "SETSLOT", slot, "IMPORTING", fromID}},
		{from, []any{"CLUSTER", "SETSLOT", slot, "MIGRATING", toID}},
		// The slot holds no keys, so there is nothing to MIGRATE.
		{to, []any{"CLUSTER", "SETSLOT", slot, "NODE", toID}},
		{from, []any{"CLUSTER", "SETSLOT", slot, "NODE", toID}},
	} {
		if err := step.node.Do(ctx, step.args...).Err(); err != nil {
			t.Fatalf("%v: %v", step.args, err)
		}
	}
	gap := gaps.next(t)
	if gap.Reason != pubsub.GapUnsubscribed {
		t.Errorf("gap reason = %v, want unsubscribed", gap.Reason)
	}
	if err := c.WaitStable(ctx); err != nil {
		t.Fatal(err)
	}
	roundTrip("after")
	owner, err := to.Do(ctx, "PUBSUB", "SHARDNUMSUB", topic).Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(owner) != 2 || owner[1] != int64(1) {
		t.Errorf("PUBSUB SHARDNUMSUB on the new owner = %v, want 1 subscriber", owner)
	}
}

// TestSubscription_sharded_followsAutomaticFailover kills (-9) the master
// owning the topic's slot: the subscriber's connection breaks, its
// replica is elected after the node timeout, and the subscription must
// report the gap and resume there.
func TestSubscription_sharded_followsAutomaticFailover(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.ClusterConfig{ReplicasPerMaster: 1})
	topic := topicInRange(redistest.Prefix(t), 0, 16384/3-1) // master 0's slots
	gaps := newGapRecorder()
	disc := make(chan pubsub.Disconnect, 10)
	sub := newPubSub(t, c.Client(t), &pubsub.Options{
		HealthCheck:  200 * time.Millisecond,
		OnGap:        gaps.onGap,
		OnDisconnect: func(d pubsub.Disconnect) { disc <- d },
	})
	pub := newPubSub(t, c.Client(t), nil)
	msgs := newCollector()
	if _, err := sub.Subscribe(t.Context(), []string{topic}, msgs); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(t.Context(), topic, "before"); err != nil {
		t.Fatal(err)
	}
	msgs.next(t)

	// A replica that never finished its first sync does not stand for
	// election: wait for the link before killing its master.
	waitReplicaLinked(t, c.Replicas[0][0])
	faultAt := time.Now()
	c.Masters[0].Kill()
	select {
	case <-disc:
	case <-time.After(waitTimeout):
		t.Fatal("the dead master was not noticed")
	}
	gap := gaps.next(t)
	if gap.Reason != pubsub.GapReconnect || gap.Until.Before(faultAt) || gap.Since.After(faultAt) {
		t.Errorf("gap = %+v, want a reconnect covering the kill at %v", gap, faultAt)
	}
	t.Logf("gap after master kill: %v", gap.Until.Sub(gap.Since))
	// The publisher's client may not know the new master yet: retry the
	// publish itself (each attempt is a new message), never the receive.
	deadline := time.Now().Add(waitTimeout)
	for {
		err := pub.Publish(t.Context(), topic, "after")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish after failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got string
	if err := msgs.next(t).Decode(&got); err != nil || got != "after" {
		t.Errorf("message after failover = %q (%v), want after", got, err)
	}
}

// waitReplicaLinked waits until the replica reports master_link_status:up.
func waitReplicaLinked(t *testing.T, r *redistest.Server) {
	t.Helper()
	rc := r.Client(t)
	eventually(t, "replica linked to its master", func() bool {
		info, err := rc.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
}
