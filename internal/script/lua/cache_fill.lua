--! uses: lease
-- cache_fill writes a loaded value (or a negative entry), releases the
-- lease and wakes the waiters, handing them the entry. The waiters are
-- woken even when the token no longer holds the lease (or there is none):
-- they wait for the value, not for the lease.
-- KEYS[1] value, KEYS[2] lease, KEYS[3] wake list, KEYS[4] version marker
-- ARGV[1] entry bytes, ARGV[2] value TTL ms, ARGV[3] lease token ('' none),
-- ARGV[4] '1' if versioned: write only if the marker still equals ARGV[5],
-- ARGV[5] marker read when the lease was taken ('' = absent),
-- ARGV[6] '1' for a negative entry: written with SET NX, never over a value,
-- ARGV[7] wake list TTL ms,
-- ARGV[8] bytes under KEYS[1] that a negative entry may replace ('' none):
--         the stale or corrupt value this load replaces
-- Returns 1 if written, 0 if skipped (marker changed, or a value exists)
local written = 0
local ok = true
if ARGV[4] == '1' then
  if (redis.call('GET', KEYS[4]) or '') ~= ARGV[5] then ok = false end
end
if ok then
  if ARGV[6] == '1' then
    if ARGV[8] ~= '' and redis.call('GET', KEYS[1]) == ARGV[8] then
      redis.call('DEL', KEYS[1])
    end
    if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then written = 1 end
  else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    written = 1
  end
end
if ARGV[3] ~= '' then lease_release(KEYS[2], nil, ARGV[3]) end
-- the wake message is the entry itself when it was written (up to 64 KiB),
-- so a woken waiter needs no further round trip; else '1': read again
local msg = '1'
if written == 1 and #ARGV[1] <= 65536 then msg = ARGV[1] end
lease_wake(KEYS[3], msg, ARGV[7])
return written
