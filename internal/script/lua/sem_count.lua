--! uses: now
-- sem_count counts the live permits.
-- KEYS[1] holders
-- Returns the number of leases not yet ended.
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
