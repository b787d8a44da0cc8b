--[[ pin-set-1.lua  Remembers which upstream key created an object, for ttl ms.
  KEYS[1] pin   string: "<expiry ms, Redis time>|<key id>"
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] key id   ARGV[3] ttl ms
  Returns 1. O(1). The expiry is kept in the value and checked against TIME on read (the PX only
  collects the garbage), so every instance agrees on when a pin ends. ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], (now + ttl) .. '|' .. ARGV[2], 'PX', ttl)
return 1
