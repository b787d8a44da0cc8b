--[[ breaker-1.lua  One upstream key's shared breaker: state, open period, half-open trial owner. Every transition is here.
  KEYS[1] breaker  hash: state, open_until, opens, successes, trial, trial_until, reason, fence
  ARGV[1] 0 (tests: a fixed now, ms)
  ARGV[2] op       read | trip | claim | trial | probe | disable | enable
  ARGV[3] subject  claim, trial: the holder · probe: the probe leader's fencing epoch · disable: auth | admin
  ARGV[4] detail   claim: trial ttl ms · trial, probe: success | failure | released · disable: half-open after ms (-1: never by time)
  ARGV[5] openMs   ARGV[6] maxOpenMs   ARGV[7] jitter factor   ARGV[8] success threshold   (the policy; read when opening or closing)
  Returns {state, wait ms (-1: not by time alone), opens, successes, trial held 1|0, disabled reason or '', applied 1|0}. O(1).
  Only the state a report arrives in decides what it means (as src/core/breaker/key-breaker.ts):
  a trip opens only a closed breaker, so ten instances tripping together open it once; only the
  trial's holder settles the trial; a probe verdict with an epoch older than one already written
  here is refused (fencing: a stale probe leader). ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local op = ARGV[2]
local h = redis.call('HMGET', KEYS[1], 'state', 'open_until', 'opens', 'successes', 'trial', 'trial_until', 'reason', 'fence')
local state = h[1] or 'closed'
local openUntil = tonumber(h[2]) or 0
local opens = tonumber(h[3]) or 0
local successes = tonumber(h[4]) or 0
local trial = h[5] or ''
local trialUntil = tonumber(h[6]) or 0
local reason = h[7] or ''
local fence = tonumber(h[8]) or 0
local dirty = false
local applied = 0

-- Lazy transitions whose time has come; a trial whose holder vanished is free again.
if trial ~= '' and now >= trialUntil then trial = ''; dirty = true end
if state == 'open' and now >= openUntil then
  state = 'half-open'; openUntil = 0; dirty = true
elseif state == 'disabled' and reason == 'auth' and openUntil > 0 and now >= openUntil then
  state = 'half-open'; openUntil = 0; reason = ''; dirty = true
end

local function open()
  opens = opens + 1
  local base = math.min(tonumber(ARGV[6]), tonumber(ARGV[5]) * 2 ^ math.min(opens - 1, 40))
  state = 'open'; openUntil = now + math.floor(base * tonumber(ARGV[7])); successes = 0; reason = ''
end
local function close()
  state = 'closed'; openUntil = 0; opens = 0; successes = 0; reason = ''
end
local function countSuccess()
  successes = successes + 1
  if successes >= tonumber(ARGV[8]) then close() end
end

if op == 'trip' then
  if state == 'closed' then open(); applied = 1 end
elseif op == 'claim' then
  if state == 'half-open' and trial == '' then
    trial = ARGV[3]; trialUntil = now + tonumber(ARGV[4]); applied = 1
  end
elseif op == 'trial' then
  if trial ~= '' and trial == ARGV[3] then
    trial = ''; applied = 1
    if state == 'half-open' then
      if ARGV[4] == 'success' then countSuccess() elseif ARGV[4] == 'failure' then open() end
    end
  end
elseif op == 'probe' then
  local epoch = tonumber(ARGV[3])
  if epoch >= fence then
    if epoch > fence then fence = epoch; dirty = true end
    if state == 'open' or state == 'half-open' or (state == 'disabled' and reason == 'auth') then
      applied = 1
      if ARGV[4] == 'success' then
        countSuccess()
      elseif ARGV[4] == 'failure' then
        successes = 0
        if state == 'half-open' then open() end
      end
    end
  end
elseif op == 'disable' then
  if not (state == 'disabled' and (ARGV[3] == 'auth' or reason == 'admin')) then
    state = 'disabled'; reason = ARGV[3]; successes = 0; applied = 1
    local after = tonumber(ARGV[4])
    if ARGV[3] == 'auth' and after >= 0 then openUntil = now + after else openUntil = 0 end
  end
elseif op == 'enable' then
  if state ~= 'closed' then close(); applied = 1 end
elseif op ~= 'read' then
  return redis.error_reply('unknown breaker op ' .. op)
end

if dirty or applied == 1 then
  redis.call('HSET', KEYS[1], 'state', state, 'open_until', openUntil, 'opens', opens, 'successes', successes,
    'trial', trial, 'trial_until', trialUntil, 'reason', reason, 'fence', fence)
end
local wait = 0
if state == 'half-open' then
  if trial ~= '' then wait = -1 end
elseif state == 'open' then
  wait = openUntil - now
elseif state == 'disabled' then
  if openUntil > 0 then wait = openUntil - now else wait = -1 end
end
local held = 0
if trial ~= '' then held = 1 end
return {state, wait, opens, successes, held, reason, applied}
