package script

// Package consistency: the durable schedule of write intents and second
// deletes, one shard's sorted sets per call.
var (
	ConsistencyIntent = load("consistency_intent.lua")
	ConsistencyCommit = load("consistency_commit.lua")
	ConsistencyClaim  = load("consistency_claim.lua")
	ConsistencyDone   = load("consistency_done.lua")
)
