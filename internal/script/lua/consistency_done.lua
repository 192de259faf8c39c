-- consistency_done: release the claims an instance has carried out.
-- KEYS[1]: the shard's claim sorted set
-- ARGV[1]: the deadline the claims were taken with
-- ARGV[2..]: the claimed members
-- Returns the number of claims removed. A member claimed again since (its
-- deadline changed) belongs to the newer claim and is left alone.
local n = 0
local deadline = tonumber(ARGV[1])
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == deadline then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
