--[[ pace-1.lua  Takes one request on an upstream key's shared GCRA schedule, or says when it could go.
  KEYS[1] pace     hash: req = requests TAT, tok = tokens TAT, pause = paused until (ms, Redis time)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] request interval ms (0: not limited)
  ARGV[3] token interval ms (0: not limited)   ARGV[4] tokens this request costs
  Burst 1: a request goes when now has reached both TATs and the pause. Returns {1, 0} when
  granted (both TATs advanced), {0, wait ms} when not (nothing charged). O(1). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local reqInterval = tonumber(ARGV[2])
local tokInterval = tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'req', 'tok', 'pause')
local req = tonumber(h[1]) or now
local tok = tonumber(h[2]) or now
local pause = tonumber(h[3]) or now
local allowed = math.max(req, pause)
if tokInterval > 0 then allowed = math.max(allowed, tok) end
if allowed > now then
  return {0, allowed - now}
end
if reqInterval > 0 then req = math.max(req, now) + reqInterval end
if tokInterval > 0 then tok = math.max(tok, now) + tokInterval * tonumber(ARGV[4]) end
redis.call('HSET', KEYS[1], 'req', req, 'tok', tok, 'pause', pause)
-- Gone once every schedule is in the past: an idle key costs nothing.
redis.call('PEXPIRE', KEYS[1], math.max(1000, math.ceil(math.max(req, tok, pause) - now) + 1000))
return {1, 0}
