--[[ consumer-settle-1.lua  Settles a request's tokens once its usage is known: backlog += (used − charged) units.
  KEYS[1] tokens  hash: backlog, at, limit
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] tpm   ARGV[3] used − charged (tokens; negative gives back)
  Returns {remaining, reset ms}. O(1). Giving back never goes below empty (unused budget is not
  banked); charging more may go past the limit: that debt makes the next requests wait
  (ConsumerRate.adjust). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local W = 60000
local limit = tonumber(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'backlog', 'at', 'limit')
local backlog = tonumber(h[1]) or 0
local at = tonumber(h[2])
local old = tonumber(h[3]) or limit
if at == nil then
  at = now
elseif now > at then
  backlog = math.max(0, backlog - (now - at) * old)
  at = now
end
backlog = math.max(0, backlog + tonumber(ARGV[3]) * W)
local resetMs = math.ceil(backlog / limit)
redis.call('HSET', KEYS[1], 'backlog', backlog, 'at', at, 'limit', limit)
redis.call('PEXPIRE', KEYS[1], resetMs + W)
return {math.max(0, math.floor((limit * W - backlog) / W)), resetMs}
