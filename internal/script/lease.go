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
