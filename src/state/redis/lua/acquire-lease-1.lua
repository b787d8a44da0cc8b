--[[ acquire-lease-1.lua  Takes one permit lease on an upstream key if fewer than the limit are held.
  KEYS[1] leases   sorted set: member = lease id (<instance>/<n>), score = expiry (ms, Redis time)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] lease id   ARGV[3] limit   ARGV[4] ttl ms
  Returns {granted 1|0, leases held after the call}. O(log n + expired): expired leases (a crashed
  instance's) are dropped first, so they stop counting by themselves. ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[3]) then
  return {0, held}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
-- The set itself goes once every lease in it has expired.
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, held + 1}
