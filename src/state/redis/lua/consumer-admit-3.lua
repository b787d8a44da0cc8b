--[[ consumer-admit-3.lua  One request against a consumer's budget, RPM and TPM, across every instance.
  KEYS[1] requests  hash: backlog, at, limit    KEYS[2] tokens  hash: backlog, at, limit
  KEYS[3] spend     hash of spend-1.lua: pico, until (ms the period ends; -1: never), seeded (1|0)
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] rpm (0: no limit)   ARGV[3] tpm (0: no limit)   ARGV[4] estimated tokens
  ARGV[5] budget in picodollars (-1: no budget)
  Returns {ok 1|0, refused by (0 none, 1 requests, 2 tokens, 3 budget), too large 1|0, retry after ms (-1: never),
           requests remaining, requests reset ms, tokens remaining, tokens reset ms, picodollars spent (-1: no budget),
           seeded (1: the period's spend holds the usage ledger's sum; 0: not yet, or a Redis that lost it; -1: no budget)}. O(1).
  The budget is checked first (src/core/admit/registry.ts): a request refused for it takes no rate
  slot. Spend is only read here; spend-1.lua charges it once usage is known.
  The GCRA of src/core/admit/consumer-rate.ts, integer for integer: burst = the whole limit, kept
  as backlog = (TAT − at) × limit so a unit costs 60 000 and every boundary is exact. Both
  dimensions are taken when both fit, else neither (src/core/admit/consumer-limiter.ts). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local W = 60000

-- Drains with the limit in force until now, then takes the new one (ConsumerRate.reconfigure).
-- No limit: the state is dropped, and a limit turned on later starts full.
local function load(key, limit)
  if limit == 0 then
    redis.call('DEL', key)
    return nil
  end
  local h = redis.call('HMGET', key, 'backlog', 'at', 'limit')
  local r = { key = key, backlog = tonumber(h[1]) or 0, at = tonumber(h[2]), limit = tonumber(h[3]) or limit }
  if r.at == nil then
    r.at = now
  elseif now > r.at then
    r.backlog = math.max(0, r.backlog - (now - r.at) * r.limit)
    r.at = now
  end
  r.limit = limit
  r.capacity = limit * W
  return r
end

-- {fits, too large, wait ms (-1: never)} for `amount` units, as ConsumerRate.#evaluate.
local function check(r, amount)
  if r == nil then return true, false, 0 end
  local need = math.max(0, amount) * W
  if need > r.capacity then return false, true, -1 end
  local excess = r.backlog + need - r.capacity
  if excess <= 0 then return true, false, 0 end
  return false, false, math.ceil(excess / r.limit)
end

local function save(r)
  if r == nil then return 0, 0 end
  local resetMs = math.ceil(r.backlog / r.limit)
  redis.call('HSET', r.key, 'backlog', r.backlog, 'at', r.at, 'limit', r.limit)
  -- Once full again the state is the same as none.
  redis.call('PEXPIRE', r.key, resetMs + W)
  return math.max(0, math.floor((r.capacity - r.backlog) / W)), resetMs
end

local req = load(KEYS[1], tonumber(ARGV[2]))
local tok = load(KEYS[2], tonumber(ARGV[3]))
local estimate = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local spent, seeded = -1, -1
local overBudget, budgetRetry = false, -1
if budget >= 0 then
  local h = redis.call('HMGET', KEYS[3], 'pico', 'until', 'seeded')
  spent = tonumber(h[1]) or 0
  seeded = 0
  if h[3] == '1' then seeded = 1 end
  local ends = tonumber(h[2]) or -1
  -- A period that has ended holds nothing spent: the next charge starts the new one.
  if ends >= 0 and now >= ends then spent, seeded = 0, 0 end
  if spent >= budget then
    overBudget = true
    if ends >= 0 then budgetRetry = ends - now end
  end
end
local rOk, _, rWait = check(req, 1)
local tOk, tLarge, tWait = check(tok, estimate)
local ok, refusedBy, tooLarge, retry = 1, 0, 0, 0
if overBudget then
  ok, refusedBy, retry = 0, 3, budgetRetry
elseif rOk and tOk then
  if req ~= nil then req.backlog = req.backlog + W end
  if tok ~= nil then tok.backlog = tok.backlog + math.max(0, estimate) * W end
elseif tLarge then
  ok, refusedBy, tooLarge, retry = 0, 2, 1, -1
else
  ok = 0
  if tWait > rWait then refusedBy = 2 else refusedBy = 1 end
  retry = math.max(rWait, tWait)
end
local rRemaining, rReset = save(req)
local tRemaining, tReset = save(tok)
return {ok, refusedBy, tooLarge, retry, rRemaining, rReset, tRemaining, tReset, spent, seeded}
