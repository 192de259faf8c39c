package script

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// all lists every script of the package.
var all = []*Script{
	LeaseTake, LeaseTry, LeaseRelease, LeaseRenew, LeasePTTL, LeasePassOn,
	LockObtain, LockRelease, SemAcquire, SemRelease, SemRefresh, SemPTTL, SemPassOn, SemCount, FenceSet, FenceGet, LockInspect, SemInspect,
	MiddlewareStore, MiddlewarePurge, MiddlewareTag, IdemBegin, IdemComplete, IdemAbandon, IdemRenew,
	CacheAcquire, CacheFill, CacheRelease, CacheVersionedSet, CacheVersionedDel, CacheBloomTest, CacheBloomAdd, CacheBloomSwap, CacheInspect, CacheBloomInspect,
	QueueEnqueue, QueueFetch, QueueAck, QueueNack, QueueExtend, QueueCounts, QueuePeekDead, QueueRequeueDead,
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
