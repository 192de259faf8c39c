--! uses: now
-- consistency_intent: record write intents in one schedule shard.
-- KEYS[1]: the shard's intent sorted set
-- ARGV[1]: milliseconds until the intents fall due
-- ARGV[2..]: intent members ("<16 hex id>:<base key>")
-- Returns the server time in milliseconds. Scores are server time (TIME),
-- so instances with skewed clocks agree on when an entry is due.
local due = now + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], due, ARGV[i])
end
return now
