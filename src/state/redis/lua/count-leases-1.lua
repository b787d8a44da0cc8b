--[[ count-leases-1.lua  The leases held on an upstream key now (for /status and the admin API, not the request path).
  KEYS[1] leases   sorted set: member = lease id, score = expiry (ms, Redis time)
  ARGV[1] 0 (tests: a fixed now, ms)
  Returns the ids of the live leases. O(log n + expired + held). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
