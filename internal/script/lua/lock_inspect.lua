-- lock_inspect reads a lock and its fence counter, changing nothing.
-- KEYS[1] lock, KEYS[2] fence counter
-- Returns {token, lock PTTL ms, fence}: token and fence are false when
-- absent; the PTTL is -2 for a free lock (-1: no expiry, which this
-- package never writes).
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2])}
