-- lib maxof: reading a queue message's bookkeeping, never trusting it.
-- maxOf(v) reads the max deliveries in front of a stored message
-- "max:payload" (0: no limit); the anchored pattern stops at the colon,
-- whatever the payload's size. countOf(c) reads a delivery count (0 when
-- there is none). Both return nil for a value they cannot read (a corrupt
-- record): the caller dead-letters the message with corruptText, never
-- drops it and never reads "corrupt" as "no limit".
local corruptText = 'queue: corrupt bookkeeping (max deliveries or delivery count unreadable)'
local function maxOf(v)
  if not v then return nil end
  return tonumber(string.match(v, '^(%d+):'))
end
local function countOf(c)
  if not c then return 0 end
  return tonumber(c)
end
