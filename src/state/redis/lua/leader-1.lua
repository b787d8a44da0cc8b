--[[ leader-1.lua  Who leads a name now.
  KEYS[1] leader   hash: holder, until, epoch
  ARGV[1] 0 (tests: a fixed now, ms)
  Returns {holder, epoch, ms left}, or {'', epoch, 0} when no lease is live. O(1). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'holder', 'until', 'epoch')
local until_ = tonumber(h[2]) or 0
local epoch = tonumber(h[3]) or 0
if not h[1] or h[1] == '' or until_ <= now then return {'', epoch, 0} end
return {h[1], epoch, until_ - now}
