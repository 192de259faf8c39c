--! uses: now
-- sem_inspect reads a semaphore's holders and permits, changing nothing:
-- expired leases not yet removed are skipped, not deleted.
-- KEYS[1] holders, KEYS[2] permits while the semaphore has holders
-- Returns {permits, token, ms left, token, ms left, ...}: permits is false
-- when absent; the live holders come soonest-expiring first.
local out = {redis.call('GET', KEYS[2])}
local hs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
for i = 1, #hs, 2 do
  out[#out + 1] = hs[i]
  out[#out + 1] = tonumber(hs[i + 1]) - now
end
return out
