--[[ spend-1.lua  A consumer's budget spend in the current period, summed across instances.
  KEYS[1] spend  hash: start (epoch ms of the period held), until (epoch ms it ends; -1: never),
                 pico (picodollars spent in it), seeded (1|0); consumer-admit-3.lua reads pico and until
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] period: day | week | month | total   ARGV[3] op: charge | read | seed
  ARGV[4] charge: picodollars to add · seed: the usage ledger's sum   ARGV[5] seed: the period start it was summed from
  Returns {picodollars spent, period start, ms until the next period (-1: never, 'total')}. O(1).
  Periods are UTC calendar periods worked out from Redis TIME (weeks start on Monday), as
  src/core/admit/budget.ts does from the wall clock; a clock that went back keeps the current
  period (starting an earlier one from 0 would hand out its budget twice). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local DAY = 86400000
local period = ARGV[2]

local function periodStart(p, t)
  if p == 'total' then return 0 end
  local days = math.floor(t / DAY)
  if p == 'day' then return days * DAY end
  if p == 'week' then return (days - (days + 3) % 7) * DAY end -- 1970-01-01 was a Thursday
  -- month: the day of the month from the civil date (Howard Hinnant's days → civil algorithm)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local dayOfMonth = doy - math.floor((153 * mp + 2) / 5) + 1
  return (days - dayOfMonth + 1) * DAY
end

local function nextStart(p, s)
  if p == 'total' then return -1 end
  if p == 'day' then return s + DAY end
  if p == 'week' then return s + 7 * DAY end
  return periodStart('month', s + 31 * DAY) -- 31 days after the 1st is always in the next month
end

local h = redis.call('HMGET', KEYS[1], 'start', 'pico', 'seeded')
local start = tonumber(h[1])
local pico = tonumber(h[2]) or 0
local seeded = h[3] == '1'
local current = periodStart(period, now)
local dirty = false
if start == nil or current > start then
  start = current; pico = 0; seeded = false; dirty = true
end

local op = ARGV[3]
if op == 'charge' then
  local add = tonumber(ARGV[4])
  if add > 0 then pico = pico + add; dirty = true end
elseif op == 'seed' then
  -- Only the period it was summed for, and only once: what instances charged before the seed
  -- may be in the ledger's sum already, so the larger of the two stands, never their total.
  if periodStart(period, tonumber(ARGV[5])) == start and not seeded then
    pico = math.max(pico, tonumber(ARGV[4])); seeded = true; dirty = true
  end
elseif op ~= 'read' then
  return redis.error_reply('unknown spend op ' .. op)
end

local nxt = nextStart(period, start)
if dirty then
  local s = '0'
  if seeded then s = '1' end
  redis.call('HSET', KEYS[1], 'start', start, 'until', nxt, 'pico', pico, 'seeded', s)
  if nxt >= 0 then redis.call('PEXPIRE', KEYS[1], math.max(nxt - now, 0) + DAY) end
end
local reset = -1
if nxt >= 0 then reset = nxt - now end
return {pico, start, reset}
