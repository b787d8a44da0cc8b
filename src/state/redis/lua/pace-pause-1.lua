--[[ pace-pause-1.lua  Holds an upstream key's shared schedule until now + ms (an upstream 429's Retry-After).
  KEYS[1] pace     hash: req, tok, pause (ms, Redis time); see pace-1.lua
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] ms
  Returns 1. O(1). A later pause never shortens an earlier one. ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local untilMs = now + tonumber(ARGV[2])
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause')) or 0
if untilMs > pause then
  redis.call('HSET', KEYS[1], 'pause', untilMs)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < untilMs - now + 1000 then redis.call('PEXPIRE', KEYS[1], untilMs - now + 1000) end
end
return 1
