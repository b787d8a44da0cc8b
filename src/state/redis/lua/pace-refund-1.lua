--[[ pace-refund-1.lua  Gives back a place taken on an upstream key's shared schedule (the request was not sent).
  KEYS[1] pace     hash: req, tok, pause (ms, Redis time); see pace-1.lua
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] request interval ms   ARGV[3] token interval ms
  ARGV[4] tokens
  Returns 1. O(1). A TAT moves back by what the take added, never into the past: unused pace is not banked. ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local h = redis.call('HMGET', KEYS[1], 'req', 'tok')
if not h[1] then return 1 end
local req = math.max(now, tonumber(h[1]) - tonumber(ARGV[2]))
local tok = math.max(now, tonumber(h[2]) - tonumber(ARGV[3]) * tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'req', req, 'tok', tok)
return 1
