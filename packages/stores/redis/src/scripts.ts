/**
 * The Lua scripts behind the Redis store's atomic operations. Redis runs a script to completion before any
 * other command, so each one is a compare-and-swap with no window between its read and its write. Every
 * script takes the store's clock as `now` (ARGV), because expiry is the store's decision, not the TTL's.
 * Numbers travel as strings both ways, so epoch milliseconds never pass through Lua's number formatting.
 *
 * @module
 */

/**
 * KEYS: code. ARGV: now. Returns nil for an unknown or expired code, else {record, 1 | 0}: 1 for the one
 * caller whose HSETNX set `consumedAt`, 0 for every replay.
 */
export const CONSUME_CODE = `
local fields = redis.call('HMGET', KEYS[1], 'record', 'expiresAt')
if not fields[1] or tonumber(fields[2]) <= tonumber(ARGV[1]) then return false end
return { fields[1], redis.call('HSETNX', KEYS[1], 'consumedAt', ARGV[1]) }
`;

/**
 * KEYS: presented token, successor, expiry index. ARGV: now, successor record, successor expiresAt, its
 * PEXPIREAT. Returns nil when the presented token is unknown or expired; {'reused', record, rotatedAt} when
 * it was rotated before (nothing written); otherwise marks it rotated, writes the successor and returns
 * {'rotated', record, now}.
 */
export const ROTATE_REFRESH_TOKEN = `
local fields = redis.call('HMGET', KEYS[1], 'record', 'expiresAt', 'rotatedAt')
if not fields[1] or tonumber(fields[2]) <= tonumber(ARGV[1]) then return false end
if fields[3] then return { 'reused', fields[1], fields[3] } end
redis.call('HSET', KEYS[1], 'rotatedAt', ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'record', ARGV[2], 'expiresAt', ARGV[3])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], KEYS[2])
return { 'rotated', fields[1], ARGV[1] }
`;

/** KEYS: grant. ARGV: revokedAt, now. Sets `revokedAt` on a live grant that has none; otherwise nothing. */
export const REVOKE_GRANT = `
local expiresAt = redis.call('HGET', KEYS[1], 'expiresAt')
if not expiresAt or tonumber(expiresAt) <= tonumber(ARGV[2]) then return 0 end
return redis.call('HSETNX', KEYS[1], 'revokedAt', ARGV[1])
`;

/**
 * KEYS: marker, expiry index. ARGV: now, expiresAt, PEXPIREAT. The marker's value is its expiresAt. Returns
 * 1 when it was absent or expired (and now takes it), 0 while someone else's is live.
 */
export const MARK_USED = `
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
return 1
`;

/**
 * KEYS: counter, expiry index. ARGV: now, resetAt of a new window, its PEXPIREAT. Returns {count, resetAt}:
 * one more in the open window, or 1 in a new window once the old one has closed.
 */
export const INCREMENT_COUNTER = `
local resetAt = redis.call('HGET', KEYS[1], 'resetAt')
if resetAt and tonumber(resetAt) > tonumber(ARGV[1]) then
  return { redis.call('HINCRBY', KEYS[1], 'count', 1), resetAt }
end
redis.call('HSET', KEYS[1], 'count', 1, 'resetAt', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
return { 1, ARGV[2] }
`;

/**
 * KEYS: expiry index, revocation list, signing key set. ARGV: now, revocation key prefix, signing key
 * prefix, batch size. Deletes up to a batch of records whose indexed expiresAt <= now, with their index
 * entries. Checking and deleting in one script means a record saved again meanwhile (with a later expiry,
 * hence a later score) is never deleted. Returns {records deleted, index entries processed}.
 */
export const PURGE_EXPIRED = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local removed = 0
for _, key in ipairs(due) do
  removed = removed + redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], key)
  if string.sub(key, 1, #ARGV[2]) == ARGV[2] then
    redis.call('ZREM', KEYS[2], string.sub(key, #ARGV[2] + 1))
  elseif string.sub(key, 1, #ARGV[3]) == ARGV[3] then
    redis.call('SREM', KEYS[3], string.sub(key, #ARGV[3] + 1))
  end
end
return { removed, #due }
`;
