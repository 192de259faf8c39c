package script

// Package cache.
var (
	CacheAcquire      = load("cache_acquire.lua")
	CacheFill         = load("cache_fill.lua")
	CacheRelease      = load("cache_release.lua")
	CacheVersionedSet = load("cache_versioned_set.lua")
	CacheVersionedDel = load("cache_versioned_del.lua")
	CacheBloomTest    = load("cache_bloom_test.lua")
	CacheBloomAdd     = load("cache_bloom_add.lua")
	CacheBloomSwap    = load("cache_bloom_swap.lua")
	CacheInspect      = load("cache_inspect.lua")
	CacheBloomInspect = load("cache_bloom_inspect.lua")
)
