// Package queue implements an at-least-once message queue on Redis lists
// that keeps every message until a handler has finished it.
//
// The well-known list queue (RPUSH to produce, BLPOP to consume, LREM to
// "acknowledge") loses a message whenever a consumer dies between popping
// and finishing it. Here, a delivery atomically moves the message from the
// ready list into an in-flight set with a visibility deadline and a fresh
// delivery token. The handler's worker extends the deadline with
// heartbeats while it runs; an ack or nack names the delivery by message
// ID and token, so a stale ack (from a delivery that was reclaimed and
// given to someone else) is rejected, and two equal payloads are two
// independent messages. Any live worker returns expired deliveries to the
// ready list, so a consumer killed with SIGKILL loses nothing: its
// messages are delivered again within VisibilityTimeout plus about a
// second.
//
// Failed deliveries are retried after an exponential backoff with jitter,
// through the delayed set. A handler error wrapping [ErrPermanent] (see
// [Permanent]) sends the message to the dead-letter list at once; so does
// reaching its max deliveries, with its last error kept. Dead letters can
// be inspected ([Queue.PeekDead]) and requeued ([Queue.RequeueDead]).
//
// Idle workers block on a wake list that every enqueue signals, with the
// fetch pipelined behind the blocking pop, so an idle queue delivers in one
// round trip, without polling. Blocking waits last at most
// [WorkerOptions.BlockTimeout], because go-redis cannot interrupt a
// blocking command when a context ends.
//
// Work moves in batches at a fixed cost per batch: [Queue.EnqueueMany]
// sends up to 1000 messages per script call, a fetch takes as many
// messages as there are idle handlers plus the prefetch (by default as
// many as the handlers finish in one fetch round trip), and acks ride on
// the next fetch.
//
// Every key of a queue shares the hash tag "{prefix|name}", so each Lua
// script touches one slot and the queue works unchanged on Redis Cluster;
// one queue lives on one shard, and spreading load means using several
// queues. All times (deadlines, delays) come from the Redis server's
// clock. The queue never closes the client it is given.
//
// Guarantees: a message whose [Queue.Enqueue] returned nil is delivered at
// least once, as long as Redis keeps the write (use appendonly with
// appendfsync always to survive a Redis crash). Duplicates happen when a
// consumer dies after handling but before its ack reaches Redis, or when
// a handler outlives its deadline while Redis is unreachable; handlers
// should be idempotent.
package queue
