-- queue_counts reads the four counts of a queue at one instant.
-- KEYS[1] ready, KEYS[2] inflight, KEYS[3] delayed, KEYS[4] dead
-- Returns {ready, in flight, delayed, dead}.
return {redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]), redis.call('LLEN', KEYS[4])}
