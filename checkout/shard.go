package checkout

import (
	"context"
	"fmt"
	"hash/crc32"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// QueueShards is how many hash slots the shared work queues are spread
// over: the checkouts' expiry deadlines (here), the reconciler's watch list
// (payments) and the webhook deliveries (notify/webhook). A queue that is
// one key lives on one node of a Redis Cluster, which would then carry all
// of the pollers' traffic; split over 16 slots it spreads over up to 16
// primaries (the tags {q:0}..{q:15} land on all three primaries of a
// 3-node cluster), while a poller's round over every shard stays 16 cheap
// commands. The number is part of the key layout: changing it strands the
// entries of the shards that disappear, so it is fixed.
const QueueShards = 16

// ShardOf is the shard (0 to QueueShards-1) of s, a checkout or merchant
// id: the queue entries of one checkout always go to the same shard.
func ShardOf(s string) int { return int(crc32.ChecksumIEEE([]byte(s)) % QueueShards) }

// ShardTag is the hash tag of work-queue shard n, "{q:n}".
func ShardTag(n int) string { return "{q:" + strconv.Itoa(n) + "}" }

// migrateBatch is how many entries MoveQueue moves per round trip.
const migrateBatch = 500

// MoveQueue moves every entry of the sorted set from (a queue of an earlier
// key layout) to the set shardKey names for it, keeping its score, and
// returns how many it moved. Each entry is added to its shard (NX: an
// entry already there, newer, wins) before it leaves from, so a crash at
// any point loses none; several processes may run it at once, and an entry
// moved twice is the same entry. It works on any topology: each command
// touches one key.
func MoveQueue(ctx context.Context, rdb redis.UniversalClient, from string, shardKey func(member string) string) (int, error) {
	moved := 0
	for {
		zs, err := rdb.ZRangeWithScores(ctx, from, 0, migrateBatch-1).Result()
		if err != nil {
			return moved, fmt.Errorf("move queue %s: %w", from, err)
		}
		if len(zs) == 0 {
			return moved, nil
		}
		_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, z := range zs {
				p.ZAddNX(ctx, shardKey(z.Member.(string)), z)
			}
			return nil
		})
		if err != nil {
			return moved, fmt.Errorf("move queue %s: %w", from, err)
		}
		members := make([]any, len(zs))
		for i, z := range zs {
			members[i] = z.Member
		}
		if err := rdb.ZRem(ctx, from, members...).Err(); err != nil {
			return moved, fmt.Errorf("move queue %s: %w", from, err)
		}
		moved += len(zs)
	}
}

// MigrateLegacy moves the checkouts' expiry queue of the earlier layout
// (one sorted set, "expiry") into its shards. Safe to run at every start
// and from several replicas at once (MoveQueue).
func (r *Repo) MigrateLegacy(ctx context.Context) (int, error) {
	return MoveQueue(ctx, r.rdb, r.prefix+"expiry", r.keyExpiry)
}
