--! uses: now
-- session_save writes the changed fields of a session, so that concurrent
-- requests changing different fields both keep theirs.
-- KEYS[1] session: a hash; field "mc" is its creation time in ms
-- ARGV[1] "new" to create the session (refused if it exists), "upd" to
--         change one (refused if it is gone: destroyed, renewed, revoked
--         or expired meanwhile, so a late save never brings it back)
-- ARGV[2] idle timeout in ms, ARGV[3] absolute lifetime in ms
-- ARGV[4] creation time in ms for "new" ("" for the server's now)
-- ARGV[5] n, the number of fields to set; then n field-value pairs; then
--         the fields to delete
-- Returns 1 when saved, 0 when refused.
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] == 'new' then
  if exists then return 0 end
  local mc = ARGV[4]
  if mc == '' then mc = now end
  redis.call('HSET', KEYS[1], 'mc', mc)
elseif not exists then
  return 0
end
local n = tonumber(ARGV[5])
if n > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6, 5 + 2 * n))
end
if #ARGV >= 6 + 2 * n then
  redis.call('HDEL', KEYS[1], unpack(ARGV, 6 + 2 * n, #ARGV))
end
local created = tonumber(redis.call('HGET', KEYS[1], 'mc')) or now
local left = created + tonumber(ARGV[3]) - now
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('PEXPIRE', KEYS[1], math.min(left, tonumber(ARGV[2])))
return 1
