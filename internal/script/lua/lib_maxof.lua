-- lib maxof: maxOf(v) reads the max deliveries in front of a stored queue
-- message "max:payload" (0: no limit, or v is nil); the anchored pattern
-- stops at the colon, whatever the payload's size.
local function maxOf(v)
  if not v then return 0 end
  return tonumber(string.match(v, '^(%d+):')) or 0
end
