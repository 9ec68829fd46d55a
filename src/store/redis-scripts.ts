/**
 * The Redis store's Lua scripts. Each operation is one script, so each is atomic on the server
 * (no other command runs in between) and costs one round trip. They repeat the rules of the
 * planners in core.ts; test/store/contract.ts runs the same cases against both.
 *
 * Keys of an execution (all PEXPIREd together on every write, so they vanish together):
 *   <prefix>e:<id>     hash: principal, status, timestamps, ttlMs, journalLength, bytes,
 *                      maxBytes, leaseOwner, leaseExpiresAt, pending, pendingIds, d:<callId>
 *   <prefix>e:<id>:b   hash: script, options, result (read only by get and claim)
 *   <prefix>e:<id>:j   list: the journal, one JSON text per element, in order
 *   <prefix>p:<sha256(principal)>  sorted set: the principal's execution IDs by createdAt,
 *                      for list; its TTL is kept at least as long as its longest-lived member,
 *                      and members whose execution expired are pruned when met.
 *
 * Errors come back as a JSON text `{"err":CODE,...}` that the client turns into a StoreError
 * (errors.ts, storeErrorFromData). Time is the server's (`TIME`), so that several hosts agree
 * on leases and expiry whatever their clocks say. User data (entries, pending calls, results)
 * is never decoded in Lua: cjson would round numbers to 14 digits.
 */

const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
local function err(code, extra)
  extra = extra or {}
  extra.err = code
  return cjson.encode(extra)
end
local function push(key, argv, from)
  local i = from
  while i <= #argv do
    local j = math.min(i + 499, #argv)
    redis.call('RPUSH', key, unpack(argv, i, j))
    i = j + 1
  end
end
-- Every write slides the expiry of all of the execution's keys, and keeps the principal's index
-- alive at least as long.
local function touch(meta, body, journal, index, now, ttl)
  redis.call('HSET', meta, 'updatedAt', int(now), 'expiresAt', int(now + ttl))
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', body, ttl)
  redis.call('PEXPIRE', journal, ttl)
  local left = redis.call('PTTL', index)
  if left == -1 or (left >= 0 and left < ttl) then redis.call('PEXPIRE', index, ttl) end
end
local function clear_decisions(meta, pendingIds)
  for _, id in ipairs(cjson.decode(pendingIds or '[]')) do redis.call('HDEL', meta, 'd:' .. id) end
end
-- The lease holder's checks, in the planners' order: found, lease, status.
local function writer(meta, principal, owner)
  local m = redis.call('HMGET', meta, 'principal', 'status', 'leaseOwner', 'bytes', 'maxBytes', 'ttlMs', 'journalLength', 'pendingIds')
  if m[1] ~= principal then return nil, err('NOT_FOUND') end
  if m[3] ~= owner then return nil, err('LEASE_LOST', { owner = owner }) end
  if m[2] ~= 'running' then return nil, err('NOT_RUNNING', { status = m[2] }) end
  return m
end
local function lengths(m, expected, adding)
  local len = tonumber(m[7])
  if len ~= tonumber(expected) then return err('CONFLICT', { expectedLength = tonumber(expected), journalLength = len }) end
  local bytes, max = tonumber(m[4]), tonumber(m[5])
  if bytes + adding > max then return err('JOURNAL_LIMIT', { bytes = bytes, adding = adding, maxJournalBytes = max }) end
  return nil
end
local function entry_bytes(argv, from)
  local n = 0
  for i = from, #argv do n = n + #argv[i] end
  return n
end
-- The first half of append, suspend and complete (ARGV principal owner expectedLength ...): the
-- writer's checks, then the length and the size bound for the entries ARGV[from..] plus \`extra\`
-- bytes, then the entries pushed. Returns the meta fields and the bytes added, or nil, nil, err.
local function begin_write(from, extra)
  local m, e = writer(KEYS[1], ARGV[1], ARGV[2])
  if not m then return nil, nil, e end
  local adding = entry_bytes(ARGV, from) + extra
  local bad = lengths(m, ARGV[3], adding)
  if bad then return nil, nil, bad end
  push(KEYS[3], ARGV, from)
  return m, adding
end
-- The second half: the expiry slid, the reply a WriteResult.
local function end_write(len, bytes, ttl)
  local now = now_ms()
  touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ttl)
  return cjson.encode({ ok = 1, journalLength = len, bytes = bytes, updatedAt = now, expiresAt = now + ttl })
end
`;

/** KEYS meta body journal index; ARGV principal owner leaseMs ttlMs maxBytes script options id prefix. */
export const CREATE = `${COMMON}
if redis.call('EXISTS', KEYS[1]) == 1 then return err('ID_COLLISION') end
local ttl, max = tonumber(ARGV[4]), tonumber(ARGV[5])
local bytes = #ARGV[6] + #ARGV[7]
if bytes > max then return err('JOURNAL_LIMIT', { bytes = 0, adding = bytes, maxJournalBytes = max }) end
local now = now_ms()
redis.call('HSET', KEYS[1], 'principal', ARGV[1], 'status', 'running', 'createdAt', int(now), 'updatedAt', int(now),
  'expiresAt', int(now + ttl), 'ttlMs', int(ttl), 'journalLength', '0', 'bytes', int(bytes), 'maxBytes', int(max),
  'leaseOwner', ARGV[2], 'leaseExpiresAt', int(now + tonumber(ARGV[3])), 'pending', '[]', 'pendingIds', '[]')
redis.call('HSET', KEYS[2], 'script', ARGV[6], 'options', ARGV[7])
redis.call('ZADD', KEYS[4], now, ARGV[8])
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ttl)
-- Amortized clean-up: the two oldest index members, when their execution is gone.
for _, old in ipairs(redis.call('ZRANGE', KEYS[4], 0, 1)) do
  if redis.call('EXISTS', ARGV[9] .. 'e:' .. old) == 0 then redis.call('ZREM', KEYS[4], old) end
end
return cjson.encode({ ok = 1, now = now })
`;

/** KEYS meta body journal index; ARGV principal owner expectedLength entries... */
export const APPEND = `${COMMON}
local m, adding, failed = begin_write(4, 0)
if failed then return failed end
local len, bytes, ttl = tonumber(m[7]) + #ARGV - 3, tonumber(m[4]) + adding, tonumber(m[6])
redis.call('HSET', KEYS[1], 'journalLength', int(len), 'bytes', int(bytes))
return end_write(len, bytes, ttl)
`;

/** KEYS meta body journal index; ARGV principal owner expectedLength pendingText pendingIdsText suspendText entries... */
export const SUSPEND = `${COMMON}
local m, adding, failed = begin_write(7, #ARGV[6])
if failed then return failed end
redis.call('RPUSH', KEYS[3], ARGV[6])
clear_decisions(KEYS[1], m[8])
local len, bytes, ttl = tonumber(m[7]) + #ARGV - 6 + 1, tonumber(m[4]) + adding, tonumber(m[6])
redis.call('HSET', KEYS[1], 'status', 'suspended', 'pending', ARGV[4], 'pendingIds', ARGV[5], 'journalLength', int(len), 'bytes', int(bytes))
redis.call('HDEL', KEYS[1], 'leaseOwner', 'leaseExpiresAt')
return end_write(len, bytes, ttl)
`;

/** KEYS meta body journal index; ARGV principal owner expectedLength status resultText entries... */
export const COMPLETE = `${COMMON}
local m, adding, failed = begin_write(6, #ARGV[5])
if failed then return failed end
clear_decisions(KEYS[1], m[8])
local len, bytes, ttl = tonumber(m[7]) + #ARGV - 5, tonumber(m[4]) + adding, tonumber(m[6])
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'pending', '[]', 'pendingIds', '[]', 'journalLength', int(len), 'bytes', int(bytes))
redis.call('HDEL', KEYS[1], 'leaseOwner', 'leaseExpiresAt')
redis.call('HSET', KEYS[2], 'result', ARGV[5])
return end_write(len, bytes, ttl)
`;

/** KEYS meta body journal index; ARGV principal owner leaseMs ('' for a release). */
export const LEASE = `${COMMON}
local m, e = writer(KEYS[1], ARGV[1], ARGV[2])
if not m then return e end
local now, ttl = now_ms(), tonumber(m[6])
local expires = 0
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], 'leaseOwner', 'leaseExpiresAt')
else
  expires = now + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], 'leaseExpiresAt', int(expires))
end
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ttl)
return cjson.encode({ ok = 1, leaseExpiresAt = expires })
`;

/** KEYS meta body journal index; ARGV principal n (callId rest)*n. Replies { ok, HGETALL meta }. */
export const DECIDE = `${COMMON}
local m = redis.call('HMGET', KEYS[1], 'principal', 'status', 'pendingIds', 'bytes', 'maxBytes', 'ttlMs', 'journalLength')
if m[1] ~= ARGV[1] then return err('NOT_FOUND') end
if m[2] ~= 'suspended' then return err('NOT_SUSPENDED', { status = m[2] }) end
local ids = {}
for _, id in ipairs(cjson.decode(m[3])) do ids[id] = true end
local now = now_ms()
local n = tonumber(ARGV[2])
local texts, adding = {}, 0
for k = 1, n do
  local callId = ARGV[1 + 2 * k]
  if not ids[callId] then return err('NO_PENDING_CALL', { callId = callId }) end
  local earlier = redis.call('HGET', KEYS[1], 'd:' .. callId)
  if earlier then
    -- Not cjson.decode: the text holds user data. Quotes inside JSON strings are escaped, so the
    -- raw sequence below can only be the entry's own "action" member.
    local action = 'deny'
    if string.find(earlier, ',"action":"approve"', 1, true) then action = 'approve' end
    return err('ALREADY_DECIDED', { callId = callId, action = action })
  end
  texts[k] = '{"decidedAt":' .. int(now) .. ',' .. ARGV[2 + 2 * k]
  adding = adding + #texts[k]
end
local bytes, max, ttl = tonumber(m[4]), tonumber(m[5]), tonumber(m[6])
if bytes + adding > max then return err('JOURNAL_LIMIT', { bytes = bytes, adding = adding, maxJournalBytes = max }) end
for k = 1, n do
  redis.call('RPUSH', KEYS[3], texts[k])
  redis.call('HSET', KEYS[1], 'd:' .. ARGV[1 + 2 * k], texts[k])
end
redis.call('HSET', KEYS[1], 'journalLength', int(tonumber(m[7]) + n), 'bytes', int(bytes + adding))
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ttl)
return { cjson.encode({ ok = 1 }), redis.call('HGETALL', KEYS[1]) }
`;

/** KEYS meta body journal index; ARGV principal owner leaseMs requireDecisions('1'|'0'). Replies { ok, meta, body, journal }. */
export const CLAIM = `${COMMON}
local m = redis.call('HMGET', KEYS[1], 'principal', 'status', 'leaseOwner', 'leaseExpiresAt', 'ttlMs', 'pendingIds')
if m[1] ~= ARGV[1] then return err('NOT_FOUND') end
if m[2] == 'completed' or m[2] == 'failed' then return err('FINISHED', { status = m[2] }) end
local now = now_ms()
if m[2] == 'running' and m[3] and m[3] ~= ARGV[2] and m[4] and tonumber(m[4]) > now then
  return err('LEASE_HELD', { leaseExpiresAt = tonumber(m[4]), now = now })
end
if m[2] == 'suspended' and ARGV[4] == '1' then
  local undecided = {}
  for _, id in ipairs(cjson.decode(m[6])) do
    if redis.call('HEXISTS', KEYS[1], 'd:' .. id) == 0 then undecided[#undecided + 1] = id end
  end
  if #undecided > 0 then return err('UNDECIDED', { undecided = undecided }) end
end
redis.call('HSET', KEYS[1], 'status', 'running', 'leaseOwner', ARGV[2], 'leaseExpiresAt', int(now + tonumber(ARGV[3])))
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, tonumber(m[5]))
local ok = { ok = 1, previousStatus = m[2] }
if m[3] then ok.previousOwner = m[3] end
return { cjson.encode(ok), redis.call('HGETALL', KEYS[1]), redis.call('HMGET', KEYS[2], 'script', 'options', 'result'), redis.call('LRANGE', KEYS[3], 0, -1) }
`;

/** KEYS meta body journal; ARGV principal. Replies nil, or { meta, body, journal }. */
export const GET = `
if redis.call('HGET', KEYS[1], 'principal') ~= ARGV[1] then return false end
return { redis.call('HGETALL', KEYS[1]), redis.call('HMGET', KEYS[2], 'script', 'options', 'result'), redis.call('LRANGE', KEYS[3], 0, -1) }
`;

/** KEYS meta body journal index; ARGV principal id. Replies 1 or 0. */
export const DELETE = `
if redis.call('HGET', KEYS[1], 'principal') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[2])
return 1
`;

/**
 * KEYS index; ARGV principal prefix want cursorScore('+inf' or ms) cursorId('' for none)
 * statuses(',' separated, '' for all). Replies { {id, HGETALL meta}, ... }, newest first.
 */
export const LIST = `
-- Byte-wise comparison: Lua's < uses strcoll, which follows the server's locale; ZSET order within
-- one score is memcmp order, and so is the client's.
local function lt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local principal, prefix, want = ARGV[1], ARGV[2], tonumber(ARGV[3])
local cursorScore, cursorId = ARGV[4], ARGV[5]
local statuses = nil
if ARGV[6] ~= '' then
  statuses = {}
  for s in string.gmatch(ARGV[6], '[^,]+') do statuses[s] = true end
end
local out, stale, offset = {}, {}, 0
while #out < want do
  local batch = redis.call('ZREVRANGEBYSCORE', KEYS[1], cursorScore, '-inf', 'WITHSCORES', 'LIMIT', offset, 100)
  if #batch == 0 then break end
  offset = offset + #batch / 2
  for i = 1, #batch, 2 do
    local id, score = batch[i], batch[i + 1]
    if not (cursorId ~= '' and score == cursorScore and not lt(id, cursorId)) then
      local meta = redis.call('HGETALL', prefix .. 'e:' .. id)
      if #meta == 0 then
        stale[#stale + 1] = id
      else
        local p, st = nil, nil
        for j = 1, #meta, 2 do
          if meta[j] == 'principal' then p = meta[j + 1] elseif meta[j] == 'status' then st = meta[j + 1] end
        end
        if p == principal and (statuses == nil or statuses[st]) then
          out[#out + 1] = { id, meta }
          if #out >= want then break end
        end
      end
    end
  end
end
for _, id in ipairs(stale) do redis.call('ZREM', KEYS[1], id) end
return out
`;
