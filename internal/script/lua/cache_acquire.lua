--! uses: lease
-- cache_acquire runs on a miss: it returns the value if one landed, else
-- tries to take the load lease, reading the version marker in the same
-- round trip (so the marker is read before the loader queries the source).
-- KEYS[1] value, KEYS[2] lease, KEYS[3] wake list (cleared when taken),
-- KEYS[4] version marker
-- ARGV[1] lease token, ARGV[2] lease TTL ms, ARGV[3] '1' to read the marker,
-- ARGV[4] '1' for a background refresh: take the lease over the stale value,
-- ARGV[5] without ARGV[4]: value bytes to treat as absent ('' none), a corrupt
--         entry to overwrite; with ARGV[4]: the stale bytes the refresh replaces
-- Returns {1, value}  a value exists (without ARGV[4]), or the value is no
--                     longer the stale one (with ARGV[4]: refreshed already)
--         {2, marker} the lease is ours (taken now, or by this token in a
--                     retried call); marker is '' if absent or not asked
--         {3}         another holder has the lease
local v = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  if v ~= ARGV[5] then return {1, v} end
elseif v and v ~= ARGV[5] then
  return {1, v}
end
if lease_take(KEYS[2], KEYS[3], ARGV[1], ARGV[2]) > 0 then
  local m = ''
  if ARGV[3] == '1' then m = redis.call('GET', KEYS[4]) or '' end
  return {2, m}
end
return {3}
