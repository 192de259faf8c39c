--! uses: lease
-- lease_renew extends a lease if the token still holds it.
-- KEYS[1] lease
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns 1 when extended, 0 when the token does not hold it.
return lease_renew(KEYS[1], ARGV[1], ARGV[2])
