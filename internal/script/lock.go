package script

// Package lock.
var (
	LockObtain  = load("lock_obtain.lua")
	LockRelease = load("lock_release.lua")
	SemAcquire  = load("sem_acquire.lua")
	SemRelease  = load("sem_release.lua")
	SemRefresh  = load("sem_refresh.lua")
	SemPTTL     = load("sem_pttl.lua")
	SemPassOn   = load("sem_pass_on.lua")
	SemCount    = load("sem_count.lua")
	FenceSet    = load("fence_set.lua")
	FenceGet    = load("fence_get.lua")
	LockInspect = load("lock_inspect.lua")
	SemInspect  = load("sem_inspect.lua")
)
