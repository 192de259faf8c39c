-- lib now: `now` is the server's clock in ms (TIME), read once per script,
-- so one clock judges every deadline whatever the clients' clocks say.
if redis.replicate_commands then redis.replicate_commands() end
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
