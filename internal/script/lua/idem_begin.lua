--! uses: lease
-- idem_begin starts or inspects the record of one Idempotency-Key. The
-- run in progress holds the record's lease; the record lives as long.
-- KEYS[1] record: hash fp, state ("running"|"done"), resp
-- KEYS[2] lease of the run in progress
-- ARGV[1] fingerprint, ARGV[2] token, ARGV[3] lease in ms
-- Returns {'new'}, {'mismatch'}, {'running'} or {'done', resp}.
local r = redis.call('HMGET', KEYS[1], 'fp', 'state', 'resp')
if r[1] then
  if r[1] ~= ARGV[1] then return {'mismatch'} end
  if r[2] == 'done' then return {'done', r[3]} end
end
if lease_take(KEYS[2], nil, ARGV[2], ARGV[3]) < 0 then return {'running'} end
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'running')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'new'}
