// Package script holds every Lua script of aside and the one way to run
// them.
//
// Each script is an embedded file in lua/ that opens with its contract:
// the KEYS it touches (all in one hash slot, so it runs on a Redis
// Cluster), its ARGV and what it returns. A first line
//
//	--! uses: now lease
//
// names the libraries (lua/lib_NAME.lua) put in front of it: lib_now.lua
// reads the server clock once, lib_lease.lua is the token lease shared by
// locks, semaphores, cache fills, the HTTP response store and idempotency
// records, lib_maxof.lua reads a queue message's delivery limit. A script is run with EVALSHA and loaded on NOSCRIPT
// ([Script.Run]); [RunAll] runs many in one pipeline.
package script
