package script

// Leases (lib_lease.lua), shared by every package that takes one.
var (
	LeaseTake    = load("lease_take.lua")
	LeaseTry     = load("lease_try.lua")
	LeaseRelease = load("lease_release.lua")
	LeaseRenew   = load("lease_renew.lua")
	LeasePTTL    = load("lease_pttl.lua")
	LeasePassOn  = load("lease_pass_on.lua")
)

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
)
