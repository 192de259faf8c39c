package script

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// all lists every script of the package.
var all = []*Script{
	LeaseTake, LeaseTry, LeaseRelease, LeaseRenew, LeasePTTL, LeasePassOn,
	LockObtain, LockRelease, SemAcquire, SemRelease, SemRefresh, SemPTTL, SemPassOn, SemCount, FenceSet, FenceGet, LockInspect, SemInspect,
	MiddlewareStore, MiddlewarePurge, MiddlewareTag, IdemBegin, IdemComplete, IdemAbandon, IdemRenew,
	CacheAcquire, CacheFill, CacheRelease, CacheVersionedSet, CacheVersionedDel, CacheBloomTest, CacheBloomAdd, CacheBloomSwap, CacheInspect, CacheBloomInspect,
	QueueEnqueue, QueueFetch, QueueAck, QueueNack, QueueExtend, QueueRelease, QueueCounts, QueuePeekDead, QueueRequeueDead,
	QueuePeek, QueueDelete, QueueRequeueDeadID, QueuePurgeDead,
	ConsistencyIntent, ConsistencyCommit, ConsistencyClaim, ConsistencyDone,
	SessionLoad, SessionSave, SessionRevoke,
}

// Every .lua file but the libraries is one script in all, and each states
// its contract at the top.
func TestScripts_EveryFileUsedWithContract(t *testing.T) {
	used := map[string]bool{}
	for _, s := range all {
		used[s.Name()] = true
	}
	names, err := fs.Glob(files, "lua/*.lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range names {
		name := strings.TrimPrefix(f, "lua/")
		if strings.HasPrefix(name, "lib_") {
			continue
		}
		if !used[name] {
			t.Errorf("%s is not loaded by any variable", name)
		}
	}
	for _, s := range all {
		b, _ := fs.ReadFile(files, "lua/"+s.Name())
		head := string(b)
		if i := strings.Index(head, "\n--"); i >= 0 && strings.HasPrefix(head, "--!") {
			head = head[i+1:]
		}
		name := "-- " + strings.TrimSuffix(s.Name(), ".lua")
		if !strings.HasPrefix(head, name+" ") && !strings.HasPrefix(head, name+":") || !strings.Contains(head, "KEYS[1]") || !strings.Contains(head, "Returns") {
			t.Errorf("%s does not open with its name, KEYS and what it Returns", s.Name())
		}
	}
}

// Every script compiles on a real server (SCRIPT LOAD checks the syntax,
// libraries included).
func TestScripts_Load(t *testing.T) {
	rdb := redistest.Standalone.Client(t)
	for _, s := range all {
		if err := rdb.ScriptLoad(context.Background(), s.Source()).Err(); err != nil {
			t.Errorf("%s: %v", s.Name(), err)
		}
	}
}

// RunBehind's script runs right after a blocking command returns, in the
// same round trip, on standalone and Cluster, and after the server forgot
// the script.
func TestScript_RunBehind_AfterBlockingCommand(t *testing.T) {
	redistest.EachTopology(t, func(t *testing.T, tp *redistest.Topology) {
		ctx := t.Context()
		rdb := tp.Client(t)
		keys := []string{"{rb}:ready", "{rb}:inflight", "{rb}:delayed", "{rb}:dead"}
		for round := range 2 {
			if round == 1 {
				flush := func(ctx context.Context, c *redis.Client) error { return c.ScriptFlush(ctx).Err() }
				var err error
				switch c := rdb.(type) {
				case *redis.ClusterClient:
					err = c.ForEachShard(ctx, flush)
				case *redis.Client:
					err = flush(ctx, c)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := rdb.Del(ctx, keys[0], "{rb}:wake").Err(); err != nil {
				t.Fatal(err)
			}
			go func() {
				time.Sleep(100 * time.Millisecond)
				_, _ = rdb.TxPipelined(context.Background(), func(p redis.Pipeliner) error {
					p.RPush(context.Background(), keys[0], "x", "y")
					p.RPush(context.Background(), "{rb}:wake", "1")
					return nil
				})
			}()
			blpop := redis.NewStringSliceCmd(ctx, "blpop", "{rb}:wake", "2")
			got, err := QueueCounts.RunBehind(ctx, rdb, blpop, keys).Int64Slice()
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if w, err := blpop.Result(); err != nil || len(w) != 2 || w[1] != "1" {
				t.Fatalf("round %d: blpop = %v, %v", round, w, err)
			}
			if got[0] != 2 {
				t.Errorf("round %d: the script saw %d ready, want 2: it ran before the blocking command returned", round, got[0])
			}
		}
	})
}
