package consistency

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// The crash tests re-execute the test binary as a writer process, which the
// test kills with SIGKILL at a chosen point of a write.
const (
	childEnv    = "ASIDE_CONSISTENCY_CHILD" // "after-write" or "in-change"
	childAddrs  = "ASIDE_CONSISTENCY_ADDRS" // comma-separated; more than one means Cluster
	childPrefix = "ASIDE_CONSISTENCY_PREFIX"
	childKey    = "row:1"
)

// crashOptions are the options of the writer and of the surviving instance.
func crashOptions() *Options {
	return &Options{Mode: DoubleDelete, Delay: 500 * time.Millisecond, IntentTimeout: 500 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, NoBroadcast: true}
}

// runChild is the writer process: it writes childKey and reports on stdout
// when it reached the point where the test kills it, then waits.
func runChild() int {
	addrs := strings.Split(os.Getenv(childAddrs), ",")
	var rdb redis.UniversalClient
	if len(addrs) > 1 {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	} else {
		rdb = redis.NewClient(&redis.Options{Addr: addrs[0]})
	}
	f := &fakeCache{rdb: rdb, prefix: os.Getenv(childPrefix)}
	k, err := New(rdb, f, crashOptions())
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ctx := context.Background()
	switch os.Getenv(childEnv) {
	case "after-write":
		// The write and its first delete finish; the second delete is
		// scheduled for 500 ms later, when this process is dead.
		if err := k.Write(ctx, nil, childKey); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("written")
	case "in-change":
		// The database change has run; the process dies before its
		// invalidation.
		_ = k.Write(ctx, func(context.Context) error {
			fmt.Println("written")
			select {}
		}, childKey)
	}
	select {}
}

// addrsOf returns the addresses a child process connects to.
func addrsOf(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	case *redis.Client:
		return c.Options().Addr
	}
	panic(fmt.Sprintf("unexpected client %T", rdb))
}

func TestKeeper_Write_CrashedWriterFinishedByAnotherInstance(t *testing.T) {
	for _, point := range []string{"after-write", "in-change"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
				prefix := redistest.Prefix(t)
				rdb := tp.Client(t)
				f := &fakeCache{rdb: rdb, prefix: prefix}
				f.set(t, childKey, "old")

				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childEnv+"="+point, childAddrs+"="+addrsOf(rdb), childPrefix+"="+prefix)
				cmd.Stderr = os.Stderr
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
				line, err := bufio.NewReader(out).ReadString('\n')
				if err != nil || strings.TrimSpace(line) != "written" {
					t.Fatalf("child said %q, %v", line, err)
				}
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_ = cmd.Wait()
				// A reader that loaded the old row before the write fills
				// it in after the writer's (first) delete.
				f.set(t, childKey, "stale")

				other := newKeeper(t, tp.Client(t), &fakeCache{rdb: tp.Client(t), prefix: prefix}, crashOptions())
				waitFor(t, "the surviving instance to delete the stale value", func() bool { return !f.exists(t, childKey) })
				waitFor(t, "the survivor to count it", func() bool {
					s := other.Stats()
					if point == "after-write" {
						return s.Executed == 1 // the crashed writer's second delete
					}
					return s.Recovered == 1 // the crashed writer's intent
				})
			})
		})
	}
}

// TestKeeper_Write_RedisKilledAfterChange kills Redis (AOF, fsync always)
// between the database change and its invalidation: Write reports
// ErrPending, and once Redis is back the recorded intent deletes the stale
// value.
func TestKeeper_Write_RedisKilledAfterChange(t *testing.T) {
	s := redistest.StartServer(t, redistest.Config{AOF: true})
	rdb := s.Client(t)
	f := &fakeCache{rdb: rdb, prefix: redistest.Prefix(t)}
	f.set(t, "row", "old")
	k := newKeeper(t, rdb, f, &Options{NoBroadcast: true, Retries: 1, InvalidateTimeout: time.Second,
		IntentTimeout: 500 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	err := k.Write(context.Background(), func(context.Context) error {
		s.Kill() // the change is made; Redis dies before the delete
		return nil
	}, "row")
	if !errors.Is(err, ErrPending) {
		t.Fatalf("Write with Redis killed after the change = %v, want ErrPending", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the intent to run after the restart", func() bool { return k.Stats().Recovered == 1 })
	if f.exists(t, "row") {
		t.Errorf("the stale value survived the restart")
	}
}
