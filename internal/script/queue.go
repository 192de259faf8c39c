package script

// Package queue: one queue's keys share a hash tag; lib_maxof.lua reads
// the max deliveries of a stored message.
var (
	QueueEnqueue     = load("queue_enqueue.lua")
	QueueFetch       = load("queue_fetch.lua")
	QueueAck         = load("queue_ack.lua")
	QueueNack        = load("queue_nack.lua")
	QueueExtend      = load("queue_extend.lua")
	QueueRelease     = load("queue_release.lua")
	QueueCounts      = load("queue_counts.lua")
	QueuePeekDead    = load("queue_peek_dead.lua")
	QueueRequeueDead = load("queue_requeue_dead.lua")
	// Inspection and repair, for operators (cmd/aside).
	QueuePeek          = load("queue_peek.lua")
	QueueDelete        = load("queue_delete.lua")
	QueueRequeueDeadID = load("queue_requeue_dead_id.lua")
	QueuePurgeDead     = load("queue_purge_dead.lua")
)
