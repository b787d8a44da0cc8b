--[[ acquire-lease-2.lua  Takes one permit lease on an upstream key if fewer than the key's limit are held.
  KEYS[1] leases   sorted set: member = lease id (<instance>/<n>), score = expiry (ms, Redis time)
  KEYS[2] limit    string: the key's limit as every instance enforces it (the last one announced)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] lease id   ARGV[3] limit   ARGV[4] ttl ms
  ARGV[5] 1: ARGV[3] is announced (a fixed limit, or one this instance just learned) and becomes
          the key's limit; 0: ARGV[3] applies only while no instance has announced one
  ARGV[6] ttl ms of the announced limit (an idle key forgets it, and the next instance announces afresh)
  Returns {granted 1|0, leases held after the call, the limit applied}. O(log n + expired):
  expired leases (a crashed instance's) are dropped first, so they stop counting by themselves. ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[4])
local limit = tonumber(ARGV[3])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[2], limit, 'PX', ARGV[6])
else
  local shared = redis.call('GET', KEYS[2])
  if shared then limit = tonumber(shared) else redis.call('SET', KEYS[2], limit, 'PX', ARGV[6]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= limit then
  return {0, held, limit}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
-- The set itself goes once every lease in it has expired.
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, held + 1, limit}
