package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestServer_StartAndClose(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s, err := redistest.NewServer(redistest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("standalone started in %v", time.Since(start))
	c := s.NewClient()
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, "k").Result(); got != "v" {
		t.Errorf("GET k = %q, want v", got)
	}
	s.Close()
	s.Close() // idempotent
	if s.Running() {
		t.Error("server still running after Close")
	}
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir left behind: stat err = %v", err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Error("PING succeeded after Close")
	}
}

func TestServer_KillAndRestartKeepsAOFData(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{AOF: true})
	c := s.Client(t)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		if err := c.RPush(ctx, "list", i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s.Kill()
	if s.Running() {
		t.Fatal("server running after Kill")
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded on a killed server")
	}
	start := time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart with AOF took %v", time.Since(start))
	n, err := c.LLen(ctx, "list").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Errorf("LLEN after kill -9 and restart = %d, want 100", n)
	}
}

func TestServer_KillWithoutAOFLosesData(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET after restart without persistence: err = %v, want redis.Nil", err)
	}
}

func TestServer_PauseResume(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := c.Ping(tctx).Err()
	cancel()
	if err == nil {
		t.Error("PING answered by a SIGSTOPped server")
	}
	s.Resume()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("PING after resume: %v", err)
	}
}

func TestServer_ClientPause(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	c := s.Client(t)
	ctx := context.Background()
	if err := s.ClientPause(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := c.Set(tctx, "k", "v", 0).Err()
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SET during CLIENT PAUSE: err = %v, want context.DeadlineExceeded", err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Errorf("SET after the pause: %v", err)
	}
}

func TestServer_MissingBinaryFailsLoudly(t *testing.T) {
	t.Setenv("REDIS_SERVER", "/nonexistent/redis-server")
	_, err := redistest.NewServer(redistest.Config{})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("NewServer with a missing binary: err = %v, want a 'not found' error", err)
	}
}

func TestCluster_RoutesKeysToThreeMasters(t *testing.T) {
	t.Parallel()
	start := time.Now()
	cl := redistest.StartCluster(t, redistest.ClusterConfig{})
	t.Logf("3-master cluster formed in %v", time.Since(start))
	c := cl.Client(t).(*redis.ClusterClient)
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		if err := c.Set(ctx, fmt.Sprint("key", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex // guards sizes
		sizes []int64
	)
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 3 {
		t.Fatalf("masters = %d, want 3", len(sizes))
	}
	var total int64
	for _, n := range sizes {
		if n == 0 {
			t.Errorf("a master holds no keys: sizes = %v", sizes)
		}
		total += n
	}
	if total != 300 {
		t.Errorf("keys over masters = %d, want 300", total)
	}
	// Keys in one hash tag share a slot and so a multi-key command works.
	if err := c.MSet(ctx, "{tag}a", 1, "{tag}b", 2).Err(); err != nil {
		t.Errorf("MSET within a hash tag: %v", err)
	}
	if err := c.Do(ctx, "MSET", "a", 1, "b", 2).Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("MSET across slots: err = %v, want CROSSSLOT", err)
	}
}

func TestCluster_FailoverPromotesReplica(t *testing.T) {
	t.Parallel()
	start := time.Now()
	cl := redistest.StartCluster(t, redistest.ClusterConfig{ReplicasPerMaster: 1})
	t.Logf("3-master cluster with replicas formed in %v", time.Since(start))
	c := cl.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := cl.Masters[0].Addr()
	if err := cl.Failover(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if cl.Masters[0].Addr() == old {
		t.Fatal("master 0 unchanged after failover")
	}
	// The cluster client follows the MOVED/new slot map.
	for i := 0; i < 100; i++ {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatalf("SET after failover: %v", err)
		}
	}
}

func TestSentinel_FailoverSeenByFailoverClient(t *testing.T) {
	t.Parallel()
	start := time.Now()
	st := redistest.StartSentinel(t)
	t.Logf("master + replica + 3 sentinels ready in %v", time.Since(start))
	c := st.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	oldMaster := st.Master.Addr()
	start = time.Now()
	if err := st.Failover(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("sentinel failover took %v", time.Since(start))
	if addr, _ := st.MasterAddr(ctx); addr == oldMaster {
		t.Fatalf("sentinels still name %s master", addr)
	}
	// The failover client reconnects to the new master; writes succeed
	// there and the data written before the failover is still readable.
	var err error
	for i := 0; i < 100; i++ {
		if err = c.Set(ctx, "after", "2", 0).Err(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("SET after failover: %v", err)
	}
	nm := st.Master.NewClient()
	defer nm.Close()
	if got, _ := nm.Get(ctx, "after").Result(); got != "2" {
		t.Errorf("new master %s has after=%q, want 2", st.Master.Addr(), got)
	}
	if got, _ := c.Get(ctx, "before").Result(); got != "1" {
		t.Errorf("before=%q after failover, want 1", got)
	}
}

func TestEachTopology_SharedServers(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		c := tp.Client(t)
		p := redistest.Prefix(t)
		ctx := context.Background()
		if err := c.Set(ctx, p+":k", tp.Name, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.Get(ctx, p+":k").Result(); got != tp.Name {
			t.Errorf("GET = %q, want %q", got, tp.Name)
		}
		_, isCluster := c.(*redis.ClusterClient)
		if isCluster != tp.IsCluster() {
			t.Errorf("client is cluster = %v, topology cluster = %v", isCluster, tp.IsCluster())
		}
	})
}

func TestPrefix_UniqueAndTagSafe(t *testing.T) {
	a, b := redistest.Prefix(t), redistest.Prefix(t)
	if a == b {
		t.Errorf("Prefix returned %q twice", a)
	}
	if strings.ContainsAny(a, "{}") {
		t.Errorf("Prefix %q contains hash-tag braces", a)
	}
}

// A cluster whose third node cannot start returns the error, without a
// panic, and stops the nodes it had started.
func TestNewCluster_FailedStartStopsStartedNodes(t *testing.T) {
	real, err := exec.LookPath(redistest.Binary())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "redis-server")
	script := "#!/bin/sh\nn=$(cat " + dir + "/count 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > " + dir + "/count\n" +
		"if [ $n -ge 3 ]; then echo refused >&2; exit 1; fi\necho $$ >> " + dir + "/pids\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDIS_SERVER", wrapper)
	c, err := redistest.NewCluster(redistest.ClusterConfig{})
	if err == nil {
		c.Close()
		t.Fatal("NewCluster with a failing third node: nil error")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "pids"))
	pids := strings.Fields(string(b))
	if len(pids) != 2 {
		t.Fatalf("started %d nodes before the failure, want 2", len(pids))
	}
	for _, p := range pids {
		pid, _ := strconv.Atoi(p)
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("node %d still runs after the failed NewCluster", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
