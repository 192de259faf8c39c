package consistency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aside-go/aside/internal/keys"
	"github.com/aside-go/aside/internal/script"
	"github.com/redis/go-redis/v9"
)

// schedule is the durable part of a Keeper: write intents and second
// deletes in sorted sets spread over shards, each shard's three sets in one
// hash slot:
//
//	{ns:prefix:i}         scheduled deletes, member: base key "{prefix|key}", score: due (server ms)
//	{ns:prefix:i}:intent  intents, member: "<id>:<base key>", score: due
//	{ns:prefix:i}:claim   claims, member: "s:<base>" or "i:<id>:<base>", score: claim deadline
type schedule struct {
	rdb    redis.UniversalClient
	prefix string   // the cache's prefix
	shards []string // schedule key of each shard
}

func newSchedule(rdb redis.UniversalClient, ns, prefix string, n int) *schedule {
	s := &schedule{rdb: rdb, prefix: prefix, shards: make([]string, n)}
	for i := range s.shards {
		s.shards[i] = "{" + ns + ":" + prefix + ":" + strconv.Itoa(i) + "}"
	}
	return s
}

func (s *schedule) base(key string) string { return keys.Base(s.prefix, key) }

// key returns the user key of base, or false if base is not of this cache.
func (s *schedule) key(base string) (string, bool) {
	p, k, ok := keys.Split(base)
	if !ok || p != s.prefix {
		return "", false
	}
	return k, true
}

func (s *schedule) shardOf(base string) int { return keys.Slot(base) % len(s.shards) }

func intentKey(shard string) string { return keys.Sub(shard, "intent") }
func claimKey(shard string) string  { return keys.Sub(shard, "claim") }

// newID returns 16 random hex digits naming one write's intents.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// entry is one key of one write, placed in its shard.
type entry struct {
	base, intent string
}

// byShard groups the keys of one write (deduplicated) by shard.
func (s *schedule) byShard(id string, ks []string) map[int][]entry {
	m := make(map[int][]entry, 2)
	seen := make(map[string]bool, len(ks))
	for _, k := range ks {
		if seen[k] {
			continue
		}
		seen[k] = true
		b := s.base(k)
		i := s.shardOf(b)
		m[i] = append(m[i], entry{base: b, intent: id + ":" + b})
	}
	return m
}

// firstErr returns the first error of a batch run by [script.RunAll].
func firstErr(cmds []*redis.Cmd) error {
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return err
		}
	}
	return nil
}

// addIntents records the intents of one write, due after timeout.
func (s *schedule) addIntents(ctx context.Context, groups map[int][]entry, timeout time.Duration) error {
	calls := make([]script.Call, 0, len(groups))
	for i, es := range groups {
		args := make([]any, 1, 1+len(es))
		args[0] = timeout.Milliseconds()
		for _, e := range es {
			args = append(args, e.intent)
		}
		calls = append(calls, script.Call{Script: script.ConsistencyIntent, Keys: []string{intentKey(s.shards[i])}, Args: args})
	}
	return firstErr(script.RunAll(ctx, s.rdb, calls))
}

// commit drops the intents of one write and, if delay > 0, schedules the
// second delete of its keys delay later.
func (s *schedule) commit(ctx context.Context, groups map[int][]entry, delay time.Duration) error {
	calls := make([]script.Call, 0, len(groups))
	for i, es := range groups {
		args := make([]any, 1, 1+2*len(es))
		args[0] = delay.Milliseconds()
		for _, e := range es {
			args = append(args, e.base, e.intent)
		}
		calls = append(calls, script.Call{Script: script.ConsistencyCommit, Keys: []string{s.shards[i], intentKey(s.shards[i])}, Args: args})
	}
	return firstErr(script.RunAll(ctx, s.rdb, calls))
}

// claimed is what one claim round took from one shard.
type claimed struct {
	shard    int
	deadline int64
	members  []string
}

// claim claims up to claimBatch due entries of every shard. It returns the
// claims, the time until the next entry falls due (negative if none) and
// whether some shard had more due entries than it took.
func (s *schedule) claim(ctx context.Context, timeout time.Duration) ([]claimed, time.Duration, bool, error) {
	calls := make([]script.Call, len(s.shards))
	for i, sh := range s.shards {
		calls[i] = script.Call{Script: script.ConsistencyClaim, Keys: []string{sh, intentKey(sh), claimKey(sh)}, Args: []any{timeout.Milliseconds(), claimBatch}}
	}
	cmds := script.RunAll(ctx, s.rdb, calls)
	err := firstErr(cmds)
	var out []claimed
	next := time.Duration(-1)
	more := false
	for i, cmd := range cmds {
		arr, ok := cmd.Val().([]any)
		if !ok || len(arr) < 2 {
			continue
		}
		deadline, _ := arr[0].(int64)
		if n, _ := arr[1].(int64); n >= 0 && (next < 0 || time.Duration(n)*time.Millisecond < next) {
			next = time.Duration(n) * time.Millisecond
		}
		if len(arr) == 2 {
			continue
		}
		c := claimed{shard: i, deadline: deadline, members: make([]string, 0, len(arr)-2)}
		for _, m := range arr[2:] {
			if ms, ok := m.(string); ok {
				c.members = append(c.members, ms)
			}
		}
		if len(c.members) >= claimBatch {
			more = true
		}
		out = append(out, c)
	}
	return out, next, more, err
}

// done releases claims carried out.
func (s *schedule) done(ctx context.Context, cs []claimed) error {
	calls := make([]script.Call, 0, len(cs))
	for _, c := range cs {
		args := make([]any, 1, 1+len(c.members))
		args[0] = c.deadline
		for _, m := range c.members {
			args = append(args, m)
		}
		calls = append(calls, script.Call{Script: script.ConsistencyDone, Keys: []string{claimKey(s.shards[c.shard])}, Args: args})
	}
	if len(calls) == 0 {
		return nil
	}
	return firstErr(script.RunAll(ctx, s.rdb, calls))
}

// errBadEntry reports a schedule member this instance cannot parse.
var errBadEntry = errors.New("consistency: malformed schedule entry")

// parse returns the user key of a claimed member and whether it is an
// intent (a write that did not finish its invalidation).
func (s *schedule) parse(m string) (key string, intent bool, err error) {
	var base string
	switch {
	case strings.HasPrefix(m, "s:"):
		base = m[2:]
	case strings.HasPrefix(m, "i:") && len(m) > 2+17 && m[2+16] == ':':
		base, intent = m[2+17:], true
	default:
		return "", false, fmt.Errorf("%w: %q", errBadEntry, m)
	}
	k, ok := s.key(base)
	if !ok {
		return "", false, fmt.Errorf("%w: %q is not under prefix %q", errBadEntry, m, s.prefix)
	}
	return k, intent, nil
}
