package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// readShards is the number of locks of a readTable (a power of two).
const readShards = 32

// readTable collapses concurrent Gets of one key in this process into one
// read: the first reader (the leader) sends the Redis GET and, on a miss,
// waits for the load; readers arriving meanwhile wait for its outcome, each
// on its own context. A cold key under a stampede thus costs one GET and
// one lease round trip per process instead of one GET per caller.
//
// The uncontended read pays two short critical sections and no allocation:
// the leader only records its id under the key; the shared readFlight is
// allocated by the second reader, the first one that needs to wait.
type readTable[V any] struct {
	seed   maphash.Seed
	shards [readShards]readShard[V]
}

type readShard[V any] struct {
	mu   sync.Mutex
	m    map[string]readSlot[V] // reads in flight, by user key
	next uint64                 // last id handed out
	// orphans are flights forgotten by an invalidation while readers were
	// joined to them: their leader still delivers there, but no new reader
	// joins them.
	orphans map[uint64]*readFlight[V]
	_       [32]byte // keep shards on separate cache lines
}

type readSlot[V any] struct {
	id uint64
	f  *readFlight[V] // nil until a second reader joins
}

// readFlight is one read's outcome, published to its joined readers by
// closing done.
type readFlight[V any] struct {
	done chan struct{}
	v    V
	err  error
	pe   *PanicError
	// retry: the outcome belonged to the leader alone (its context ended,
	// or its own deadline may have cut the round trip short), so the
	// joined readers read again instead of taking it.
	retry bool
	stat  *atomic.Int64 // the counter a joined reader bumps
	n     int           // readers joined; guarded by the shard's mu
}

func newReadTable[V any]() *readTable[V] {
	t := &readTable[V]{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]readSlot[V])
	}
	return t
}

func (t *readTable[V]) shard(key string) *readShard[V] {
	return &t.shards[maphash.String(t.seed, key)&(readShards-1)]
}

// begin registers a read of key. The first reader becomes the leader and
// gets its id (non-zero); a later one gets the flight to wait on.
func (t *readTable[V]) begin(key string) (id uint64, f *readFlight[V]) {
	s := t.shard(key)
	s.mu.Lock()
	if slot, ok := s.m[key]; ok {
		if slot.f == nil {
			slot.f = &readFlight[V]{done: make(chan struct{})}
			s.m[key] = slot
		}
		slot.f.n++
		s.mu.Unlock()
		return 0, slot.f
	}
	s.next++
	id = s.next
	s.m[key] = readSlot[V]{id: id}
	s.mu.Unlock()
	return id, nil
}

// finish ends the leader's read id of key and returns the flight its
// joined readers wait on, if any: the caller fills it and closes done.
func (t *readTable[V]) finish(key string, id uint64) *readFlight[V] {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot, ok := s.m[key]; ok && slot.id == id {
		delete(s.m, key)
		return slot.f
	}
	if f, ok := s.orphans[id]; ok {
		delete(s.orphans, id)
		return f
	}
	return nil
}

// forget makes the next reader of key start a new read instead of joining
// the one in flight (read-your-writes after Set, Delete, InvalidateLocal).
// Readers joined already keep waiting for the old read.
func (t *readTable[V]) forget(key string) {
	s := t.shard(key)
	s.mu.Lock()
	if slot, ok := s.m[key]; ok {
		delete(s.m, key)
		if slot.f != nil {
			if s.orphans == nil {
				s.orphans = map[uint64]*readFlight[V]{}
			}
			s.orphans[slot.id] = slot.f
		}
	}
	s.mu.Unlock()
}

// forgetAll forgets every read in flight (FlushLocal).
func (t *readTable[V]) forgetAll() {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, slot := range s.m {
			delete(s.m, k)
			if slot.f != nil {
				if s.orphans == nil {
					s.orphans = map[uint64]*readFlight[V]{}
				}
				s.orphans[slot.id] = slot.f
			}
		}
		s.mu.Unlock()
	}
}

// joined returns how many readers wait on the read of key in flight.
func (t *readTable[V]) joined(key string) int {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot, ok := s.m[key]; ok && slot.f != nil {
		return slot.f.n
	}
	return 0
}
