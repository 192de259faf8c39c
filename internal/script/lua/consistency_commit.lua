--! uses: now
-- consistency_commit: after a write's first invalidation, schedule its
-- second delete (if any) and drop its intents, in one shard.
-- KEYS[1]: the shard's schedule sorted set
-- KEYS[2]: the shard's intent sorted set
-- ARGV[1]: milliseconds until the second delete (0: none)
-- ARGV[2..]: pairs of (base key, intent member)
-- Returns the server time in milliseconds. An already scheduled delete of
-- the same key keeps the later of the two due times, so one delete that runs
-- after every write's delay covers them all.
local delay = tonumber(ARGV[1])
local due = now + delay
for i = 2, #ARGV, 2 do
  if delay > 0 then
    local cur = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if not cur or tonumber(cur) < due then
      redis.call('ZADD', KEYS[1], due, ARGV[i])
    end
  end
  redis.call('ZREM', KEYS[2], ARGV[i + 1])
end
return now
