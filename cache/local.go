package cache

import (
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// local is the bounded in-process L1 tier: an index with lock-free reads
// (sync.Map) and, per shard, a ring with CLOCK eviction (an LRU
// approximation where a hit only sets a bit). Writes hold their shard's
// lock, which keeps the index and the rings in step; a hit takes no lock.
// Entries are immutable once stored; a write replaces the pointer. Values
// are shared by every caller that reads them.
type local[V any] struct {
	seed   maphash.Seed
	index  sync.Map // key -> *localEntry[V]; written under the key's shard lock
	shards []localShard[V]
	mask   uint64
	ttl    time.Duration
	jitter float64
	// off turns the tier off (a miss for every get, no set) while a
	// tracked L1 cannot trust its invalidations (LocalOptions.Tracking).
	off atomic.Bool
}

type localShard[V any] struct {
	mu   sync.Mutex       // guards ring, hand, and the index's keys of this shard
	ring []*localEntry[V] // entries in insertion slots, len <= cap
	hand int              // next ring slot the clock looks at
	cap  int
	_    [64]byte // keep shards on separate cache lines
}

type localEntry[V any] struct {
	key  string
	val  V
	neg  bool
	exp  int64 // monoNow() at expiry
	slot int   // index in ring; guarded by the shard's mu
	ref  atomic.Bool
}

func newLocal[V any](size int, ttl time.Duration, jitter float64) *local[V] {
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n <<= 1
	}
	for n > 1 && size/n < 8 {
		n >>= 1
	}
	l := &local[V]{seed: maphash.MakeSeed(), shards: make([]localShard[V], n), mask: uint64(n - 1), ttl: ttl, jitter: jitter}
	per := (size + n - 1) / n
	for i := range l.shards {
		l.shards[i].cap = per
		l.shards[i].ring = make([]*localEntry[V], 0, per)
	}
	return l
}

func (l *local[V]) shard(key string) *localShard[V] {
	return &l.shards[maphash.String(l.seed, key)&l.mask]
}

// get returns the live entry of key, if any.
func (l *local[V]) get(key string) (*localEntry[V], bool) {
	if l.off.Load() {
		return nil, false
	}
	x, _ := l.index.Load(key)
	e, _ := x.(*localEntry[V])
	if e == nil || expired(e.exp) {
		return nil, false
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e, true
}

// set stores key with a jittered TTL, evicting by CLOCK when full. ttl
// caps the entry's life (for values whose Redis life is shorter): zero
// means the tier's TTL, negative means do not store.
func (l *local[V]) set(key string, v V, neg bool, ttl time.Duration) {
	if ttl < 0 || l.off.Load() {
		return
	}
	if ttl == 0 || ttl > l.ttl {
		ttl = l.ttl
	}
	now := monoNow()
	advanceClock(now)
	s := l.shard(key)
	e := &localEntry[V]{key: key, val: v, neg: neg, exp: now + int64(jitter(ttl, l.jitter))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if x, ok := l.index.Load(key); ok {
		old := x.(*localEntry[V])
		e.slot = old.slot
		s.ring[e.slot] = e
		l.index.Store(key, e)
		return
	}
	if len(s.ring) < s.cap {
		e.slot = len(s.ring)
		s.ring = append(s.ring, e)
		l.index.Store(key, e)
		return
	}
	// CLOCK: skip recently used entries once, evict the first expired or
	// unreferenced one. Two sweeps at most.
	for i := 0; i < 2*len(s.ring); i++ {
		c := s.ring[s.hand]
		if c.exp <= now || !c.ref.Load() {
			break
		}
		c.ref.Store(false)
		s.hand = (s.hand + 1) % len(s.ring)
	}
	victim := s.ring[s.hand]
	l.index.Delete(victim.key)
	e.slot = s.hand
	s.ring[s.hand] = e
	l.index.Store(key, e)
	s.hand = (s.hand + 1) % len(s.ring)
}

// del drops keys.
func (l *local[V]) del(keys ...string) {
	for _, k := range keys {
		s := l.shard(k)
		s.mu.Lock()
		if x, ok := l.index.LoadAndDelete(k); ok {
			e := x.(*localEntry[V])
			last := len(s.ring) - 1
			if e.slot != last {
				moved := s.ring[last]
				moved.slot = e.slot
				s.ring[e.slot] = moved
			}
			s.ring[last] = nil
			s.ring = s.ring[:last]
			if s.hand >= len(s.ring) {
				s.hand = 0
			}
		}
		s.mu.Unlock()
	}
}

// flush drops everything.
func (l *local[V]) flush() {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for _, e := range s.ring {
			l.index.Delete(e.key)
		}
		clear(s.ring)
		s.ring = s.ring[:0]
		s.hand = 0
		s.mu.Unlock()
	}
}

// len returns the number of entries, live or expired.
func (l *local[V]) len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.ring)
		s.mu.Unlock()
	}
	return n
}
