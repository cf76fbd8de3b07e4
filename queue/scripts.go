package queue

import "github.com/redis/go-redis/v9"

// Every script gets the seven keys of one queue in this order (see keys) and
// keeps the live index in step with the stream, the delayed set and the dead
// letters. Redis runs a script atomically and replicates its effects as one
// unit, so a replica or a restarted server never sees half of a change.
const luaPrelude = `
local stream, delayed, djobs, live, dead, deadat, deaderr = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

-- alive returns where a live job is ("d" or "s:<entry>") after checking that
-- the index entry is true; a stale entry is removed.
local function alive(id)
  local loc = redis.call('HGET', live, id)
  if not loc then return nil end
  if loc == 'd' then
    if redis.call('ZSCORE', delayed, id) then return loc end
  else
    local eid = string.sub(loc, 3)
    if #redis.call('XRANGE', stream, eid, eid) > 0 then return loc end
  end
  redis.call('HDEL', live, id)
  return nil
end

local function toready(id, blob)
  local eid = redis.call('XADD', stream, '*', 'id', id, 'j', blob)
  redis.call('HSET', live, id, 's:' .. eid)
  return eid
end

local function todelayed(id, blob, due)
  redis.call('ZADD', delayed, due, id)
  redis.call('HSET', djobs, id, blob)
  redis.call('HSET', live, id, 'd')
end

local function todead(id, blob, err, now)
  redis.call('HSET', dead, id, blob)
  redis.call('ZADD', deadat, now, id)
  redis.call('HSET', deaderr, id, err)
end

local function undead(id)
  if redis.call('HDEL', dead, id) == 1 then
    redis.call('ZREM', deadat, id)
    redis.call('HDEL', deaderr, id)
    return true
  end
  return false
end

-- finish acknowledges and deletes a stream entry; it never fails on a
-- missing group (Redis lost it: the entry is gone anyway).
local function finish(group, eid)
  local n = redis.pcall('XACK', stream, group, eid)
  redis.call('XDEL', stream, eid)
  if type(n) == 'number' then return n end
  return 0
end
`

// scriptEnqueue: ARGV id, blob, due ms, now ms. Returns 1 added, 2 an
// existing delayed copy brought forward, 0 already live.
var scriptEnqueue = redis.NewScript(luaPrelude + `
local id, blob, due, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local loc = alive(id)
if loc then
  if loc == 'd' then
    local score = tonumber(redis.call('ZSCORE', delayed, id))
    if due < score then
      if due <= now then
        local old = redis.call('HGET', djobs, id)
        redis.call('ZREM', delayed, id)
        redis.call('HDEL', djobs, id)
        toready(id, old or blob)
      else
        redis.call('ZADD', delayed, due, id)
      end
      return 2
    end
  end
  return 0
end
undead(id)
if due <= now then toready(id, blob) else todelayed(id, blob, due) end
return 1
`)

// scriptRestore: ARGV now ms, then id, blob pairs. Makes ready every job that
// is neither live nor dead; returns how many.
var scriptRestore = redis.NewScript(luaPrelude + `
local n = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if not alive(id) and redis.call('HEXISTS', dead, id) == 0 then
    toready(id, ARGV[i + 1])
    n = n + 1
  end
end
return n
`)

// scriptMove: ARGV now ms, limit. Moves due delayed jobs to the stream in
// due order; returns {moved, next due ms or -1}.
var scriptMove = redis.NewScript(luaPrelude + `
local ids = redis.call('ZRANGEBYSCORE', delayed, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local blob = redis.call('HGET', djobs, id)
  redis.call('ZREM', delayed, id)
  redis.call('HDEL', djobs, id)
  if blob then toready(id, blob) else redis.call('HDEL', live, id) end
end
local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local nd = -1
if nxt[2] then nd = tonumber(nxt[2]) end
return {#ids, nd}
`)

// scriptAck: ARGV group, entry ID, job ID. Returns 1 if the entry was pending.
var scriptAck = redis.NewScript(luaPrelude + `
local n = finish(ARGV[1], ARGV[2])
if redis.call('HGET', live, ARGV[3]) == 's:' .. ARGV[2] then redis.call('HDEL', live, ARGV[3]) end
return n
`)

// scriptAckMany: ARGV group, then entry ID, job ID pairs. scriptAck for
// many jobs in one call; returns how many entries were pending.
var scriptAckMany = redis.NewScript(luaPrelude + `
local n = 0
for i = 2, #ARGV, 2 do
  n = n + finish(ARGV[1], ARGV[i])
  if redis.call('HGET', live, ARGV[i + 1]) == 's:' .. ARGV[i] then redis.call('HDEL', live, ARGV[i + 1]) end
end
return n
`)

// scriptRetry: ARGV group, entry ID, job ID, blob, due ms, now ms. Replaces
// the entry by a new attempt unless the job was dropped or another copy is
// live; returns 1 if it scheduled the attempt.
var scriptRetry = redis.NewScript(luaPrelude + `
local group, eid, id, blob, due, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
finish(group, eid)
if redis.call('HGET', live, id) ~= 's:' .. eid then return 0 end
if due <= now then toready(id, blob) else todelayed(id, blob, due) end
return 1
`)

// scriptDead: ARGV group, entry ID, job ID, blob, error, now ms. Moves the
// entry to the dead letters unless the job was dropped or another copy is
// live; returns 1 if it did.
var scriptDead = redis.NewScript(luaPrelude + `
local group, eid, id = ARGV[1], ARGV[2], ARGV[3]
finish(group, eid)
if redis.call('HGET', live, id) ~= 's:' .. eid then return 0 end
redis.call('HDEL', live, id)
todead(id, ARGV[4], ARGV[5], tonumber(ARGV[6]))
return 1
`)

// scriptReclaim: ARGV group, consumer, min idle ms, count, max deliveries,
// now ms, start cursor. Claims entries whose lease ran out (XAUTOCLAIM from
// the cursor) and dead-letters those delivered more than max deliveries
// times. Returns {{{entry ID, job ID, blob, deliveries}...}, dead-lettered
// count, next cursor ("0-0" after the end of the pending list)}.
var scriptReclaim = redis.NewScript(luaPrelude + `
local group, consumer, maxd, now = ARGV[1], ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
local r = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[3], ARGV[7], 'COUNT', ARGV[4])
local out, ndead = {}, 0
for _, e in ipairs(r[2]) do
  local eid, f = e[1], e[2]
  local id, blob
  if type(f) == 'table' then
    for i = 1, #f, 2 do
      if f[i] == 'id' then id = f[i + 1] elseif f[i] == 'j' then blob = f[i + 1] end
    end
  end
  if not id or not blob then
    finish(group, eid)
  else
    local p = redis.call('XPENDING', stream, group, eid, eid, 1)
    local n = 1
    if p[1] then n = p[1][4] end
    if n > maxd then
      finish(group, eid)
      if redis.call('HGET', live, id) == 's:' .. eid then
        redis.call('HDEL', live, id)
        todead(id, blob, 'delivered ' .. n .. ' times without an answer: the job keeps killing workers', now)
        ndead = ndead + 1
      end
    else
      table.insert(out, {eid, id, blob, n})
    end
  end
end
return {out, ndead, r[1]}
`)

// scriptHeartbeat: ARGV group, consumer, entry IDs. Renews the lease of the
// entries this consumer still owns (XCLAIM JUSTID resets their idle time
// without counting a delivery); returns how many.
var scriptHeartbeat = redis.NewScript(luaPrelude + `
local group, consumer = ARGV[1], ARGV[2]
local keep = {}
for i = 3, #ARGV do
  local p = redis.pcall('XPENDING', stream, group, ARGV[i], ARGV[i], 1)
  if type(p) == 'table' and p[1] and p[1][2] == consumer then table.insert(keep, ARGV[i]) end
end
local n = #keep
if n > 0 then
  table.insert(keep, 'JUSTID')
  redis.call('XCLAIM', stream, group, consumer, 0, unpack(keep))
end
return n
`)

// scriptDrop: ARGV group, job ID. Removes the job wherever it is; returns 1
// if it was anywhere.
var scriptDrop = redis.NewScript(luaPrelude + `
local group, id = ARGV[1], ARGV[2]
local n = 0
local loc = redis.call('HGET', live, id)
if loc then
  if loc == 'd' then
    redis.call('ZREM', delayed, id)
    redis.call('HDEL', djobs, id)
  else
    finish(group, string.sub(loc, 3))
  end
  redis.call('HDEL', live, id)
  n = 1
end
if undead(id) then n = 1 end
return n
`)

// scriptRetryDead: ARGV limit, then job IDs (none: the oldest limit dead
// letters). Makes dead jobs ready again; returns how many.
var scriptRetryDead = redis.NewScript(luaPrelude + `
local ids = {}
if #ARGV > 1 then
  for i = 2, #ARGV do table.insert(ids, ARGV[i]) end
else
  ids = redis.call('ZRANGE', deadat, 0, tonumber(ARGV[1]) - 1)
end
local n = 0
for _, id in ipairs(ids) do
  local blob = redis.call('HGET', dead, id)
  if blob then
    undead(id)
    if not alive(id) then toready(id, blob) end
    n = n + 1
  else
    redis.call('ZREM', deadat, id)
    redis.call('HDEL', deaderr, id)
  end
end
return n
`)

// scriptStats: ARGV group. Returns {stream length, pending, delayed, dead,
// first ready entry ID or false}.
var scriptStats = redis.NewScript(luaPrelude + `
local group = ARGV[1]
local xlen = redis.call('XLEN', stream)
local pending, last = 0, '0-0'
local g = redis.pcall('XINFO', 'GROUPS', stream)
if type(g) == 'table' and not g.err then
  for _, grp in ipairs(g) do
    local name, pend, ld
    for i = 1, #grp, 2 do
      if grp[i] == 'name' then name = grp[i + 1]
      elseif grp[i] == 'pending' then pend = grp[i + 1]
      elseif grp[i] == 'last-delivered-id' then ld = grp[i + 1] end
    end
    if name == group then pending, last = pend, ld end
  end
end
local first = false
local r = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1)
if r[1] then first = r[1][1] end
return {xlen, pending, redis.call('ZCARD', delayed), redis.call('HLEN', dead), first, last}
`)

// scriptDeleteConsumers: ARGV group, min idle ms, consumer names (none: any
// consumer idle longer than min idle). Deletes those with nothing pending;
// returns how many.
var scriptDeleteConsumers = redis.NewScript(luaPrelude + `
local group, minidle = ARGV[1], tonumber(ARGV[2])
local want = {}
for i = 3, #ARGV do want[ARGV[i]] = true end
local cs = redis.pcall('XINFO', 'CONSUMERS', stream, group)
if type(cs) ~= 'table' or cs.err then return 0 end
local n = 0
for _, c in ipairs(cs) do
  local name, pend, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pend = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if pend == 0 and idle >= minidle and (#ARGV == 2 or want[name]) then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, name)
    n = n + 1
  end
end
return n
`)
