package lock_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/lock"
	"github.com/redis/go-redis/v9"
)

// Environment of a child process of TestClient_Obtain_MultiProcess.
const (
	childAddrs  = "ASIDE_LOCK_CHILD_ADDRS" // "standalone:ADDR" or "cluster:ADDR,ADDR,..."
	childPrefix = "ASIDE_LOCK_CHILD_PREFIX"
	childRounds = "ASIDE_LOCK_CHILD_ROUNDS" // -1: obtain once, print HELD and wait to be killed
)

// A holder process killed with SIGKILL never releases: a waiter in another
// process takes over when its lease ends, and not before.
func TestClient_Obtain_HolderKilled(t *testing.T) {
	t.Parallel()
	s := redistest.StartServer(t, redistest.Config{})
	prefix := redistest.Prefix(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childAddrs+"=standalone:"+s.Addr(), childPrefix+"="+prefix, childRounds+"=-1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "HELD") {
		t.Fatalf("child: %q, want HELD", sc.Text())
	}
	held := time.Now()
	c := newClient(t, s.Client(t), prefix)
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), childLease+5*time.Second)
		defer cancel()
		l, err := c.Obtain(ctx, "shared", time.Second)
		if err == nil {
			err = l.Release(context.Background())
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := <-got; err != nil {
		t.Fatalf("waiter after the holder was killed: %v, want the lock once its lease ended", err)
	}
	if d := time.Since(held); d < childLease-childLease/10 {
		t.Fatalf("the waiter obtained %v after the kill -9'd holder did, within its %v lease", d, childLease)
	}
}

// childLease is the lease of the child that is killed holding the lock.
const childLease = 2 * time.Second

// TestClient_Obtain_MultiProcess runs 8 processes (children of this test
// binary, each with its own Redis connections) that take one lock 200
// times each; two of them stop after 50 and close their client while the
// others wait, as a process that finishes early does. No two holders may
// overlap (checked with a counter in Redis under the lock), no waiter may
// give up (each waits 8 s, the lease is 10 s: a swallowed wake-up leaves
// the lock idle until the lease ends), and the gap between a release and
// the next obtain stays far below a lease.
func TestClient_Obtain_MultiProcess(t *testing.T) {
	t.Parallel()
	for _, topo := range []string{"standalone", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			t.Parallel()
			var spec string
			if topo == "standalone" {
				spec = "standalone:" + redistest.StartServer(t, redistest.Config{}).Addr()
			} else {
				spec = "cluster:" + strings.Join(redistest.StartCluster(t, redistest.ClusterConfig{}).Addrs(), ",")
			}
			prefix := redistest.Prefix(t)
			const procs = 8
			type span struct{ from, to int64 }
			var (
				mu    sync.Mutex
				spans []span
				wg    sync.WaitGroup
			)
			for i := range procs {
				rounds := 200
				if i%4 == 0 {
					rounds = 50
				}
				wg.Go(func() {
					cmd := exec.Command(os.Args[0], "-test.run=^TestLockChildProcess$", "-test.count=1")
					cmd.Env = append(os.Environ(), childAddrs+"="+spec, childPrefix+"="+prefix, childRounds+"="+strconv.Itoa(rounds))
					out, err := cmd.Output()
					if err != nil {
						t.Errorf("child %d: %v\n%s", i, err, out)
						return
					}
					got := 0
					sc := bufio.NewScanner(strings.NewReader(string(out)))
					for sc.Scan() {
						var s span
						if _, err := fmt.Sscanf(sc.Text(), "HELD %d %d", &s.from, &s.to); err == nil {
							mu.Lock()
							spans = append(spans, s)
							mu.Unlock()
							got++
						} else if strings.HasPrefix(sc.Text(), "FAIL ") {
							t.Errorf("child %d: %s", i, sc.Text())
						}
					}
					if got != rounds {
						t.Errorf("child %d: %d holds, want %d\n%s", i, got, rounds, out)
					}
				})
			}
			wg.Wait()
			slices.SortFunc(spans, func(a, b span) int { return int(a.from - b.from) })
			var maxGap time.Duration
			slow := 0
			for i := 1; i < len(spans); i++ {
				if spans[i].from < spans[i-1].to {
					t.Errorf("holds overlap: %v and %v", spans[i-1], spans[i])
				}
				gap := time.Duration(spans[i].from - spans[i-1].to)
				maxGap = max(maxGap, gap)
				if gap > 100*time.Millisecond {
					slow++
				}
			}
			t.Logf("%d holds; longest hand-off %v; %d hand-offs over 100ms", len(spans), maxGap, slow)
			if maxGap > 2*time.Second {
				t.Errorf("longest hand-off %v: a waiter slept although the lock was free", maxGap)
			}
		})
	}
}

// TestLockChildProcess is the body of one child process of
// TestClient_Obtain_MultiProcess; run by itself it does nothing.
func TestLockChildProcess(t *testing.T) {
	spec := os.Getenv(childAddrs)
	if spec == "" {
		return
	}
	kind, addrs, _ := strings.Cut(spec, ":")
	var rdb redis.UniversalClient
	if kind == "cluster" {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	} else {
		rdb = redis.NewClient(&redis.Options{Addr: addrs})
	}
	defer rdb.Close()
	prefix := os.Getenv(childPrefix)
	rounds, _ := strconv.Atoi(os.Getenv(childRounds))
	c, err := lock.New(rdb, &lock.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if rounds < 0 {
		if _, err := c.Obtain(context.Background(), "shared", childLease); err != nil {
			fmt.Printf("FAIL obtain: %v\n", err)
			return
		}
		fmt.Println("HELD")
		time.Sleep(time.Minute) // until killed
		return
	}
	inside := "{" + prefix + ":shared}:inside"
	for range rounds {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		l, err := c.Obtain(ctx, "shared", 10*time.Second)
		cancel()
		if err != nil {
			fmt.Printf("FAIL obtain: %v\n", strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		from := time.Now().UnixNano()
		if n, err := rdb.Incr(context.Background(), inside).Result(); err != nil || n != 1 {
			fmt.Printf("FAIL %d holders inside (%v)\n", n, err)
		}
		time.Sleep(time.Millisecond)
		rdb.Decr(context.Background(), inside)
		to := time.Now().UnixNano()
		if err := l.Release(context.Background()); err != nil {
			fmt.Printf("FAIL release: %v\n", err)
		}
		fmt.Printf("HELD %d %d\n", from, to)
	}
	_ = c.Close()
}
