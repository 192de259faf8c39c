--! uses: now
-- session_load reads a session and extends its idle timeout, enforcing its
-- absolute lifetime on the server's clock.
-- KEYS[1] session: a hash; field "mc" is its creation time in ms
-- ARGV[1] idle timeout in ms, ARGV[2] absolute lifetime in ms
-- Returns the hash as a flat array of fields and values; an empty array if
-- there is no session or it has outlived ARGV[2] (then it is deleted). A
-- session whose "mc" is unreadable is returned untouched for the client
-- to judge.
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return h end
local created
for i = 1, #h, 2 do
  if h[i] == 'mc' then created = tonumber(h[i + 1]) end
end
if not created then return h end
local left = created + tonumber(ARGV[2]) - now
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return {}
end
redis.call('PEXPIRE', KEYS[1], math.min(left, tonumber(ARGV[1])))
return h
