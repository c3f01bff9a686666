package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
)

// Record is an event with its delivery, as the events API lists it.
type Record struct {
	Event
	Delivery Delivery `json:"delivery"`
	// Legacy is the stored body of an event written before events had an
	// api_version (nil for every other): it is listed as it was written
	// and sent, its members unchanged beside delivery, and a resend sends
	// it byte for byte, so a merchant never sees one event in two shapes.
	// Only the envelope's routing members (id, type, merchant_id,
	// checkout_id) are read into Event; Data stays empty. Such events
	// leave with the retention (DefaultRetention).
	Legacy json.RawMessage `json:"-"`
}

// MarshalJSON writes the event and its delivery; a legacy event's stored
// members are written unchanged.
func (r Record) MarshalJSON() ([]byte, error) {
	if r.Legacy == nil {
		type plain Record // without this method
		return json.Marshal(plain(r))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Legacy, &m); err != nil {
		return nil, fmt.Errorf("webhook: legacy event %s: %w", r.ID, err)
	}
	d, err := json.Marshal(r.Delivery)
	if err != nil {
		return nil, err
	}
	m["delivery"] = d
	return json.Marshal(m)
}

// Delivery is where an event's delivery stands.
type Delivery struct {
	State string `json:"state"`
	// NextAttempt is when the next attempt is due, nil when none is.
	NextAttempt *time.Time `json:"next_attempt_at,omitempty"`
	// Attempts are the attempts made, oldest first (at most the last 100).
	Attempts []Attempt `json:"attempts"`
}

// ListQuery selects a page of a merchant's events.
type ListQuery struct {
	// Type keeps only events of this type; empty keeps all.
	Type string
	// CheckoutID keeps only events of this checkout; empty keeps all.
	CheckoutID string
	// After is the cursor: the last id of the previous page.
	After string
	// Limit is the page size, 1..100 (default 20).
	Limit int
}

// listScanMax bounds the entries one List call reads when it has to filter
// (both a type and a checkout): a page may then come back short with a
// cursor.
const listScanMax = 500

// List returns one merchant's events, newest first, each with its delivery,
// and the cursor of the next page ("" at the end). ErrBadCursor when After
// is not an event of this list.
func (s *Service) List(ctx context.Context, merchantID string, q ListQuery) ([]*Record, string, error) {
	if q.Limit <= 0 {
		q.Limit = 20
	}
	q.Limit = min(q.Limit, 100)
	if !validKeyPart(merchantID) {
		return nil, "", nil
	}
	if q.Type != "" && !ValidType(q.Type) {
		return nil, "", fmt.Errorf("%w: type %q", ErrInvalidEvent, q.Type)
	}
	if q.CheckoutID != "" && !checkout.ValidID(q.CheckoutID) {
		return nil, "", nil // no such checkout, no events
	}
	if q.After != "" && !ValidID(q.After) {
		return nil, "", ErrBadCursor
	}
	index := s.keyIndex(merchantID)
	filterType := ""
	switch {
	case q.CheckoutID != "":
		index = s.keyIndexCheckout(merchantID, q.CheckoutID)
		filterType = q.Type
	case q.Type != "":
		index = s.keyIndexType(merchantID, q.Type)
	}
	var (
		out     []*Record
		cursor  = q.After
		scanned int
	)
	for {
		want := q.Limit - len(out) + 1 // one more tells whether a page follows
		ids, err := checkout.PageNewestFirst(ctx, s.rdb, index, cursor, want)
		switch {
		case errors.Is(err, checkout.ErrBadCursor):
			return nil, "", ErrBadCursor
		case err != nil:
			return nil, "", fmt.Errorf("webhook: list %s: %w", merchantID, err)
		}
		more := len(ids) == want
		if more {
			ids = ids[:want-1]
		}
		recs, err := s.load(ctx, merchantID, ids)
		if err != nil {
			return nil, "", fmt.Errorf("webhook: list %s: %w", merchantID, err)
		}
		for _, r := range recs {
			if r != nil && r.MerchantID == merchantID && (filterType == "" || r.Type == filterType) {
				out = append(out, r)
			}
		}
		scanned += len(ids)
		if len(ids) > 0 {
			cursor = ids[len(ids)-1]
		}
		switch {
		case !more:
			return out, "", nil
		case len(out) >= q.Limit || scanned >= listScanMax:
			return out, cursor, nil
		}
	}
}

// Get returns one of a merchant's events with its delivery. Another
// merchant's event is ErrNotFound, exactly like a missing one.
func (s *Service) Get(ctx context.Context, merchantID, id string) (*Record, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	recs, err := s.load(ctx, merchantID, []string{id})
	if err != nil {
		return nil, fmt.Errorf("webhook: get %s: %w", id, err)
	}
	if recs[0] == nil || recs[0].MerchantID != merchantID {
		return nil, ErrNotFound
	}
	return recs[0], nil
}

// load reads merchantID's events and their attempts in one round trip; a
// missing event is nil.
func (s *Service) load(ctx context.Context, merchantID string, ids []string) ([]*Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	hs := make([]*redis.MapStringStringCmd, len(ids))
	ls := make([]*redis.StringSliceCmd, len(ids))
	for i, id := range ids {
		hs[i] = pipe.HGetAll(ctx, s.keyEvent(merchantID, id))
		ls[i] = pipe.LRange(ctx, s.keyAttempts(merchantID, id), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]*Record, len(ids))
	for i := range ids {
		h := hs[i].Val()
		if len(h) == 0 || h["body"] == "" {
			continue
		}
		r := &Record{}
		if err := decodeStored([]byte(h["body"]), r); err != nil {
			return nil, fmt.Errorf("event %s: stored body: %w", ids[i], err)
		}
		r.Delivery.State = h["state"]
		if t := msTime(h["next"]); !t.IsZero() {
			r.Delivery.NextAttempt = &t
		}
		r.Delivery.Attempts = make([]Attempt, 0, len(ls[i].Val()))
		for _, raw := range ls[i].Val() {
			var a Attempt
			if json.Unmarshal([]byte(raw), &a) == nil {
				r.Delivery.Attempts = append(r.Delivery.Attempts, a)
			}
		}
		out[i] = r
	}
	return out, nil
}

// decodeStored reads a stored body into r: an event of the current shape
// into r.Event, a legacy one (no api_version) into r.Legacy and the
// routing members of r.Event.
func decodeStored(body []byte, r *Record) error {
	var probe struct {
		APIVersion string `json:"api_version"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return err
	}
	if probe.APIVersion != "" {
		return json.Unmarshal(body, &r.Event)
	}
	var env struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		MerchantID string `json:"merchant_id"`
		CheckoutID string `json:"checkout_id"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return err
	}
	r.ID, r.Object, r.Type, r.MerchantID, r.CheckoutID = env.ID, "event", env.Type, env.MerchantID, env.CheckoutID
	r.Legacy = json.RawMessage(body)
	return nil
}

// resendScript schedules a new delivery of an event now, with a fresh
// retry window. While a worker holds a live claim on it, the resend is
// noted and that worker schedules it when it finishes, so the two never
// overlap. The event's keys are kept at least minTTL more.
//
// KEYS: event, due, attempts; ARGV: id, merchant, now ms, min ttl ms
// Answers 0 when the event is not the merchant's.
var resendScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'mid') ~= ARGV[2] then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and ttl < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
if redis.call('HEXISTS', KEYS[1], 'claim') == 1 then
  local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if due and tonumber(due) > tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], 'resend', 1)
    return 2
  end
end
redis.call('HSET', KEYS[1], 'state', 'pending', 'tries', 0, 'since', ARGV[3], 'next', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

// Resend schedules a new delivery of one of a merchant's events now, with
// the same id and body and a fresh retry window. Another merchant's event
// is ErrNotFound.
func (s *Service) Resend(ctx context.Context, merchantID, id string) error {
	if !ValidID(id) || !validKeyPart(merchantID) {
		return ErrNotFound
	}
	now := s.now()
	n, err := resendScript.Run(ctx, s.rdb,
		[]string{s.keyEvent(merchantID, id), s.keyDue(merchantID), s.keyAttempts(merchantID, id)},
		id, merchantID, now.UnixMilli(), (s.maxAge + 24*time.Hour).Milliseconds(),
	).Int()
	if err != nil {
		return fmt.Errorf("webhook: resend %s: %w", id, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Pending reports how many deliveries are queued (due now or later, or
// claimed): a gauge for operators.
func (s *Service) Pending(ctx context.Context) (int64, error) {
	cmds := make([]*redis.IntCmd, checkout.QueueShards)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range cmds {
			cmds[n] = p.ZCard(ctx, s.keyDueShard(n))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("webhook: pending: %w", err)
	}
	var total int64
	for _, c := range cmds {
		total += c.Val()
	}
	return total, nil
}
