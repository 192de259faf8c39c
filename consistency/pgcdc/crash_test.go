package pgcdc_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/aside-go/aside/consistency/pgcdc"
	"github.com/aside-go/aside/internal/redistest"
)

// childEnv makes the test binary run a follower process (childMain)
// instead of the tests; the crash test starts and SIGKILLs such children.
const childEnv = "PGCDC_TEST_CHILD"

// childMain runs one follower until it is killed: the database, Redis,
// prefix, slot and publication come from the environment.
func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("PGCDC_REDIS"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	users, err := cache.New(rdb, &cache.Options[string]{Prefix: os.Getenv("PGCDC_PREFIX"), Codec: cache.String(),
		VersionedFills: true, OpTimeout: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keeper, err := consistency.New(rdb, users, &consistency.Options{Mode: consistency.Strong})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := pgcdc.NewFollower(os.Getenv("PGCDC_DB"), keeper, &pgcdc.Options{
		Slot: os.Getenv("PGCDC_SLOT"), Publication: os.Getenv("PGCDC_PUB"), Mapper: userKeys,
		StatusInterval: 200 * time.Millisecond, RetryInterval: 200 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = f.Run(ctx)
	return 0
}

// startChild starts a follower process.
func startChild(t testing.TB, db *database, redisAddr, prefix string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "PGCDC_REDIS="+redisAddr, "PGCDC_PREFIX="+prefix,
		"PGCDC_DB="+db.url, "PGCDC_SLOT="+db.opt.Slot, "PGCDC_PUB="+db.opt.Publication)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// A follower process SIGKILLed mid-stream and replaced, and Redis stopped
// for 5 s mid-stream, while writers and readers run: at the end every
// entry in Redis matches the database (0 missed invalidations).
func TestFollower_sigkillAndRedisStopMissNothing(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Config{})
	rdb := srv.Client(t)
	db := newDatabase(t)
	const rows = 40
	for i := range rows {
		db.exec(t, "INSERT INTO users VALUES ($1, '0')", strconv.Itoa(i))
	}
	opt := db.opt
	opt.Tables = []string{"users"}
	if err := pgcdc.Setup(t.Context(), db.url, &opt); err != nil {
		t.Fatal(err)
	}
	prefix := redistest.Prefix(t)
	a := newApp(t, rdb, db, prefix)

	ctx, cancel := context.WithCancel(t.Context())      // readers
	wctx, stopWrites := context.WithCancel(t.Context()) // the writer
	var wg, writer sync.WaitGroup
	writes := 0
	writer.Go(func() { // one writer: each row's name counts its updates
		for wctx.Err() == nil {
			id := strconv.Itoa(rand.N(rows))
			if _, err := db.pool.Exec(wctx, "UPDATE users SET name = (name::int + 1)::text WHERE id = $1", id); err == nil {
				writes++
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	for range 4 { // readers keep the cache filled, racing the invalidations
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = a.users.Get(ctx, strconv.Itoa(rand.N(rows)))
			}
		})
	}

	child := startChild(t, db, srv.Addr(), prefix)
	time.Sleep(1500 * time.Millisecond)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	startChild(t, db, srv.Addr(), prefix)
	time.Sleep(1500 * time.Millisecond)
	srv.Pause() // Redis stops answering for 5 s
	time.Sleep(5 * time.Second)
	srv.Resume()
	time.Sleep(1500 * time.Millisecond)
	stopWrites()
	writer.Wait()
	// The readers go on filling the cache while the follower catches up:
	// an entry left at the end is either right or a missed invalidation.
	cctx, ccancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer ccancel()
	if err := pgcdc.WaitCaughtUp(cctx, db.url, &opt); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	stale, cached := 0, 0
	for i := range rows {
		id := strconv.Itoa(i)
		var want string
		if err := db.pool.QueryRow(t.Context(), "SELECT name FROM users WHERE id = $1", id).Scan(&want); err != nil {
			t.Fatal(err)
		}
		e, err := cache.Inspect(t.Context(), rdb, prefix, id)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Exists || e.Negative {
			continue
		}
		cached++
		if string(e.Payload) != want {
			stale++
			t.Errorf("row %s: Redis has %q, the database %q", id, e.Payload, want)
		}
	}
	t.Logf("%d writes, %d of %d rows cached at the end, %d stale", writes, cached, rows, stale)
	if writes < 100 || cached < rows/2 {
		t.Errorf("%d writes, %d rows cached: the run exercised little", writes, cached)
	}
}
