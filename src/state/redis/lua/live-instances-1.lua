--[[ live-instances-1.lua  The instances heard from within ttl ms, most recent first.
  KEYS[1] instances   sorted set: member = instance id, score = last heartbeat (ms, Redis time)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] ttl ms
  Returns {id, ms since its heartbeat, id, …}. O(log n + dropped + live). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local rows = redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #rows, 2 do
  out[#out + 1] = rows[i]
  out[#out + 1] = now - tonumber(rows[i + 1])
end
return out
