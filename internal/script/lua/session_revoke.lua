--! uses: now counter
-- session_revoke ends every session bound to a user before now: it moves
-- the user's generation past every value a session recorded at binding.
-- KEYS[1] the user's generation counter
-- ARGV[1] its lifetime in ms (the sessions' absolute lifetime: no session
--         bound before the counter's last move outlives it)
-- Returns the new generation.
return counter_next(KEYS[1], ARGV[1])
