package checkout

import "github.com/redis/go-redis/v9"

// Every script touches only the keys of one checkout (one hash slot) and
// ends by setting their TTL: active checkouts live until expiry plus
// retention, the others for retention from their last change.
//
// KEYS[1] is the checkout hash, KEYS[2] its attempts hash. ARGV[1] is now in
// unix milliseconds, ARGV[2] the retention in milliseconds.
const luaPrelude = `
local function keep(now, ret)
  local st = redis.call('HGET', KEYS[1], 'status')
  local ms = ret
  if st == 'open' or st == 'pending' then
    ms = tonumber(redis.call('HGET', KEYS[1], 'expires_at')) - now + ret
  end
  if ms < 1000 then ms = 1000 end
  redis.call('PEXPIRE', KEYS[1], ms)
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ms) end
end
local now = tonumber(ARGV[1])
local ret = tonumber(ARGV[2])
`

// scriptMove moves the checkout from one of ARGV[4] (",a,b,") to ARGV[3].
// With ARGV[5] = "1" the checkout must also be past its expiry.
// Returns {-1} when missing, {0, status, fields} when refused, {1, previous,
// fields} when moved.
var scriptMove = redis.NewScript(luaPrelude + `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {-1} end
if not string.find(ARGV[4], ',' .. st .. ',', 1, true) then
  return {0, st, redis.call('HGETALL', KEYS[1])}
end
if ARGV[5] == '1' and tonumber(redis.call('HGET', KEYS[1], 'expires_at')) > now then
  return {0, st, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'updated_at', ARGV[1])
keep(now, ret)
return {1, st, redis.call('HGETALL', KEYS[1])}
`)

// luaPay records that attempt seq (gateway ord_no ARGV[4], may be empty)
// is paid, as a function pay(seq) of the pay scripts (MarkPaid, MarkPaidThen).
// It answers -1 no checkout, -2 no attempt, -3 ord_no differs from the one
// stored, 0 attempt already paid, 1 attempt paid but the checkout was
// already paid by another attempt, 2 checkout moved to paid; and the status
// before. A late payment keeps the state it came after in late_from, in the
// same step, so whoever looks at it later (after a crash) decides the late
// policy alike.
const luaPay = `
local function pay(seq)
  local st = redis.call('HGET', KEYS[1], 'status')
  if not st then return -1 end
  local p = seq .. '.'
  local ast = redis.call('HGET', KEYS[2], p .. 'status')
  if not ast then return -2 end
  local ord = redis.call('HGET', KEYS[2], p .. 'ord_no')
  if ARGV[4] ~= '' and ord and ord ~= '' and ord ~= ARGV[4] then return -3 end
  if ast == 'paid' then return 0, st end
  redis.call('HSET', KEYS[2], p .. 'status', 'paid', p .. 'updated_at', ARGV[1])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], p .. 'ord_no', ARGV[4]) end
  local code = 1
  if st == 'open' or st == 'pending' then
    redis.call('HSET', KEYS[1], 'status', 'paid', 'paid_at', ARGV[1], 'paid_attempt', seq, 'updated_at', ARGV[1])
    code = 2
  elseif st == 'expired' or st == 'cancelled' then
    redis.call('HSET', KEYS[1], 'status', 'paid', 'late', '1', 'late_from', st, 'paid_at', ARGV[1], 'paid_attempt', seq, 'updated_at', ARGV[1])
    code = 2
  end
  keep(now, ret)
  return code, st
end
`

// scriptPay records that attempt ARGV[3] is paid (see luaPay and
// payScript).
var scriptPay = payScript("")

// scriptRefund adds ARGV[3] fen to the refunded amount for refund ARGV[4],
// once: the field 'refund:' .. ARGV[4] of the checkout hash marks it
// applied, in the same step as the total, so a refund recorded again (after
// a crash) changes nothing; 'refund_at:' .. ARGV[4] keeps when (the day
// sums count the refund on that day, repo_status.go). Returns {-1} missing, {2, status, fields}
// applied already, {0, status, fields} refused by state, {-3, status} more
// than was paid, {1, previous, fields} recorded.
var scriptRefund = redis.NewScript(luaPrelude + `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {-1} end
local mark = 'refund:' .. ARGV[4]
if redis.call('HEXISTS', KEYS[1], mark) == 1 then
  return {2, st, redis.call('HGETALL', KEYS[1])}
end
if st ~= 'paid' and st ~= 'partially_refunded' then
  return {0, st, redis.call('HGETALL', KEYS[1])}
end
local trade = tonumber(redis.call('HGET', KEYS[1], 'trade'))
local done = tonumber(redis.call('HGET', KEYS[1], 'refunded') or '0')
local amount = tonumber(ARGV[3])
if done + amount > trade then return {-3, st} end
local to = 'partially_refunded'
if done + amount == trade then to = 'refunded' end
redis.call('HSET', KEYS[1], 'status', to, 'refunded', tostring(done + amount), 'updated_at', ARGV[1], mark, ARGV[3],
  'refund_at:' .. ARGV[4], ARGV[1])
keep(now, ret)
return {1, st, redis.call('HGETALL', KEYS[1])}
`)

// scriptAddAttempt creates attempt number seq+1 for wallet ARGV[3] and
// scenario ARGV[4], moving an open checkout to pending. Returns {-1} missing,
// {-4, status} wallet not allowed, {-5, status} past expiry, {0, status}
// refused by state, {seq, previous, fields} created.
var scriptAddAttempt = redis.NewScript(luaPrelude + `
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {-1} end
if st ~= 'open' and st ~= 'pending' then return {0, st} end
if tonumber(redis.call('HGET', KEYS[1], 'expires_at')) <= now then return {-5, st} end
local w = redis.call('HGET', KEYS[1], 'wallets')
if w and w ~= '' and not string.find(',' .. w .. ',', ',' .. ARGV[3] .. ',', 1, true) then return {-4, st} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local p = seq .. '.'
redis.call('HSET', KEYS[2], p .. 'method', ARGV[3], p .. 'scenario', ARGV[4], p .. 'status', 'pending',
  p .. 'amount', redis.call('HGET', KEYS[1], 'trade'), p .. 'ord_no', '', p .. 'created_at', ARGV[1], p .. 'updated_at', ARGV[1])
if st == 'open' then
  redis.call('HSET', KEYS[1], 'status', 'pending', 'updated_at', ARGV[1])
end
keep(now, ret)
return {seq, st, redis.call('HGETALL', KEYS[1])}
`)

// scriptUpdateAttempt sets attempt ARGV[3]'s status to ARGV[4] and/or its
// ord_no to ARGV[5] (empty: leave). Paid is not reachable here (scriptPay).
// Returns {-2} no attempt, {-3, status} ord_no differs, {0, status} refused
// or nothing to change, {1, previous} changed.
var scriptUpdateAttempt = redis.NewScript(luaPrelude + `
local p = ARGV[3] .. '.'
local ast = redis.call('HGET', KEYS[2], p .. 'status')
if not ast then return {-2} end
local to = ARGV[4]
if to ~= '' and to ~= ast then
  local ok = (ast == 'pending' and (to == 'failed' or to == 'cancelled' or to == 'unknown'))
    or (ast == 'unknown' and (to == 'pending' or to == 'failed' or to == 'cancelled'))
  if not ok then return {0, ast} end
end
local changed = 0
if ARGV[5] ~= '' then
  local cur = redis.call('HGET', KEYS[2], p .. 'ord_no')
  if cur and cur ~= '' and cur ~= ARGV[5] then return {-3, ast} end
  if cur ~= ARGV[5] then
    redis.call('HSET', KEYS[2], p .. 'ord_no', ARGV[5])
    changed = 1
  end
end
if to ~= '' and to ~= ast then
  redis.call('HSET', KEYS[2], p .. 'status', to)
  changed = 1
end
if changed == 1 then
  redis.call('HSET', KEYS[2], p .. 'updated_at', ARGV[1])
  keep(now, ret)
end
return {changed, ast}
`)

// scriptReturnedUnpaid stamps attempt ARGV[3] with the time the payer came
// back from the cashier unpaid (field "returned"), when it is pending or
// unknown; with ARGV[4] = "0" it removes the stamp instead. Returns {-2}
// no attempt, {0} nothing changed, {1} changed.
var scriptReturnedUnpaid = redis.NewScript(luaPrelude + `
local p = ARGV[3] .. '.'
local ast = redis.call('HGET', KEYS[2], p .. 'status')
if not ast then return {-2} end
if ARGV[4] == '0' then
  if redis.call('HDEL', KEYS[2], p .. 'returned') == 0 then return {0} end
  redis.call('HSET', KEYS[2], p .. 'updated_at', ARGV[1])
  keep(now, ret)
  return {1}
end
if ast ~= 'pending' and ast ~= 'unknown' then return {0} end
redis.call('HSET', KEYS[2], p .. 'returned', ARGV[1], p .. 'updated_at', ARGV[1])
keep(now, ret)
return {1}
`)

// scriptIdemBegin reserves an idempotency key (KEYS[1]) for a request whose
// body hashes to ARGV[1], for ARGV[2] ms. Returns false when reserved now,
// else {hash, status, body} of the earlier request (status empty while it is
// still in flight).
var scriptIdemBegin = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'hash', 'status', 'body')
if v[1] then return {v[1], v[2] or '', v[3] or ''} end
redis.call('HSET', KEYS[1], 'hash', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return false
`)

// scriptList returns up to ARGV[2] ids of the index KEYS[1], newest first,
// after the id ARGV[1] (empty: from the top). -1 when the cursor is unknown.
// PageNewestFirst is its one caller.
var scriptList = redis.NewScript(`
local start = 0
if ARGV[1] ~= '' then
  local r = redis.call('ZREVRANK', KEYS[1], ARGV[1])
  if not r then return -1 end
  start = r + 1
end
return redis.call('ZREVRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1)
`)

// scriptUnlock deletes the lock KEYS[1] only if it still holds token ARGV[1].
var scriptUnlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
