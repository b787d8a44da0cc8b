--[[ acquire-lease-2.lua  Takes one permit lease on an upstream key if fewer than the key's limit are held.
  KEYS[1] leases   sorted set: member = lease id (<instance>/<n>), score = expiry (ms, Redis time)
  KEYS[2] law      hash {limit, accepted (-1: none, slow start), generation, fixedUntil}: the key's
                   concurrency limit as every instance enforces it, the learned state behind it,
                   and until when a fixed limit holds against offers
  ARGV[1] 0 (tests: a fixed now, ms)   ARGV[2] lease id   ARGV[3] limit   ARGV[4] ttl ms
  ARGV[5] 'fixed': ARGV[3] is a fixed limit and becomes the key's, held against offers for
          ARGV[9] ms (the learned state behind it is kept);
          'offer': ARGV[3], ARGV[7], ARGV[8] are one instance's learned state, taken when nothing is
          stored, when its generation is later (a cut, a probe or a reset comes after every growth
          it undoes), or at the same generation when its limit is higher or, with the same limit,
          its accepted (-1 lowest) — as offerWins in permits.ts;
          'reset': an admin reset, taken whatever is stored, at the generation after it
  ARGV[6] ttl ms of the law (an idle key forgets it, and the next instance offers afresh)
  ARGV[7] accepted (-1: none)   ARGV[8] generation   ARGV[9] ms a fixed limit holds
  Returns {granted 1|0, leases held after the call, limit, accepted, generation} as applied.
  O(log n + expired): expired leases (a crashed instance's) are dropped first, so they stop
  counting by themselves. ]]
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[4])
local mode = ARGV[5]
local limit, accepted, generation = tonumber(ARGV[3]), tonumber(ARGV[7]), tonumber(ARGV[8])
local stored = redis.call('HMGET', KEYS[2], 'limit', 'accepted', 'generation', 'fixedUntil')
if mode == 'fixed' then
  if stored[1] then accepted, generation = tonumber(stored[2]), tonumber(stored[3]) end
  redis.call('HSET', KEYS[2], 'limit', limit, 'accepted', accepted, 'generation', generation, 'fixedUntil', now + tonumber(ARGV[9]))
elseif not stored[1] then
  redis.call('HSET', KEYS[2], 'limit', limit, 'accepted', accepted, 'generation', generation)
else
  local sLimit, sAccepted, sGeneration = tonumber(stored[1]), tonumber(stored[2]), tonumber(stored[3])
  local take
  if mode == 'reset' then
    take = true
    if generation <= sGeneration then generation = sGeneration + 1 end
  elseif (tonumber(stored[4]) or 0) > now then take = false
  elseif generation ~= sGeneration then take = generation > sGeneration
  elseif limit ~= sLimit then take = limit > sLimit
  else take = accepted > sAccepted end
  if take then
    redis.call('HSET', KEYS[2], 'limit', limit, 'accepted', accepted, 'generation', generation)
  else
    limit, accepted, generation = sLimit, sAccepted, sGeneration
  end
end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= limit then
  return {0, held, limit, accepted, generation}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
-- The set itself goes once every lease in it has expired.
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, held + 1, limit, accepted, generation}
