package lock_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/aside-go/aside/lock"
	"github.com/redis/go-redis/v9"
)

// The examples run against the Redis at $REDIS_ADDR; under go test that is
// a private server the test harness starts.

func ExampleClient_Do() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close() // after the lock client
	locks, err := lock.New(rdb, &lock.Options{Prefix: "billing"})
	if err != nil {
		log.Fatal(err)
	}
	defer locks.Close()

	invoice := func(ctx context.Context) error {
		// Only one instance runs this at a time. ctx is canceled if the
		// lock is lost: stop then.
		return nil
	}
	report := func(err error) {
		switch {
		case err == nil:
			fmt.Println("invoices done")
		case errors.Is(err, lock.ErrNotObtained):
			fmt.Println("another instance is on it")
		case errors.Is(err, lock.ErrLost):
			fmt.Println("lost the lock while running; the work may be incomplete")
		case errors.Is(err, lock.ErrFailed):
			fmt.Println("the job failed:", err)
		default:
			fmt.Println("redis:", err)
		}
	}
	ctx := context.Background()
	err = locks.Do(ctx, "monthly-invoices", 30*time.Second, func(ctx context.Context) error {
		// A second instance arriving now does not wait (NoWait).
		report(locks.Do(ctx, "monthly-invoices", 30*time.Second, invoice, lock.NoWait()))
		return invoice(ctx)
	}, lock.NoWait())
	report(err)
	// Output:
	// another instance is on it
	// invoices done
}

func ExampleClient_Obtain() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	locks, err := lock.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer locks.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Wait up to 5 s for the lock; renew it while we work.
	l, err := locks.Obtain(ctx, "report", 10*time.Second, lock.WithWatchdog(true))
	if err != nil {
		log.Fatal(err) // errors.Is(err, lock.ErrNotObtained) after 5 s
	}
	defer l.Release(context.Background())

	// Write under the lock with its fence: a holder that stalled past its
	// lease is rejected by the resource.
	err = locks.SetFenced(l.Context(), "report:latest", "v42", l.Fence())
	switch {
	case errors.Is(err, lock.ErrStaleFence):
		fmt.Println("a newer holder has written; dropping our result")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("report written")
	}
	// Output: report written
}

// What Redis holds for a lock and a semaphore, read as an operator's tool
// would, without taking either.
func ExampleClient_Inspect() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	locks, err := lock.New(rdb, &lock.Options{Prefix: "inspect-example"})
	if err != nil {
		log.Fatal(err)
	}
	defer locks.Close()
	ctx := context.Background()
	l, err := locks.Obtain(ctx, "report", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Release(ctx)

	info, err := locks.Inspect(ctx, "report")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("held:", info.Held, "by us:", info.Token == l.Token(), "fence:", info.Fence == l.Fence())

	exports, err := locks.NewSemaphore("exports", 3)
	if err != nil {
		log.Fatal(err)
	}
	p, err := exports.Acquire(ctx, time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Release(ctx)
	sem, err := locks.InspectSemaphore(ctx, "exports")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d of %d permits held\n", sem.Name, len(sem.Holders), sem.Permits)
	// Output:
	// held: true by us: true fence: true
	// exports: 1 of 3 permits held
}

// The same fencing check in SQL: store the fence with the row and update
// only if ours is not older.
func ExampleLock_Fence_sql() {
	var db *sql.DB // opened elsewhere
	var l *lock.Lock
	ctx := l.Context()
	res, err := db.ExecContext(ctx,
		`UPDATE accounts SET balance = $1, fence = $2 WHERE id = $3 AND fence <= $2`,
		100, l.Fence(), 7)
	if err != nil {
		log.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		fmt.Println("stale fence: a newer lock holder has written")
	}
}

func ExampleSemaphore_Acquire() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true})
	defer rdb.Close()
	locks, err := lock.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer locks.Close()
	// At most 3 exports run at once across the fleet.
	exports, err := locks.NewSemaphore("exports", 3)
	if err != nil {
		log.Fatal(err)
	}
	permit, err := exports.Acquire(context.Background(), time.Minute, lock.WithWatchdog(true))
	if err != nil {
		log.Fatal(err)
	}
	defer permit.Release(context.Background())
	// ... run the export under permit.Context() ...
	fmt.Println("exporting")
	// Output: exporting
}
