package webhook

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// migrateBatch is how many index entries MigrateLegacy reads at a time.
const migrateBatch = 200

// legacyTag is the one hash slot of the earlier key layout, which kept
// every event, index and the delivery queue in {wh}.
func (s *Service) legacyTag() string { return s.prefix + "{wh}" }

// MigrateLegacy moves the events of the earlier key layout (all in the
// slot {wh}) into their merchants' shards: each event with its attempts,
// its index entries and its place in the delivery queue (same due time).
// merchantIDs are the merchants whose indexes to walk; queued deliveries of
// other merchants move too. It returns how many events it moved.
//
// Safe at every start and from several replicas at once, with deliveries
// running: an event is copied (RESTORE, never over an existing copy, which
// is newer) before anything points at the copy, and the old keys go last,
// so a crash at any point loses nothing and the next run finishes the move.
// A queue entry moved again after its delivery finished is dropped by the
// claim, which only sends pending or retrying events.
func (s *Service) MigrateLegacy(ctx context.Context, merchantIDs []string) (int, error) {
	moved := 0
	for _, mid := range merchantIDs {
		if !validKeyPart(mid) {
			continue
		}
		idx := s.legacyTag() + ":m:" + mid
		for {
			ids, err := s.rdb.ZRange(ctx, idx, 0, migrateBatch-1).Result()
			if err != nil {
				return moved, fmt.Errorf("webhook: migrate %s: %w", mid, err)
			}
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				ok, err := s.moveEvent(ctx, mid, id)
				if err != nil {
					return moved, err
				}
				if ok {
					moved++
				}
			}
		}
	}
	// Queued deliveries of merchants no longer configured.
	due := s.legacyTag() + ":due"
	for {
		ids, err := s.rdb.ZRange(ctx, due, 0, migrateBatch-1).Result()
		if err != nil {
			return moved, fmt.Errorf("webhook: migrate the queue: %w", err)
		}
		if len(ids) == 0 {
			return moved, nil
		}
		for _, id := range ids {
			mid, err := s.rdb.HGet(ctx, s.legacyTag()+":evt:"+id, "mid").Result()
			if errors.Is(err, redis.Nil) || err == nil && !validKeyPart(mid) {
				// Gone (retention, or moved by another replica, which
				// queued it first): nothing to deliver from here.
				if err := s.rdb.ZRem(ctx, due, id).Err(); err != nil {
					return moved, fmt.Errorf("webhook: migrate the queue: %w", err)
				}
				continue
			}
			if err != nil {
				return moved, fmt.Errorf("webhook: migrate the queue: %w", err)
			}
			ok, err := s.moveEvent(ctx, mid, id)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
		}
	}
}

// moveEvent moves one event of merchant mid from the earlier layout, in
// the order that keeps it whole whatever happens between two steps: copy
// the event and its attempts, index the copy, queue the copy, then remove
// the old queue entry, index entries and keys. It reports whether this call
// made the copy.
func (s *Service) moveEvent(ctx context.Context, mid, id string) (bool, error) {
	old := s.legacyTag() + ":evt:" + id
	fail := func(err error) (bool, error) { return false, fmt.Errorf("webhook: migrate event %s: %w", id, err) }
	copied, err := s.restoreCopy(ctx, old, s.keyEvent(mid, id))
	if err != nil {
		return fail(err)
	}
	if _, err := s.restoreCopy(ctx, old+":att", s.keyAttempts(mid, id)); err != nil {
		return fail(err)
	}
	v, err := s.rdb.HMGet(ctx, s.keyEvent(mid, id), "cid", "type", "created").Result()
	if err != nil {
		return fail(err)
	}
	cid, _ := v[0].(string)
	typ, _ := v[1].(string)
	created, _ := v[2].(string)
	oldIdx := s.legacyTag() + ":m:" + mid
	if created != "" {
		// Indexed and queued only if the copy exists (else it was gone).
		score := float64(msTime(created).UnixMilli())
		indexes := []string{s.keyIndex(mid)}
		if cid != "" {
			indexes = append(indexes, s.keyIndexCheckout(mid, cid))
		}
		if typ != "" {
			indexes = append(indexes, s.keyIndexType(mid, typ))
		}
		for _, k := range indexes {
			if err := s.rdb.ZAddNX(ctx, k, redis.Z{Score: score, Member: id}).Err(); err != nil {
				return fail(err)
			}
			if err := s.rdb.Expire(ctx, k, s.retention).Err(); err != nil {
				return fail(err)
			}
		}
		due, err := s.rdb.ZScore(ctx, s.legacyTag()+":due", id).Result()
		if err == nil {
			if err := s.rdb.ZAddNX(ctx, s.keyDue(mid), redis.Z{Score: due, Member: id}).Err(); err != nil {
				return fail(err)
			}
		} else if !errors.Is(err, redis.Nil) {
			return fail(err)
		}
	}
	// The old layout's references and keys go last, one after another.
	dels := []func() error{
		func() error { return s.rdb.ZRem(ctx, s.legacyTag()+":due", id).Err() },
		func() error { return s.rdb.ZRem(ctx, oldIdx, id).Err() },
		func() error { return s.rdb.ZRem(ctx, oldIdx+":co:"+cid, id).Err() },
		func() error { return s.rdb.ZRem(ctx, oldIdx+":t:"+typ, id).Err() },
		func() error { return s.rdb.Del(ctx, old+":att").Err() },
		func() error { return s.rdb.Del(ctx, old).Err() },
	}
	for _, del := range dels {
		if err := del(); err != nil {
			return fail(err)
		}
	}
	return copied, nil
}

// copyScript creates KEYS[1] from ARGV[3..] unless it exists: as a hash
// of field-value pairs when ARGV[1] is "hash", else as a list; with a
// time to live of ARGV[2] ms (0: none). Answers 1 when it made the copy.
var copyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local vals = {}
for i = 3, #ARGV do vals[#vals + 1] = ARGV[i] end
if #vals == 0 then return 0 end
if ARGV[1] == 'hash' then
  redis.call('HSET', KEYS[1], unpack(vals))
else
  redis.call('RPUSH', KEYS[1], unpack(vals))
end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`)

// restoreCopy copies the hash or list from to the key to, with the time
// to live left, unless to exists already: a copy made earlier is kept,
// since deliveries may have changed it since. It reports whether it
// copied. (Field by field rather than DUMP/RESTORE, which the embedded
// Redis does not have for these types.)
func (s *Service) restoreCopy(ctx context.Context, from, to string) (bool, error) {
	typ, err := s.rdb.Type(ctx, from).Result()
	if err != nil {
		return false, err
	}
	args := []any{typ, 0}
	switch typ {
	case "none":
		return false, nil
	case "hash":
		h, err := s.rdb.HGetAll(ctx, from).Result()
		if err != nil {
			return false, err
		}
		for k, v := range h {
			args = append(args, k, v)
		}
	case "list":
		l, err := s.rdb.LRange(ctx, from, 0, -1).Result()
		if err != nil {
			return false, err
		}
		for _, v := range l {
			args = append(args, v)
		}
	default:
		return false, fmt.Errorf("%s is a %s, not an event's hash or list", from, typ)
	}
	ttl, err := s.rdb.PTTL(ctx, from).Result()
	if err != nil {
		return false, err
	}
	if ttl == -2 { // go-redis passes PTTL's -2 (no key) through as is
		return false, nil
	}
	if ttl > 0 {
		args[1] = ttl.Milliseconds()
	}
	n, err := copyScript.Run(ctx, s.rdb, []string{to}, args...).Int()
	return n == 1, err
}
