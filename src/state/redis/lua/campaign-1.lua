--[[ campaign-1.lua  Takes or renews the leadership of one name (the probe leader), with a fencing epoch.
  KEYS[1] leader   hash: holder, until (ms, Redis time), epoch (never expires: epochs only grow)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] holder   ARGV[3] ttl ms
  Returns {leader 1|0, epoch, ms left}: the holder renews its lease; a free or expired lease goes to
  the caller with epoch + 1; otherwise {0, current epoch, ms until the current lease ends}. O(1).
  (SET NX PX with a value check, as a hash: the epoch must outlive the lease.) ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'holder', 'until', 'epoch')
local holder = h[1] or ''
local until_ = tonumber(h[2]) or 0
local epoch = tonumber(h[3]) or 0
if holder ~= '' and until_ > now then
  if holder ~= ARGV[2] then return {0, epoch, until_ - now} end
  redis.call('HSET', KEYS[1], 'until', now + ttl)
  return {1, epoch, ttl}
end
epoch = epoch + 1
redis.call('HSET', KEYS[1], 'holder', ARGV[2], 'until', now + ttl, 'epoch', epoch)
return {1, epoch, ttl}
