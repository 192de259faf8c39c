package redistest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterConfig describes a Redis Cluster started by [NewCluster].
type ClusterConfig struct {
	// Masters is the number of masters. If zero, 3.
	Masters int
	// ReplicasPerMaster is the number of replicas of each master; tests of
	// failover need at least one. Zero means none.
	ReplicasPerMaster int
	// AOF turns on appendonly with appendfsync always on every node.
	AOF bool
}

// Cluster is a Redis Cluster of real redis-server processes, its slots split
// evenly over the masters. Its methods are safe for concurrent use, except
// [Cluster.Failover], which changes Masters and Replicas.
type Cluster struct {
	// Masters are the master nodes in slot order: Masters[0] owns the first
	// third of the slots of a 3-master cluster.
	Masters []*Server
	// Replicas[i] are the replicas of Masters[i].
	Replicas [][]*Server
}

// StartCluster starts a cluster owned by tb, torn down at cleanup.
func StartCluster(tb testing.TB, cfg ClusterConfig) *Cluster {
	tb.Helper()
	c, err := NewCluster(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// NewCluster starts the nodes, assigns the slots with CLUSTER ADDSLOTSRANGE,
// joins the nodes with CLUSTER MEET and waits until every node reports
// cluster_state:ok and agrees on the slot map. The caller must call
// [Cluster.Close].
func NewCluster(cfg ClusterConfig) (c *Cluster, err error) {
	if cfg.Masters == 0 {
		cfg.Masters = 3
	}
	started := &Cluster{Replicas: make([][]*Server, cfg.Masters)}
	c = started
	defer func() {
		if err != nil {
			started.Close() // the nodes started before the failure
		}
	}()
	nodeCfg := Config{Cluster: true, AOF: cfg.AOF}
	for i := 0; i < cfg.Masters; i++ {
		s, err := NewServer(nodeCfg)
		if err != nil {
			return nil, err
		}
		c.Masters = append(c.Masters, s)
		for j := 0; j < cfg.ReplicasPerMaster; j++ {
			r, err := NewServer(nodeCfg)
			if err != nil {
				return nil, err
			}
			c.Replicas[i] = append(c.Replicas[i], r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.form(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) form(ctx context.Context) error {
	const slots = 16384
	first := c.Masters[0].NewClient()
	defer first.Close()
	n := len(c.Masters)
	for i, m := range c.Masters {
		cl := m.NewClient()
		lo, hi := i*slots/n, (i+1)*slots/n-1
		err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err()
		cl.Close()
		if err != nil {
			return fmt.Errorf("redistest: addslotsrange on %s: %w", m.Addr(), err)
		}
	}
	for _, s := range c.Nodes()[1:] {
		if err := first.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", s.Port()).Err(); err != nil {
			return fmt.Errorf("redistest: cluster meet %s: %w", s.Addr(), err)
		}
	}
	for i, m := range c.Masters {
		if len(c.Replicas[i]) == 0 {
			continue
		}
		id, err := nodeID(ctx, m)
		if err != nil {
			return err
		}
		for _, r := range c.Replicas[i] {
			if err := retry(ctx, func() error {
				rc := r.NewClient()
				defer rc.Close()
				return rc.Do(ctx, "CLUSTER", "REPLICATE", id).Err()
			}); err != nil {
				return fmt.Errorf("redistest: replicate %s: %w", r.Addr(), err)
			}
		}
	}
	return c.WaitStable(ctx)
}

// WaitReplicated waits until every master's replicas have caught up with
// it (WAIT answers with all of them), as a test of replicated writes
// needs right after the cluster started.
func (c *Cluster) WaitReplicated(ctx context.Context) error {
	return retry(ctx, func() error {
		for i, m := range c.Masters {
			want := len(c.Replicas[i])
			if want == 0 {
				continue
			}
			cl := m.NewClient()
			n, err := cl.Do(ctx, "WAIT", want, 100).Int()
			cl.Close()
			if err == nil && n < want {
				err = fmt.Errorf("redistest: %s: %d of %d replicas caught up", m.Addr(), n, want)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// WaitStable waits until every running node reports cluster_state:ok, knows
// every other node and reports the same owner for each master's slots.
func (c *Cluster) WaitStable(ctx context.Context) error {
	return retry(ctx, func() error {
		var want string
		for _, s := range c.Nodes() {
			if !s.Running() {
				continue
			}
			cl := s.NewClient()
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = fmt.Errorf("redistest: %s: cluster state not ok", s.Addr())
			}
			var shape string
			if err == nil {
				shape, err = slotShape(ctx, cl)
			}
			cl.Close()
			if err != nil {
				return err
			}
			if want == "" {
				want = shape
			} else if shape != want {
				return fmt.Errorf("redistest: nodes disagree on slots: %q vs %q", want, shape)
			}
		}
		return nil
	})
}

// slotShape summarises CLUSTER SHARDS as "lo-hi@master+replicas ...".
func slotShape(ctx context.Context, cl *redis.Client) (string, error) {
	shards, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		return "", err
	}
	var parts []string
	covered := int64(0)
	for _, sh := range shards {
		master, replicas := "", 0
		for _, n := range sh.Nodes {
			if n.Role == "master" {
				master = fmt.Sprintf("%s:%d(%s)", n.IP, n.Port, n.Health)
			} else {
				replicas++
			}
		}
		for _, r := range sh.Slots {
			covered += r.End - r.Start + 1
			parts = append(parts, fmt.Sprintf("%d-%d@%s+%d", r.Start, r.End, master, replicas))
		}
	}
	if covered != 16384 {
		return "", fmt.Errorf("redistest: %d slots covered", covered)
	}
	sort.Strings(parts)
	return strings.Join(parts, " "), nil
}

func nodeID(ctx context.Context, s *Server) (string, error) {
	cl := s.NewClient()
	defer cl.Close()
	id, err := cl.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return "", fmt.Errorf("redistest: cluster myid on %s: %w", s.Addr(), err)
	}
	return id, nil
}

// retry calls f every 20ms until it returns nil or ctx ends.
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Nodes returns every node, masters first.
func (c *Cluster) Nodes() []*Server {
	nodes := append([]*Server(nil), c.Masters...)
	for _, rs := range c.Replicas {
		nodes = append(nodes, rs...)
	}
	return nodes
}

// Addrs returns the addresses of the masters.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Masters))
	for i, m := range c.Masters {
		addrs[i] = m.Addr()
	}
	return addrs
}

// NewClient returns a new cluster client; the caller closes it.
func (c *Cluster) NewClient() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
}

// Client returns a cluster client that is closed at tb's cleanup.
func (c *Cluster) Client(tb testing.TB) redis.UniversalClient {
	cl := c.NewClient()
	tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Failover promotes the first replica of Masters[i] with CLUSTER FAILOVER
// and waits until the cluster is stable with it as master. Masters and
// Replicas are updated to the new roles.
func (c *Cluster) Failover(ctx context.Context, i int) error {
	if len(c.Replicas[i]) == 0 {
		return fmt.Errorf("redistest: master %d has no replica", i)
	}
	r := c.Replicas[i][0]
	rc := r.NewClient()
	defer rc.Close()
	if err := rc.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		return fmt.Errorf("redistest: cluster failover: %w", err)
	}
	if err := retry(ctx, func() error {
		role, err := rc.Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if role[0] != "master" {
			return errors.New("redistest: replica not promoted yet")
		}
		return nil
	}); err != nil {
		return err
	}
	c.Replicas[i][0], c.Masters[i] = c.Masters[i], r
	return c.WaitStable(ctx)
}

// Close kills every node and removes their directories. Idempotent.
func (c *Cluster) Close() {
	if c == nil {
		return
	}
	for _, s := range c.Nodes() {
		s.Close()
	}
}
