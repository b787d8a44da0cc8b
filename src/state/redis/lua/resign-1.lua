--[[ resign-1.lua  Gives up leadership at once, only if the caller still holds it.
  KEYS[1] leader   hash: holder, until, epoch
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] holder
  Returns 1 when the caller was the leader, else 0. O(1). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'holder', 'until')
if h[1] ~= ARGV[2] or (tonumber(h[2]) or 0) <= now then return 0 end
redis.call('HSET', KEYS[1], 'holder', '', 'until', 0)
return 1
