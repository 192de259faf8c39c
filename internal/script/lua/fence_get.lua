-- fence_get reads a fenced resource.
-- KEYS[1] resource hash
-- Returns {value, fence}, both nil when absent.
return redis.call('HMGET', KEYS[1], 'value', 'fence')
