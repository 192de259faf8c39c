-- lib bulk: one Redis call for many values instead of one call each, in
-- chunks of at most 1000 values so no call passes the limit of Lua's
-- unpack. bulk(cmd, key, list) runs cmd key list... (list of members, or of
-- field/value or score/member pairs: 1000 is even, so pairs never split);
-- hmget(key, ids) returns HMGET's reply for ids, false for a missing field.
local function bulk(cmd, key, list)
  for i = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
  end
end
local function hmget(key, ids)
  local out = {}
  for i = 1, #ids, 1000 do
    local part = redis.call('HMGET', key, unpack(ids, i, math.min(i + 999, #ids)))
    for j = 1, #part do out[i + j - 1] = part[j] end
  end
  return out
end
