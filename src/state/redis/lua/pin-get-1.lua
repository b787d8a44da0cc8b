--[[ pin-get-1.lua  The upstream key that created an object, while its pin lasts.
  KEYS[1] pin   string: "<expiry ms, Redis time>|<key id>"
  ARGV[1] 0 (tests: a fixed now, ms)
  Returns the key id, or '' when there is no live pin. O(1). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local v = redis.call('GET', KEYS[1])
if not v then return '' end
local bar = string.find(v, '|', 1, true)
if tonumber(string.sub(v, 1, bar - 1)) <= now then
  redis.call('DEL', KEYS[1])
  return ''
end
return string.sub(v, bar + 1)
