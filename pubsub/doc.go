// Package pubsub implements publish/subscribe over a shared go-redis client
// that reports every gap in delivery.
//
// Redis Pub/Sub is fire and forget: a message published while a subscriber
// is disconnected is gone. go-redis reconnects and resubscribes silently, so
// a program that keeps a local (L1) cache and relies on invalidation
// messages cannot tell that it missed some. A [PubSub] owns its receive
// loops: it notices a lost connection (a read error, an unanswered health
// check ping, a subscription the server dropped when a Cluster slot moved),
// reconnects with backoff, resubscribes, and then reports a [Gap] through
// [Options.OnGap] and the OpenTelemetry counter aside.pubsub.gaps. Messages
// dropped by a full buffer are reported as a gap too, so every message a
// subscriber did not handle is accounted for.
//
// Handlers run on a fixed number of goroutines per subscription
// ([Options.Concurrency]) fed by a bounded buffer ([Options.Buffer]); what
// happens when the buffer is full is the [Policy] ([Options.Overflow]).
//
// On a [redis.ClusterClient] a PubSub uses sharded Pub/Sub (SPUBLISH and
// SSUBSCRIBE) by default: a message travels only within the shard that owns
// the topic's hash slot instead of being broadcast to every node. Each
// subscription holds one connection per hash slot of its topics, routed to
// the slot's owner, and resubscribes when the slot moves. Patterns cannot be
// sharded; use [ModeClassic] for pattern subscriptions.
//
// A PubSub never closes the client it was given. [PubSub.Close] stops every
// subscription, waits for running handlers and leaves no goroutine behind.
package pubsub
