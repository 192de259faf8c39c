package script

// Package middleware: the HTTP response store and idempotency records
// (their leases are lease_*.lua).
var (
	MiddlewareStore = load("middleware_store.lua")
	MiddlewarePurge = load("middleware_purge.lua")
	MiddlewareTag   = load("middleware_tag.lua")
	IdemBegin       = load("idem_begin.lua")
	IdemComplete    = load("idem_complete.lua")
	IdemAbandon     = load("idem_abandon.lua")
	IdemRenew       = load("idem_renew.lua")
)
