--[[ renew-leases-1.lua  Extends an instance's leases on one upstream key (called in one pipeline per renewal tick).
  KEYS[1] leases   sorted set: member = lease id, score = expiry (ms, Redis time)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] ttl ms   ARGV[3..n] lease ids
  Returns, per lease id, 1 when it was still held (and now expires ttl from now), 0 when it had
  expired or been released: that request has lost its slot. O(k log n). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[2])
local out = {}
local any = false
for i = 3, #ARGV do
  local until_ = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]))
  if until_ ~= nil and until_ > now then
    redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
    out[#out + 1] = 1
    any = true
  else
    if until_ ~= nil then redis.call('ZREM', KEYS[1], ARGV[i]) end
    out[#out + 1] = 0
  end
end
if any then redis.call('PEXPIRE', KEYS[1], ttl) end
return out
