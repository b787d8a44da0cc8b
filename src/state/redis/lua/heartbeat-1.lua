--[[ heartbeat-1.lua  An instance says it is alive; instances silent for ttl ms are dropped.
  KEYS[1] instances   sorted set: member = instance id, score = last heartbeat (ms, Redis time)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] instance id   ARGV[3] ttl ms
  Returns the number of live instances, the caller included. O(log n + dropped). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
return redis.call('ZCARD', KEYS[1])
