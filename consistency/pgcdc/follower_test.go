package pgcdc_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/cache"
	"github.com/aside-go/aside/consistency"
	"github.com/aside-go/aside/consistency/pgcdc"
	"github.com/aside-go/aside/internal/redistest"
)

// userKeys maps a change of table users to the cache key of the row.
func userKeys(c pgcdc.Change) []string {
	if c.Table != "public.users" {
		return nil
	}
	var keys []string
	for _, r := range []map[string]string{c.Old, c.New} {
		if id, ok := r["id"]; ok {
			keys = append(keys, id)
		}
	}
	return keys
}

// app is one instance of a service: a cache of users with versioned fills
// over db, and a Keeper in Strong mode.
type app struct {
	users  *cache.Cache[string]
	keeper *consistency.Keeper
	loads  atomic.Int32
	hold   func() // called by the loader after it read the row, if set
}

func newApp(t testing.TB, rdb redis.UniversalClient, db *database, prefix string) *app {
	t.Helper()
	a := &app{}
	var err error
	a.users, err = cache.New(rdb, &cache.Options[string]{
		Prefix: prefix, Codec: cache.String(), TTL: time.Hour, VersionedFills: true, OpTimeout: 5 * time.Second,
		Loader: cache.LoaderFunc[string](func(ctx context.Context, id string) (string, error) {
			a.loads.Add(1)
			var name string
			err := db.pool.QueryRow(ctx, "SELECT name FROM users WHERE id = $1", id).Scan(&name)
			if errors.Is(err, pgx.ErrNoRows) {
				return "", cache.ErrNotFound
			}
			if a.hold != nil {
				a.hold()
			}
			return name, err
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.users.Close() })
	a.keeper, err = consistency.New(rdb, a.users, &consistency.Options{Mode: consistency.Strong})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.keeper.Close() })
	return a
}

// follow starts a follower; it stops at cleanup or when stop is called.
func follow(t testing.TB, db *database, inv pgcdc.Invalidator, onErr func(error)) (f *pgcdc.Follower, stop func()) {
	t.Helper()
	opt := db.opt
	opt.Mapper = userKeys
	opt.OnError = onErr
	if err := pgcdc.Setup(context.Background(), db.url, &opt); err != nil {
		t.Fatal(err)
	}
	f, err := pgcdc.NewFollower(db.url, inv, &opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; _ = f.Close() }) }
	t.Cleanup(stop)
	return f, stop
}

func get(t testing.TB, a *app, id string) string {
	t.Helper()
	v, err := a.users.Get(context.Background(), id)
	if errors.Is(err, cache.ErrNotFound) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Writes made with plain SQL, by nobody who knows the cache, reach it:
// updates, deletes and inserts of rows cached as absent.
func TestFollower_invalidatesWritesFromAnywhere(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		db := newDatabase(t)
		db.exec(t, "INSERT INTO users VALUES ('1', 'Ada')")
		a := newApp(t, tp.Client(t), db, redistest.Prefix(t))
		f, _ := follow(t, db, a.keeper, nil)
		eventually(t, "the follower streaming", func() bool { return f.Stats().Active })

		if got := get(t, a, "1"); got != "Ada" {
			t.Fatalf("first read %q", got)
		}
		if got := get(t, a, "2"); got != "<none>" {
			t.Fatalf("absent row read %q", got)
		}
		db.exec(t, "UPDATE users SET name = 'Ada L.' WHERE id = '1'")
		db.exec(t, "INSERT INTO users VALUES ('2', 'Bob')")
		eventually(t, "the update seen", func() bool { return get(t, a, "1") == "Ada L." })
		eventually(t, "the insert seen", func() bool { return get(t, a, "2") == "Bob" })
		db.exec(t, "DELETE FROM users WHERE id = '1'")
		eventually(t, "the delete seen", func() bool { return get(t, a, "1") == "<none>" })

		opt := db.opt
		if err := pgcdc.WaitCaughtUp(t.Context(), db.url, &opt); err != nil {
			t.Fatal(err)
		}
		st := f.Stats()
		if st.Transactions < 3 || st.Invalidated < 3 || st.LastLag <= 0 || st.LastLag > 15*time.Second || st.LagP50 <= 0 || st.LagP99 < st.LagP50 {
			t.Errorf("Stats = %+v", st)
		}

		// A transaction that rolls back invalidates nothing, and
		// WaitCaughtUp returns once the slot is past it.
		tx, err := db.pool.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(t.Context(), "UPDATE users SET name = 'never' WHERE id = '2'"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := pgcdc.WaitCaughtUp(t.Context(), db.url, &opt); err != nil {
			t.Fatal(err)
		}
		if got := f.Stats(); got.Transactions != st.Transactions || got.Invalidated != st.Invalidated {
			t.Errorf("a rolled-back transaction was applied: before %+v, after %+v", st, got)
		}
		if v, ok, _, _ := a.users.Peek(t.Context(), "2"); !ok || v != "Bob" {
			t.Errorf("the cached row after the rollback = %q, want Bob still cached", v)
		}
	})
}

// The stale-set race: a fill that read the row before the change cannot
// store it after the follower invalidated the key.
func TestFollower_staleFillCannotStore(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		db := newDatabase(t)
		db.exec(t, "INSERT INTO users VALUES ('1', 'old')")
		a := newApp(t, tp.Client(t), db, redistest.Prefix(t))
		f, _ := follow(t, db, a.keeper, nil)
		eventually(t, "the follower streaming", func() bool { return f.Stats().Active })

		read, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		a.hold = func() { once.Do(func() { close(read); <-release }) }
		got := make(chan string, 1)
		go func() { got <- get(t, a, "1") }()
		<-read // the loader has read "old"
		before := f.Stats().Transactions
		db.exec(t, "UPDATE users SET name = 'new' WHERE id = '1'")
		eventually(t, "the invalidation applied", func() bool { return f.Stats().Transactions > before })
		close(release) // the loader returns "old" now
		if v := <-got; v != "old" {
			t.Errorf("the racing read got %q", v)
		}
		if v := get(t, a, "1"); v != "new" {
			t.Errorf("after the race the cache serves %q, want new (the stale fill was stored)", v)
		}
	})
}

// Redis down while changes commit, and the follower stopped before Redis
// is back: nothing is lost, the next follower applies it.
func TestFollower_redisDownAndRestartLoseNothing(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Config{AOF: true})
	rdb := srv.Client(t)
	db := newDatabase(t)
	db.exec(t, "INSERT INTO users VALUES ('1', 'Ada')")
	a := newApp(t, rdb, db, redistest.Prefix(t))
	var errs atomic.Int32
	f, stop := follow(t, db, a.keeper, func(error) { errs.Add(1) })
	eventually(t, "the follower streaming", func() bool { return f.Stats().Active })
	if got := get(t, a, "1"); got != "Ada" {
		t.Fatalf("first read %q", got)
	}
	srv.Kill()
	db.exec(t, "UPDATE users SET name = 'Ada L.' WHERE id = '1'")
	eventually(t, "retries against the dead Redis", func() bool { return f.Stats().Retries > 0 })
	stop() // the process dies before Redis is back
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The stale value survived in Redis (AOF): only the invalidation can
	// fix it, and the next follower applies it from the slot.
	a.users.FlushLocal()
	if v, _ := rdb.Get(context.Background(), a.users.Key("1")).Result(); v == "" {
		t.Fatal("the cached value did not survive the restart; the test proves nothing")
	}
	f2, _ := follow(t, db, a.keeper, nil)
	eventually(t, "the update applied by the next follower", func() bool { return get(t, a, "1") == "Ada L." })
	if f2.Stats().Transactions < 1 {
		t.Errorf("second follower applied nothing: %+v", f2.Stats())
	}
}

// One follower streams per slot; another waits and takes over when the
// first dies.
func TestFollower_oneActivePerSlotAndHandOver(t *testing.T) {
	db := newDatabase(t)
	a := newApp(t, redistest.Standalone.Client(t), db, redistest.Prefix(t))
	f1, stop1 := follow(t, db, a.keeper, nil)
	eventually(t, "f1 streaming", func() bool { return f1.Stats().Active })
	f2, _ := follow(t, db, a.keeper, nil)
	eventually(t, "f2 waiting", func() bool { return f2.Stats().Waits > 0 })
	if f2.Stats().Active {
		t.Fatal("two followers streaming from one slot")
	}
	stop1()
	eventually(t, "f2 taking over", func() bool { return f2.Stats().Active })
	db.exec(t, "INSERT INTO users VALUES ('9', 'Zed')")
	eventually(t, "f2 applying", func() bool { return f2.Stats().Transactions > 0 })
}

// The changes a mapper sees: table, op, old key and new row.
func TestFollower_changesSeenByMapper(t *testing.T) {
	db := newDatabase(t)
	var mu sync.Mutex
	var seen []pgcdc.Change
	opt := db.opt
	opt.Mapper = func(c pgcdc.Change) []string {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, c)
		return nil
	}
	if err := pgcdc.Setup(t.Context(), db.url, &opt); err != nil {
		t.Fatal(err)
	}
	f, err := pgcdc.NewFollower(db.url, invalidatorFunc(func(context.Context, ...string) error { return nil }), &opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	db.exec(t, "INSERT INTO users VALUES ('1', 'Ada')")
	db.exec(t, "UPDATE users SET id = '2', name = 'Bob' WHERE id = '1'")
	db.exec(t, "DELETE FROM users WHERE id = '2'")
	db.exec(t, "TRUNCATE users")
	eventually(t, "four changes", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 4 })
	mu.Lock()
	defer mu.Unlock()
	want := []struct {
		op       pgcdc.Op
		old, new string
	}{{pgcdc.Insert, "", "1/Ada"}, {pgcdc.Update, "1", "2/Bob"}, {pgcdc.Delete, "2", ""}, {pgcdc.Truncate, "", ""}}
	for i, w := range want {
		c := seen[i]
		gotNew := ""
		if c.New != nil {
			gotNew = c.New["id"] + "/" + c.New["name"]
		}
		if c.Table != "public.users" || c.Op != w.op || c.Old["id"] != w.old || gotNew != w.new {
			t.Errorf("change %d = %+v, want %v old %q new %q", i, c, w.op, w.old, w.new)
		}
	}
}
