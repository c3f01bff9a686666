package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A payment link's keys share its hash tag {pl_…}, so every script below
// runs in one slot on a cluster:
//
//	pl:{id}       the link (hash)
//	pl:{id}:held  reservations: checkout id → until when it holds a slot (zset)
//	pl:{id}:co    the checkouts made from it, by creation time (zset)
//
// and the merchant's list of links m:{merchant}:links (zset). None has a
// TTL: a link lives until the merchant removes it, so Redis must persist
// (docs/payment-links.md). The link's count of payments is its hash's
// "payments" field; each counted checkout leaves a marker
// pl:{id}:paid:{checkout} for the retention (so a payment is counted once
// however often its effect runs, and the markers do not pile up for ever).
// The checkouts themselves keep their own keys and lifetimes.
func (r *Repo) keyLink(id string) string     { return r.prefix + "pl:{" + id + "}" }
func (r *Repo) keyLinkHeld(id string) string { return r.prefix + "pl:{" + id + "}:held" }
func (r *Repo) keyLinkPaidMark(id, checkoutID string) string {
	return r.prefix + "pl:{" + id + "}:paid:" + checkoutID
}
func (r *Repo) keyLinkCos(id string) string { return r.prefix + "pl:{" + id + "}:co" }
func (r *Repo) keyLinkList(merchantID string) string {
	return r.prefix + "m:{" + merchantID + "}:links"
}

// linkHoldGrace is how long past its checkout's expiry a reservation still
// counts when nothing released it: the expiry poller releases it at once
// (payments), this only frees slots a crash left behind.
const linkHoldGrace = 2 * time.Minute

func encodeLink(l *PaymentLink) ([]any, error) {
	meta := ""
	if len(l.Metadata) > 0 {
		b, err := json.Marshal(l.Metadata)
		if err != nil {
			return nil, err
		}
		meta = string(b)
	}
	wallets := make([]string, len(l.Wallets))
	for i, w := range l.Wallets {
		wallets[i] = string(w)
	}
	presets := make([]string, len(l.Presets))
	for i, p := range l.Presets {
		presets[i] = strconv.FormatInt(p, 10)
	}
	until := int64(0)
	if !l.ActiveUntil.IsZero() {
		until = ms(l.ActiveUntil)
	}
	return []any{
		"id", l.ID, "merchant", l.MerchantID, "store", l.StoreID,
		"amount", l.Amount, "min_amount", l.MinAmount, "max_amount", l.MaxAmount,
		"presets", strings.Join(presets, ","),
		"description", l.Description, "reference", l.Reference, "metadata", meta,
		"wallets", strings.Join(wallets, ","),
		"success_url", l.SuccessURL, "cancel_url", l.CancelURL,
		"late_policy", string(l.LatePolicy),
		"active_until", until, "max_payments", l.MaxPayments,
		"active", boolField(l.Active), "inactive_message", l.InactiveMessage,
		"deactivated_by", l.DeactivatedBy,
		"created_at", ms(l.CreatedAt), "updated_at", ms(l.UpdatedAt),
	}, nil
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func decodeLink(f map[string]string) (*PaymentLink, error) {
	if f["id"] == "" {
		return nil, ErrNotFound
	}
	var bad error
	num := func(k string) int64 {
		s := f[k]
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("%w: field %s", errCorrupt, k)
		}
		return n
	}
	tm := func(k string) time.Time {
		if n := num(k); n != 0 {
			return time.UnixMilli(n)
		}
		return time.Time{}
	}
	l := &PaymentLink{
		ID: f["id"], MerchantID: f["merchant"], StoreID: f["store"],
		Amount: num("amount"), MinAmount: num("min_amount"), MaxAmount: num("max_amount"),
		Description: f["description"], Reference: f["reference"],
		SuccessURL: f["success_url"], CancelURL: f["cancel_url"],
		LatePolicy:  LatePolicy(f["late_policy"]),
		ActiveUntil: tm("active_until"), MaxPayments: int(num("max_payments")),
		Active: f["active"] == "1", InactiveMessage: f["inactive_message"],
		DeactivatedBy: f["deactivated_by"],
		Payments:      int(num("payments")), Used: f["used"] == "1",
		CreatedAt: tm("created_at"), UpdatedAt: tm("updated_at"),
	}
	if m := f["metadata"]; m != "" {
		if err := json.Unmarshal([]byte(m), &l.Metadata); err != nil && bad == nil {
			bad = fmt.Errorf("%w: metadata", errCorrupt)
		}
	}
	if w := f["wallets"]; w != "" {
		for _, s := range strings.Split(w, ",") {
			l.Wallets = append(l.Wallets, Method(s))
		}
	}
	if p := f["presets"]; p != "" {
		for _, s := range strings.Split(p, ",") {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil && bad == nil {
				bad = fmt.Errorf("%w: presets", errCorrupt)
			}
			l.Presets = append(l.Presets, n)
		}
	}
	if bad != nil {
		return nil, fmt.Errorf("payment link %s: %w", l.ID, bad)
	}
	return l, nil
}

// CreateLink stores a new link with the notice of its creation in its
// outbox (one script in the link's slot), then lists it for its merchant
// with the stored answer of a reserved Idempotency-Key (idem, may be nil)
// in one more round trip (a transaction; a pipeline on a cluster). intent
// is the outbox key of the change, scheduled by the caller beforehand
// (payments); a retired one is ErrLinkIntentRetired and nothing is
// stored. "" stores the link without a notice (tests' fixtures).
func (r *Repo) CreateLink(ctx context.Context, l *PaymentLink, idem *IdempotentResponse, intent string) error {
	if l == nil || !ValidLinkID(l.ID) {
		return fmt.Errorf("create payment link: %w: not a new link", ErrInvalid)
	}
	if intent != "" && !validIntent(intent) {
		return fmt.Errorf("create payment link %s: %w: intent", l.ID, ErrInvalid)
	}
	fields, err := encodeLink(l)
	if err != nil {
		return fmt.Errorf("create payment link %s: %w", l.ID, err)
	}
	keys := []string{r.keyLink(l.ID), r.keyLinkOut(l.ID), r.keyLinkFence(l.ID, intent)}
	n, err := scriptLinkCreate.Run(ctx, r.rdb, keys, append([]any{intent}, fields...)...).Int()
	if err != nil {
		return fmt.Errorf("create payment link %s: %w", l.ID, err)
	}
	if n == -9 {
		return fmt.Errorf("create payment link %s: %w", l.ID, ErrLinkIntentRetired)
	}
	pipelined := r.rdb.TxPipelined
	if r.cluster {
		pipelined = r.rdb.Pipelined
	}
	_, err = pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, r.keyLinkList(l.MerchantID), redis.Z{Score: float64(ms(l.CreatedAt)), Member: l.ID})
		if idem != nil {
			k := r.keyIdem(idem.MerchantID, idem.Key)
			p.HSet(ctx, k, "status", strconv.Itoa(idem.Status), "body", idem.Body)
			p.PExpire(ctx, k, IdempotencyTTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create payment link %s: %w", l.ID, err)
	}
	return nil
}

// scriptLinkCreate: KEYS link, outbox, fence; ARGV intent ("" for none),
// then the link's field/value pairs. -9 intent retired, 1 stored.
var scriptLinkCreate = redis.NewScript(luaOwe + `
if ARGV[1] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then return -9 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] ~= '' then owe(KEYS[2], ARGV[1], {'created'}, {'created'}, KEYS[1]) end
return 1
`)

// queueLink queues the read of link id on p.
func (r *Repo) queueLink(ctx context.Context, p redis.Pipeliner, id string) func() (*PaymentLink, error) {
	h := p.HGetAll(ctx, r.keyLink(id))
	return func() (*PaymentLink, error) {
		f, err := h.Result()
		if err != nil {
			return nil, fmt.Errorf("payment link %s: %w", id, err)
		}
		l, err := decodeLink(f)
		if err != nil {
			return nil, fmt.Errorf("payment link %s: %w", id, err)
		}
		return l, nil
	}
}

// GetLink reads a payment link (one round trip; reads only). ErrNotFound
// when there is none.
func (r *Repo) GetLink(ctx context.Context, id string) (*PaymentLink, error) {
	if !ValidLinkID(id) {
		return nil, fmt.Errorf("payment link %.40q: %w", id, ErrNotFound)
	}
	var get func() (*PaymentLink, error)
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = r.queueLink(ctx, p, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payment link %s: %w", id, err)
	}
	return get()
}

// GetLinkFor reads a link of one merchant: another merchant's link is
// ErrNotFound, exactly like a missing one.
func (r *Repo) GetLinkFor(ctx context.Context, merchantID, id string) (*PaymentLink, error) {
	l, err := r.GetLink(ctx, id)
	if err != nil {
		return nil, err
	}
	if l.MerchantID != merchantID {
		return nil, fmt.Errorf("payment link %s: %w", id, ErrNotFound)
	}
	return l, nil
}

// ListLinks returns a page of one merchant's links, newest first, and the
// cursor of the next page ("" at the end).
func (r *Repo) ListLinks(ctx context.Context, merchantID, after string, limit int) ([]*PaymentLink, string, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	if after != "" && !ValidLinkID(after) {
		return nil, "", ErrBadCursor
	}
	ids, err := PageNewestFirst(ctx, r.rdb, r.keyLinkList(merchantID), after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list payment links: %w", err)
	}
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	gets := make([]func() (*PaymentLink, error), len(ids))
	_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			gets[i] = r.queueLink(ctx, p, id)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list payment links: %w", err)
	}
	out := make([]*PaymentLink, 0, len(ids))
	for _, get := range gets {
		l, err := get()
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if l.MerchantID == merchantID {
			out = append(out, l)
		}
	}
	return out, next, nil
}

// LinkUpdate names what an update changes; nil fields stay.
type LinkUpdate struct {
	// Amounts, when set, replaces the amount terms (Amount, MinAmount,
	// MaxAmount, Presets of the value): refused with ErrLinkAmountFixed once
	// a checkout used the link.
	Amounts         *PaymentLink
	Description     *string
	Active          *bool
	InactiveMessage *string
	ActiveUntil     *time.Time // zero time: no end
	MaxPayments     *int       // 0: no limit
}

// LinkChange is the outcome of UpdateLink.
type LinkChange struct {
	Link *PaymentLink
	// Deactivated is true when this update switched the link off.
	Deactivated bool
	// Notice is what the update owes the merchant (nil without intent).
	Notice *LinkNotice
}

// UpdateLink applies u to merchantID's link id in one atomic step (one
// script in the link's slot). The amount terms change only while no
// checkout used them (ErrLinkAmountFixed); everything else may change at
// any time and takes effect for the next payer at once; open checkouts
// finish with the terms they were made with. An update never leaves a link
// active that its limit keeps from taking payers: switching it on with its
// max_payments all paid, or lowering an active link's max_payments to what
// it took, is a *FieldError (active, max_payments) and changes nothing.
//
// intent is the outbox key of the update's notice (see CreateLink; "" for
// none).
func (r *Repo) UpdateLink(ctx context.Context, merchantID, id string, u LinkUpdate, intent string) (*LinkChange, error) {
	if !ValidLinkID(id) {
		return nil, fmt.Errorf("update payment link %.40q: %w", id, ErrNotFound)
	}
	if intent != "" && !validIntent(intent) {
		return nil, fmt.Errorf("update payment link %s: %w: intent", id, ErrInvalid)
	}
	var set []any
	if a := u.Amounts; a != nil {
		ps := make([]string, len(a.Presets))
		for i, p := range a.Presets {
			ps[i] = strconv.FormatInt(p, 10)
		}
		set = append(set, "amount", a.Amount, "min_amount", a.MinAmount, "max_amount", a.MaxAmount, "presets", strings.Join(ps, ","))
	}
	if u.Description != nil {
		set = append(set, "description", *u.Description)
	}
	if u.InactiveMessage != nil {
		set = append(set, "inactive_message", *u.InactiveMessage)
	}
	if u.ActiveUntil != nil {
		until := int64(0)
		if !u.ActiveUntil.IsZero() {
			until = ms(*u.ActiveUntil)
		}
		set = append(set, "active_until", until)
	}
	if u.MaxPayments != nil {
		set = append(set, "max_payments", *u.MaxPayments)
	}
	active := ""
	if u.Active != nil {
		active = boolField(*u.Active)
	}
	amounts := "0"
	if u.Amounts != nil {
		amounts = "1"
	}
	argv := append([]any{ms(r.now()), merchantID, active, amounts, intent}, set...)
	keys := []string{r.keyLink(id), r.keyLinkOut(id), r.keyLinkFence(id, intent)}
	v, err := scriptLinkUpdate.Run(ctx, r.rdb, keys, argv...).Slice()
	if err != nil {
		return nil, fmt.Errorf("update payment link %s: %w", id, err)
	}
	switch code(v) {
	case -1:
		return nil, fmt.Errorf("update payment link %s: %w", id, ErrNotFound)
	case -2:
		return nil, fmt.Errorf("update payment link %s: %w", id, ErrLinkAmountFixed)
	case -3:
		return nil, fmt.Errorf("update payment link %s: %w", id, &FieldError{Field: "active",
			Message: "the link's max_payments are all paid (a refund does not free one): raise max_payments, or set it to 0, in the same update"})
	case -4:
		return nil, fmt.Errorf("update payment link %s: %w", id, &FieldError{Field: "max_payments",
			Message: "must be greater than the payments the link already took, or 0, while the link is active; or set active to false in the same update"})
	case -9:
		return nil, fmt.Errorf("update payment link %s: %w", id, ErrLinkIntentRetired)
	}
	l, err := linkAt(v, 2)
	if err != nil {
		return nil, fmt.Errorf("update payment link %s: %w", id, err)
	}
	n, err := noticeAt(id, intent, v, 3)
	if err != nil {
		return nil, fmt.Errorf("update payment link %s: %w", id, err)
	}
	return &LinkChange{Link: l, Deactivated: code(v) == 2, Notice: n}, nil
}

func linkAt(v []any, i int) (*PaymentLink, error) {
	if i >= len(v) {
		return nil, fmt.Errorf("%w: script answer has no fields", errCorrupt)
	}
	flat, _ := v[i].([]any)
	f := make(map[string]string, len(flat)/2)
	for j := 0; j+1 < len(flat); j += 2 {
		k, _ := flat[j].(string)
		s, _ := flat[j+1].(string)
		f[k] = s
	}
	return decodeLink(f)
}

// Reserve takes one of link l's slots for checkout c (made from it
// with DraftFromLink, not yet stored), until c's expiry, and lists c among
// the link's checkouts, in one atomic step in the link's slot: the link
// must be active, before its active_until, and with a limit, its paid
// checkouts and live reservations together below max_payments.
// ErrLinkInactive otherwise, and nothing changed. Each reservation ends
// with ReleaseLinkSlot (expired or cancelled unpaid) or ConsumeLinkSlot
// (paid); one nothing ended stops counting linkHoldGrace after the
// checkout's expiry. The link's terms must still be l's (amount terms and
// description): ErrLinkChanged otherwise, and nothing changed.
//
// In the same step it claims the tap for c (its page's token and the
// payer's wallet identity, each for c's amount) until c's expiry: when a
// claim already names a checkout, Reserve returns that checkout's id,
// takes no slot and changes nothing, so that a double tap or the same
// payer tapping twice at once makes one checkout.
func (r *Repo) Reserve(ctx context.Context, l *PaymentLink, c *Checkout, tap LinkTap) (string, error) {
	if l == nil || !ValidLinkID(l.ID) || c == nil || c.PaymentLink != l.ID {
		return "", fmt.Errorf("reserve: %w", ErrInvalid)
	}
	linkID := l.ID
	keys := append([]string{r.keyLink(linkID), r.keyLinkHeld(linkID), r.keyLinkCos(linkID)}, r.tapKeys(linkID, tap, c.Amounts.Trade)...)
	ttl := max(c.ExpiresAt.Sub(r.now()), time.Millisecond)
	v, err := scriptLinkReserve.Run(ctx, r.rdb, keys, ms(r.now()), c.ID, ms(c.ExpiresAt.Add(linkHoldGrace)), ms(c.CreatedAt), c.MerchantID, ttl.Milliseconds(),
		l.Amount, l.MinAmount, l.MaxAmount, joinFen(l.Presets), l.Description).Result()
	if err != nil {
		return "", fmt.Errorf("reserve %s: %w", linkID, err)
	}
	if id, ok := v.(string); ok {
		return id, nil
	}
	n, _ := v.(int64)
	switch n {
	case -1:
		return "", fmt.Errorf("reserve %s: %w", linkID, ErrNotFound)
	case -2:
		return "", fmt.Errorf("reserve %s: %w: all its payments are made or reserved", linkID, ErrLinkInactive)
	case -3:
		return "", fmt.Errorf("reserve %s: %w: switched off", linkID, ErrLinkInactive)
	case -4:
		return "", fmt.Errorf("reserve %s: %w: past its active_until", linkID, ErrLinkInactive)
	case -5:
		return "", fmt.Errorf("reserve %s: %w", linkID, ErrLinkChanged)
	}
	return "", nil
}

// tapKeys are the claim keys of a tap on linkID for fen: the page's token
// and the payer's digest, when valid (anything else claims nothing). The
// token's claim is scoped by the payer's digest too: a page's token is
// sent back by whoever holds the page, so a token copied or replayed from
// another wallet identity (or from none) claims a key of its own and
// never gets the first payer's checkout.
func (r *Repo) tapKeys(linkID string, tap LinkTap, fen int64) []string {
	amount := ":" + strconv.FormatInt(fen, 10)
	who := ""
	if validWho(tap.Who) {
		who = tap.Who
	}
	var keys []string
	if validWho(tap.Token) {
		keys = append(keys, r.prefix+"pl:{"+linkID+"}:tap:"+tap.Token+":"+who+amount)
	}
	if who != "" {
		keys = append(keys, r.keyLinkPayer(linkID, who)+amount)
	}
	return keys
}

// dropTap ends the tap's claims that still name checkoutID (it ended, or
// was never stored), so that the next tap makes a checkout.
func (r *Repo) dropTap(ctx context.Context, linkID string, tap LinkTap, fen int64, checkoutID string) error {
	keys := r.tapKeys(linkID, tap, fen)
	if len(keys) == 0 {
		return nil
	}
	if err := scriptDropTap.Run(ctx, r.rdb, keys, checkoutID).Err(); err != nil {
		return fmt.Errorf("drop tap on %s: %w", linkID, err)
	}
	return nil
}

// scriptDropTap: KEYS the claims; ARGV checkout id. Deletes each claim
// that still names the checkout.
var scriptDropTap = redis.NewScript(`
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 0
`)

// ReleaseLinkSlot ends checkout checkoutID's reservation on its link
// without a payment (it expired or was cancelled unpaid). It reports
// whether there was one; releasing again changes nothing.
func (r *Repo) ReleaseLinkSlot(ctx context.Context, linkID, checkoutID string) (bool, error) {
	if !ValidLinkID(linkID) {
		return false, fmt.Errorf("release %s: %w", linkID, ErrNotFound)
	}
	n, err := r.rdb.ZRem(ctx, r.keyLinkHeld(linkID), checkoutID).Result()
	if err != nil {
		return false, fmt.Errorf("release %s of %s: %w", checkoutID, linkID, err)
	}
	return n == 1, nil
}

// SlotUse is the outcome of ConsumeLinkSlot.
type SlotUse struct {
	// Counted is true when the payment counts among the link's payments
	// (now or by an earlier call); false when a late payment found the
	// link ran out: it must be refunded.
	Counted bool
	// Deactivated is true for the one call whose payment reached
	// max_payments and switched the link off.
	Deactivated bool
	// Link is the link after the call.
	Link *PaymentLink
	// Notice is what the payment still owes the merchant: the
	// deactivation by the limit, until LinkNoticeDone (a call again after
	// a crash or a failed emit finds it still there). Nil when none.
	Notice *LinkNotice
}

// ConsumeLinkSlot counts paid checkout checkoutID among its link's
// payments, once however often it is called: its reservation becomes a
// payment. A payment whose reservation is gone counts only while the link
// has room, late or in time (late only says which it is): the slot may
// have been released (expiry, cancel, a lapse after a crash) and retaken
// by another payer, since the gateway cannot close a JSAPI order, and
// counting it would pass max_payments. Otherwise Counted is false and the
// money goes back (docs/payment-links.md). The payment that reaches
// max_payments deactivates the link (DeactivatedBy "limit").
func (r *Repo) ConsumeLinkSlot(ctx context.Context, linkID, checkoutID string, late bool) (*SlotUse, error) {
	if !ValidLinkID(linkID) {
		return nil, fmt.Errorf("consume %s: %w", linkID, ErrNotFound)
	}
	if !ValidID(checkoutID) {
		return nil, fmt.Errorf("consume %s: %w: checkout id", linkID, ErrInvalid)
	}
	keys := []string{r.keyLink(linkID), r.keyLinkHeld(linkID), r.keyLinkPaidMark(linkID, checkoutID), r.keyLinkOut(linkID)}
	v, err := scriptLinkConsume.Run(ctx, r.rdb, keys, ms(r.now()), checkoutID, boolField(late), r.retention.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("consume %s of %s: %w", checkoutID, linkID, err)
	}
	n, err := noticeAt(linkID, checkoutID, v, 3)
	if err != nil {
		return nil, fmt.Errorf("consume %s of %s: %w", checkoutID, linkID, err)
	}
	if code(v) == -1 {
		// The link is gone; a notice its limit owed before is not.
		return &SlotUse{Counted: true, Notice: n}, fmt.Errorf("consume %s: %w", linkID, ErrNotFound)
	}
	l, err := linkAt(v, 2)
	if err != nil {
		return nil, fmt.Errorf("consume %s of %s: %w", checkoutID, linkID, err)
	}
	return &SlotUse{Counted: code(v) != 0, Deactivated: code(v) == 2, Link: l, Notice: n}, nil
}

// LinkHeld reports how many reservations of the link count at now (tests
// and the API's view).
func (r *Repo) LinkHeld(ctx context.Context, linkID string) (int64, error) {
	n, err := r.rdb.ZCount(ctx, r.keyLinkHeld(linkID), "("+strconv.FormatInt(ms(r.now()), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("held slots of %s: %w", linkID, err)
	}
	return n, nil
}

// ListByLink returns a page of the checkouts made from merchantID's link
// linkID, newest first, and the next cursor ("" at the end); a link of
// another merchant is ErrNotFound.
func (r *Repo) ListByLink(ctx context.Context, merchantID, linkID string, q ListQuery) ([]*Checkout, string, error) {
	if _, err := r.GetLinkFor(ctx, merchantID, linkID); err != nil {
		return nil, "", err
	}
	return r.listPage(ctx, merchantID, q, false, func(after string, n int) ([]string, error) {
		ids, err := PageNewestFirst(ctx, r.rdb, r.keyLinkCos(linkID), after, n)
		if err != nil {
			return nil, fmt.Errorf("list checkouts of %s: %w", linkID, err)
		}
		return ids, nil
	})
}

// scriptLinkReserve: KEYS link, held, checkouts, then the tap's claims;
// ARGV now, checkout id, hold until (ms), created (ms), merchant, the
// claims' lifetime (ms), then the terms the checkout is made on (amount,
// min, max, presets, description). Returns the checkout id a claim names,
// -1 no link (or another merchant's), -3 switched off, -4 past
// active_until, -5 other terms, -2 no slot left, 1 reserved (and
// claimed).
var scriptLinkReserve = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'merchant', 'active', 'active_until', 'max_payments', 'payments')
if not f[1] or f[1] ~= ARGV[5] then return -1 end
for i = 4, #KEYS do
  local id = redis.call('GET', KEYS[i])
  if id then return id end
end
if f[2] ~= '1' then return -3 end
local now = tonumber(ARGV[1])
local ends = tonumber(f[3] or '0')
if ends > 0 and ends <= now then return -4 end
local t = redis.call('HMGET', KEYS[1], 'amount', 'min_amount', 'max_amount', 'presets', 'description')
for i = 1, 5 do
  if (t[i] or '') ~= ARGV[6 + i] then return -5 end
end
local maxp = tonumber(f[4] or '0')
if maxp > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) + tonumber(f[5] or '0') >= maxp then return -2 end
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[1], 'used', '1')
for i = 4, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[6])
end
return 1
`)

// scriptLinkConsume: KEYS link, held, the checkout's paid marker,
// outbox; ARGV now, checkout id, late ("1"/"0"), the marker's lifetime
// (ms). Returns {-1, 0, {}, notice} no link, {0, n, fields, notice} not
// counted (no reservation left, no room), {1, n, fields, notice} counted (now or
// before), {2, n, fields, notice} counted and the link switched off by
// its limit, which owes the notice of .deactivated, kept in the outbox
// under the checkout's id; n is the link's payments, notice the one the
// checkout's payment owes (false when none).
var scriptLinkConsume = redis.NewScript(luaOwe + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, {}, redis.call('HGET', KEYS[4], ARGV[2])} end
local now = tonumber(ARGV[1])
local maxp = tonumber(redis.call('HGET', KEYS[1], 'max_payments') or '0')
local held = redis.call('ZREM', KEYS[2], ARGV[2])
local n = tonumber(redis.call('HGET', KEYS[1], 'payments') or '0')
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {1, n, redis.call('HGETALL', KEYS[1]), redis.call('HGET', KEYS[4], ARGV[2])}
end
if held == 0 and maxp > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) + n >= maxp then
    return {0, n, redis.call('HGETALL', KEYS[1]), false}
  end
end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
n = redis.call('HINCRBY', KEYS[1], 'payments', 1)
local code = 1
if maxp > 0 and n >= maxp and redis.call('HGET', KEYS[1], 'active') == '1' then
  redis.call('HSET', KEYS[1], 'active', '0', 'deactivated_by', 'limit', 'updated_at', ARGV[1])
  owe(KEYS[4], ARGV[2], {'deactivated'}, {'limit:' .. n}, KEYS[1])
  code = 2
end
return {code, n, redis.call('HGETALL', KEYS[1]), redis.call('HGET', KEYS[4], ARGV[2])}
`)

// scriptLinkUpdate: KEYS link, outbox, fence; ARGV now, merchant, active
// ("1", "0" or "" to leave), amounts ("1" when the amount terms are among
// the pairs), intent ("" for no notice), then field/value pairs. Returns
// {-9} intent retired, {-1} no link, {-2} amount terms already used, {-3}
// switched on with its max_payments all paid, {-4} an active link's
// max_payments lowered to the payments it took, {1,
// paid, fields, notice} updated, {2, paid, fields, notice} updated and
// switched off by this call (the notice owes .updated, and .deactivated).
var scriptLinkUpdate = redis.NewScript(luaOwe + `
if ARGV[5] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then return {-9} end
local f = redis.call('HMGET', KEYS[1], 'merchant', 'active', 'used', 'max_payments', 'payments')
if not f[1] or f[1] ~= ARGV[2] then return {-1} end
if ARGV[4] == '1' and f[3] == '1' then return {-2} end
local maxp, named = tonumber(f[4] or '0'), false
for i = 6, #ARGV, 2 do
  if ARGV[i] == 'max_payments' then maxp, named = tonumber(ARGV[i+1]), true end
end
if maxp > 0 and tonumber(f[5] or '0') >= maxp then
  if ARGV[3] == '1' then return {-3} end
  if named and ARGV[3] == '' and f[2] == '1' then return {-4} end
end
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
end
local code = 1
if ARGV[3] == '0' and f[2] == '1' then
  redis.call('HSET', KEYS[1], 'active', '0', 'deactivated_by', 'merchant')
  code = 2
elseif ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'active', '1', 'deactivated_by', '')
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
local notice = false
if ARGV[5] ~= '' then
  local kinds, causes = {'updated'}, {ARGV[1]}
  if code == 2 then kinds[2] = 'deactivated'; causes[2] = 'merchant:' .. ARGV[1] end
  owe(KEYS[2], ARGV[5], kinds, causes, KEYS[1])
  notice = redis.call('HGET', KEYS[2], ARGV[5])
end
return {code, 0, redis.call('HGETALL', KEYS[1]), notice}
`)

// CreateFromLink makes and stores the checkout a payer starts from link l
// for amount fen: the link's terms (DraftFromLink, webhookURL the
// merchant's), a slot reserved on the link first (Reserve:
// ErrLinkInactive when there is none; ErrLinkChanged when the link's terms
// are no longer l's or not those the payer's page showed, tap.Terms), then
// the checkout stored (Create). Should storing fail, the slot is released; should the process die in
// between, the reservation of a checkout that never was lapses after its
// would-be expiry.
//
// A tap whose claim (Reserve) names a checkout still open for fen gets
// that checkout back, made by another request of the same page or payer,
// perhaps at this moment (it waits up to tapWait for it to be stored);
// a claim on a checkout that ended or never was stored is dropped and the
// tap makes its own.
func (r *Repo) CreateFromLink(ctx context.Context, l *PaymentLink, fen int64, webhookURL string, tap LinkTap) (*Checkout, error) {
	if err := l.CheckSeen(tap.Terms); err != nil {
		return nil, err
	}
	d, err := DraftFromLink(l, fen, webhookURL)
	if err != nil {
		return nil, err
	}
	for range 3 {
		c, err := NewCheckout(d, r.now())
		if err != nil {
			return nil, err
		}
		claimed, err := r.Reserve(ctx, l, c, tap)
		if err != nil {
			return nil, err
		}
		if claimed == "" {
			if err := r.Create(ctx, c, nil); err != nil {
				bg := context.WithoutCancel(ctx)
				if _, rerr := r.ReleaseLinkSlot(bg, l.ID, c.ID); rerr != nil {
					err = errors.Join(err, rerr)
				}
				if derr := r.dropTap(bg, l.ID, tap, fen, c.ID); derr != nil {
					err = errors.Join(err, derr)
				}
				return nil, err
			}
			return c, nil
		}
		prev, err := r.waitStored(ctx, claimed)
		if err != nil {
			return nil, fmt.Errorf("checkout from link %s: tap claimed by %s: %w", l.ID, claimed, err)
		}
		// Only a checkout of this link for this amount is this tap's: a
		// claim naming anything else is dropped, never handed out.
		if prev != nil && prev.PaymentLink == l.ID && prev.Amounts.Trade == fen && prev.Status.Active() && prev.ExpiresAt.After(r.now()) {
			return prev, nil
		}
		if err := r.dropTap(ctx, l.ID, tap, fen, claimed); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("checkout from link %s: %w: its tap's claim keeps changing", l.ID, ErrInvalid)
}

// tapWait bounds how long a tap waits for the checkout its claim names to
// be stored (the request that claimed it stores it right after): far
// above a Redis round trip under load, short enough for a payer.
const tapWait = 3 * time.Second

// waitStored reads checkout id, waiting up to tapWait while it is not
// stored yet; nil when it still is not (its maker died or failed).
func (r *Repo) waitStored(ctx context.Context, id string) (*Checkout, error) {
	ctx, cancel := context.WithTimeout(ctx, tapWait)
	defer cancel()
	pause := 5 * time.Millisecond
	for {
		c, err := r.Get(ctx, id)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return nil, nil
			}
			return nil, ctx.Err()
		case <-time.After(pause):
			pause = min(pause*2, 200*time.Millisecond)
		}
	}
}

// FinishIdempotent stores the answer of a write reserved with
// BeginIdempotent that stored nothing else in the same step (a link's
// update), so the same key and body get it again.
func (r *Repo) FinishIdempotent(ctx context.Context, merchantID, key string, status int, body []byte) error {
	k := r.keyIdem(merchantID, key)
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "status", strconv.Itoa(status), "body", body)
		p.PExpire(ctx, k, IdempotencyTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store idempotent answer: %w", err)
	}
	return nil
}

func (r *Repo) keyLinkPayer(id, who string) string { return r.prefix + "pl:{" + id + "}:who:" + who }

// validWho accepts the digest a handler names a payer by: 1 to 64 letters
// and digits (a hash of the wallet identity, never the identity itself).
func validWho(who string) bool { return who != "" && len(who) <= 64 && isAlnum(who) }
