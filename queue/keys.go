package queue

import "github.com/aside-go/aside/internal/keys"

// The queue's scripts (internal/script/lua/queue_*.lua) keep every
// message's state in a handful of keys that share the queue's hash tag, so
// each script touches one slot:
//
//	{prefix|name}:ready     list of ids waiting; LPUSH at the back, RPOP at the front
//	{prefix|name}:inflight  sorted set id -> visibility deadline (ms, server clock)
//	{prefix|name}:delayed   sorted set id -> due time (ms, server clock)
//	{prefix|name}:dead      list of dead-lettered ids, oldest first
//	{prefix|name}:payload   hash id -> "max:payload", max = max deliveries (0: no limit)
//	{prefix|name}:count     hash id -> deliveries so far
//	{prefix|name}:token     hash id -> token of the current delivery (only while in flight)
//	{prefix|name}:error     hash id -> last error text
//	{prefix|name}:seq       counter that hands out delivery tokens
//	{prefix|name}:wake      list holding at most one token; idle workers block on it
//	{prefix|name}:dedupe    sorted set dedupe id -> expiry (ms)
//	{prefix|name}:dedupeid  hash dedupe id -> message id
//
// Every time comes from the server's TIME, so client clocks do not matter.
// A message's token field exists exactly while it is in flight.

// keyset holds the Redis keys of one queue, all in one hash slot.
type keyset struct {
	ready, inflight, delayed, dead string
	payload, count, token, error   string
	seq, wake, dedupe, dedupeID    string

	enqueue, fetch, ack, nack, extend, release, counts, peek, requeue, all []string
	remove, deadRecords                                                    []string
}

func newKeyset(prefix, name string) keyset {
	b := keys.Base(prefix, name)
	k := keyset{
		ready: keys.Sub(b, "ready"), inflight: keys.Sub(b, "inflight"), delayed: keys.Sub(b, "delayed"),
		dead: keys.Sub(b, "dead"), payload: keys.Sub(b, "payload"), count: keys.Sub(b, "count"),
		token: keys.Sub(b, "token"), error: keys.Sub(b, "error"),
		seq: keys.Sub(b, "seq"), wake: keys.Sub(b, "wake"), dedupe: keys.Sub(b, "dedupe"),
		dedupeID: keys.Sub(b, "dedupeid"),
	}
	k.enqueue = []string{k.ready, k.delayed, k.payload, k.dedupe, k.dedupeID, k.wake}
	k.fetch = []string{k.ready, k.inflight, k.delayed, k.dead, k.payload, k.count, k.token, k.error, k.seq, k.wake}
	k.ack = []string{k.inflight, k.payload, k.count, k.token, k.error}
	k.nack = []string{k.inflight, k.ready, k.delayed, k.dead, k.count, k.token, k.payload, k.error, k.wake}
	k.extend = []string{k.inflight, k.token}
	k.release = []string{k.inflight, k.ready, k.count, k.token, k.wake}
	k.counts = []string{k.ready, k.inflight, k.delayed, k.dead}
	k.peek = []string{k.dead, k.payload, k.count, k.error}
	k.requeue = []string{k.dead, k.ready, k.payload, k.count, k.wake}
	k.remove = []string{k.ready, k.inflight, k.delayed, k.dead, k.payload, k.count, k.token, k.error}
	k.deadRecords = []string{k.dead, k.payload, k.count, k.error}
	// all is what Purge deletes: every message, not the token counter.
	k.all = []string{k.ready, k.inflight, k.delayed, k.dead, k.payload, k.count, k.token, k.error,
		k.wake, k.dedupe, k.dedupeID}
	return k
}
