--! uses: lease
-- lease_take takes a lease whose waiters are woken through a wake list.
-- KEYS[1] lease, KEYS[2] wake list (cleared when taken)
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns 1 when taken (or already held by the token), else -1 - the ms
-- left on the current holder's lease.
local r = lease_take(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if r == 2 then return 1 end
return r
