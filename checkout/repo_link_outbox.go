package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// A change of a payment link owes the merchant events (payment_link.created,
// .updated, .deactivated, .deleted). They are stored by notify/webhook in
// the merchant's webhook shard {wh:N}, another hash slot than the link's
// {pl_…}: no one script can store the change and its event. So the change
// writes what it owes, a LinkNotice, into the link's outbox in the same
// script (pl:{id}:out, a hash: intent key → notice), and the notice leaves
// the outbox only once its events are stored (LinkNoticeDone). Whoever
// finds it there sends it again: the writer right after the change, and,
// should the writer die or its emit fail, the reconciler, through the
// intent the writer scheduled before the change (payments). A writer that
// is slower than its intent's grace finds the intent fenced off
// (RetireLinkIntent) and changes nothing (ErrLinkIntentRetired), so no
// notice is ever stored without someone to send it.

// Kinds of link notices: the events a change owes.
const (
	LinkCreated     = "created"
	LinkUpdated     = "updated"
	LinkDeactivated = "deactivated"
	LinkDeleted     = "deleted"
)

// linkFenceTTL is how long a retired intent's fence stays: far longer
// than any writer stalls between scheduling its intent and its change.
const linkFenceTTL = 24 * time.Hour

// ErrLinkIntentRetired means the change's intent was retired before the
// change ran (the writer stalled past its grace): nothing changed; the
// caller may try again with a new intent.
var ErrLinkIntentRetired = errors.New("payment link change came after its intent was retired")

func (r *Repo) keyLinkOut(id string) string { return r.prefix + "pl:{" + id + "}:out" }
func (r *Repo) keyLinkFence(id, key string) string {
	return r.prefix + "pl:{" + id + "}:fence:" + key
}

// LinkNotice is what one change of a payment link owes the merchant: an
// event of each of Kinds, with the cause of the same index (the event's
// id derives from the link, the kind and the cause, so that sending the
// notice again stores nothing twice), about the link as the change left
// it (as it was, for a deletion).
type LinkNotice struct {
	LinkID string
	// Key names the notice in the link's outbox: the intent of an API
	// change, or the checkout whose payment reached the link's limit.
	Key    string
	Kinds  []string
	Causes []string
	Link   *PaymentLink
}

// luaOwe is owe(out, key, kinds, causes, link): the notice of a change,
// with the link's fields as they are now, put in the outbox out under key.
const luaOwe = `
local function owe(out, key, kinds, causes, link)
  redis.call('HSET', out, key, cjson.encode({kinds, causes, redis.call('HGETALL', link)}))
end
`

// decodeNotice reads a notice as luaOwe stored it.
func decodeNotice(linkID, key, raw string) (*LinkNotice, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &parts); err != nil || len(parts) != 3 {
		return nil, fmt.Errorf("%w: notice %s of %s", errCorrupt, key, linkID)
	}
	n := &LinkNotice{LinkID: linkID, Key: key}
	var flat []string
	if json.Unmarshal(parts[0], &n.Kinds) != nil || json.Unmarshal(parts[1], &n.Causes) != nil ||
		json.Unmarshal(parts[2], &flat) != nil || len(n.Kinds) != len(n.Causes) || len(n.Kinds) == 0 {
		return nil, fmt.Errorf("%w: notice %s of %s", errCorrupt, key, linkID)
	}
	f := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		f[flat[i]] = flat[i+1]
	}
	l, err := decodeLink(f)
	if err != nil {
		return nil, fmt.Errorf("notice %s of %s: %w", key, linkID, err)
	}
	n.Link = l
	return n, nil
}

// noticeAt decodes the notice at v[i] of a script's answer, nil when the
// script left none there.
func noticeAt(linkID, key string, v []any, i int) (*LinkNotice, error) {
	if i >= len(v) {
		return nil, nil
	}
	raw, ok := v[i].(string)
	if !ok || raw == "" {
		return nil, nil
	}
	return decodeNotice(linkID, key, raw)
}

// validIntent accepts an outbox key: 1 to 64 letters, digits and '_'.
func validIntent(key string) bool {
	if key == "" || len(key) > 64 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// RetireLinkIntent is the reconciler's look at an intent that outlived its
// grace: the notice its change left, if the change ran (send it, then
// LinkNoticeDone); otherwise it fences the intent off, so that its writer,
// should it be alive and late, changes nothing (ErrLinkIntentRetired), and
// returns nil.
func (r *Repo) RetireLinkIntent(ctx context.Context, linkID, key string) (*LinkNotice, error) {
	if !ValidLinkID(linkID) || !validIntent(key) {
		return nil, nil
	}
	v, err := scriptRetireLinkIntent.Run(ctx, r.rdb, []string{r.keyLinkOut(linkID), r.keyLinkFence(linkID, key)},
		key, linkFenceTTL.Milliseconds()).Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("retire intent %s of %s: %w", key, linkID, err)
	}
	return decodeNotice(linkID, key, v)
}

// scriptRetireLinkIntent: KEYS outbox, fence; ARGV key, fence ms. The
// notice under key, or false after setting the fence.
var scriptRetireLinkIntent = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then return v end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return false
`)

// LinkNotice reads the notice key of link linkID's outbox (nil when it is
// not there: sent already, or never owed).
func (r *Repo) LinkNotice(ctx context.Context, linkID, key string) (*LinkNotice, error) {
	v, err := r.rdb.HGet(ctx, r.keyLinkOut(linkID), key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notice %s of %s: %w", key, linkID, err)
	}
	return decodeNotice(linkID, key, v)
}

// LinkNoticeDone takes notice n out of its link's outbox once its events
// are stored, and finishes the merchant's list of links, which is in
// another slot: a created link is listed (again: its creation lists it
// already, unless it died in between), a deleted one leaves the list.
//
// A created link deleted since (its notice sent late) is not listed again:
// its list entry would outlive it, since the list has no TTL.
func (r *Repo) LinkNoticeDone(ctx context.Context, n *LinkNotice) error {
	listed := false
	if slices.Contains(n.Kinds, LinkCreated) {
		c, err := r.rdb.Exists(ctx, r.keyLink(n.LinkID)).Result()
		if err != nil {
			return fmt.Errorf("notice %s of %s done: %w", n.Key, n.LinkID, err)
		}
		listed = c == 1
	}
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range n.Kinds {
			switch k {
			case LinkCreated:
				if listed {
					p.ZAddNX(ctx, r.keyLinkList(n.Link.MerchantID), redis.Z{Score: float64(ms(n.Link.CreatedAt)), Member: n.LinkID})
				}
			case LinkDeleted:
				p.ZRem(ctx, r.keyLinkList(n.Link.MerchantID), n.LinkID)
			}
		}
		p.HDel(ctx, r.keyLinkOut(n.LinkID), n.Key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("notice %s of %s done: %w", n.Key, n.LinkID, err)
	}
	return nil
}

// DeleteLink removes merchantID's link id for good, in one script in the
// link's slot: the link, its reservations and its checkout index (the
// keys without a TTL; a payer's digest and a payment's marker end with
// their own TTLs), leaving in the outbox the notice of its deletion about
// the link as it was (intent: see CreateLink). The merchant's list loses it
// when the notice is done (LinkNoticeDone). Its open checkouts keep their
// own terms and finish: a payment of one counts on no link any more.
// ErrNotFound when there is no such link of the merchant.
func (r *Repo) DeleteLink(ctx context.Context, merchantID, id, intent string) (*LinkNotice, error) {
	if !ValidLinkID(id) {
		return nil, fmt.Errorf("delete payment link %.40q: %w", id, ErrNotFound)
	}
	if !validIntent(intent) {
		return nil, fmt.Errorf("delete payment link %s: %w: intent", id, ErrInvalid)
	}
	keys := []string{r.keyLink(id), r.keyLinkHeld(id), r.keyLinkCos(id), r.keyLinkOut(id), r.keyLinkFence(id, intent)}
	v, err := scriptLinkDelete.Run(ctx, r.rdb, keys, intent, merchantID, ms(r.now())).Slice()
	if err != nil {
		return nil, fmt.Errorf("delete payment link %s: %w", id, err)
	}
	switch code(v) {
	case -1:
		return nil, fmt.Errorf("delete payment link %s: %w", id, ErrNotFound)
	case -9:
		return nil, fmt.Errorf("delete payment link %s: %w", id, ErrLinkIntentRetired)
	}
	n, err := noticeAt(id, intent, v, 1)
	if err != nil || n == nil {
		return nil, fmt.Errorf("delete payment link %s: %w: no notice", id, errors.Join(errCorrupt, err))
	}
	return n, nil
}

// scriptLinkDelete: KEYS link, held, checkouts, outbox, fence; ARGV
// intent, merchant, now. {-9} intent retired, {-1} no such link of the
// merchant, {1, notice}.
var scriptLinkDelete = redis.NewScript(luaOwe + `
if redis.call('EXISTS', KEYS[5]) == 1 then return {-9} end
local m = redis.call('HGET', KEYS[1], 'merchant')
if not m or m ~= ARGV[2] then return {-1} end
owe(KEYS[4], ARGV[1], {'deleted'}, {'deleted:' .. ARGV[3]}, KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {1, redis.call('HGET', KEYS[4], ARGV[1])}
`)
