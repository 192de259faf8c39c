package script

// Package middleware/session: shared sessions.
var (
	SessionLoad   = load("session_load.lua")
	SessionSave   = load("session_save.lua")
	SessionRevoke = load("session_revoke.lua")
)
