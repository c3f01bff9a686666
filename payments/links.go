package payments

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// CheckoutFromLink makes the checkout a payer starts from payment link l
// for amount fen (checkout.Repo.CreateFromLink: a slot reserved, then the
// checkout stored with the link's terms and the merchant's webhook URL).
// checkout.ErrLinkInactive when the link takes no payer now; an
// *checkout.AmountError when fen breaks the link's amount terms. The taps
// tap names (the page, the payer) make one checkout while it is open.
func (s *Service) CheckoutFromLink(ctx context.Context, l *checkout.PaymentLink, fen int64, tap checkout.LinkTap) (*checkout.Checkout, error) {
	m, ok := s.dir.Merchant(l.MerchantID)
	if !ok {
		return nil, fmt.Errorf("checkout from link %s: merchant %s: %w", l.ID, l.MerchantID, checkout.ErrNotFound)
	}
	c, err := s.repo.CreateFromLink(ctx, l, fen, m.WebhookURL, tap)
	if err != nil {
		return nil, fmt.Errorf("checkout from link %s: %w", l.ID, err)
	}
	s.log.Info("Checkout created from a payment link", "checkout_id", c.ID, "payment_link", l.ID, "amount", fen)
	return c, nil
}

// LinkChanged emits the merchant's event typ (payment_link.created,
// .updated, .deactivated, .deleted) about l, with an id derived from the
// link and cause, so that an emit repeated for the same cause is one
// event.
func (s *Service) LinkChanged(ctx context.Context, typ string, l *checkout.PaymentLink, cause string) error {
	e, err := webhook.NewLinkEvent(typ, l, s.publicURL, s.now())
	if err != nil {
		return err
	}
	e.ID = eventID(l.ID, typ+":"+cause)
	if err := s.events.Emit(ctx, e); err != nil {
		return fmt.Errorf("emit %s for %s: %w", typ, l.ID, err)
	}
	s.log.Info("Event emitted", "payment_link", l.ID, "event_id", e.ID, "event_type", typ)
	return nil
}

// linkEventTypes are the events of each kind of link notice.
var linkEventTypes = map[string]string{
	checkout.LinkCreated:     webhook.TypePaymentLinkCreated,
	checkout.LinkUpdated:     webhook.TypePaymentLinkUpdated,
	checkout.LinkDeactivated: webhook.TypePaymentLinkDeactivated,
	checkout.LinkDeleted:     webhook.TypePaymentLinkDeleted,
}

// linkIntentMember is the watch member of a link change's notice, key in
// the link's outbox: the reconciler sends what the change left there, or
// fences the intent off (checkout.Repo.RetireLinkIntent).
func linkIntentMember(linkID, key string) string { return "li:" + linkID + ":" + key }

// beginLinkChange schedules the intent of a change of link linkID, before
// the change, due after the lease: its writer sends the notice long
// before. It returns the intent's outbox key.
func (s *Service) beginLinkChange(ctx context.Context, linkID string) (string, error) {
	key := rand.Text()[:16]
	if err := s.schedule(ctx, linkIntentMember(linkID, key), s.now().Add(s.lease)); err != nil {
		return "", fmt.Errorf("payment link %s: %w", linkID, err)
	}
	return key, nil
}

// sendLinkNotice emits the events of notice n (each once: their ids
// derive from the cause), then takes it out of the outbox and drops its
// intent. On failure the notice stays and the intent brings the
// reconciler back to it after the lease.
func (s *Service) sendLinkNotice(ctx context.Context, n *checkout.LinkNotice) error {
	for i, kind := range n.Kinds {
		typ, ok := linkEventTypes[kind]
		if !ok {
			return fmt.Errorf("payment link %s: notice %s: unknown kind %q", n.LinkID, n.Key, kind)
		}
		if err := s.LinkChanged(ctx, typ, n.Link, n.Causes[i]); err != nil {
			return err
		}
	}
	if err := s.repo.LinkNoticeDone(ctx, n); err != nil {
		return err
	}
	m := linkIntentMember(n.LinkID, n.Key)
	if err := s.rdb.ZRem(ctx, s.keyWatch(m), m).Err(); err != nil {
		return fmt.Errorf("payment link %s: unschedule %s: %w", n.LinkID, m, err)
	}
	return nil
}

// afterLinkChange sends what a stored change owes; a failure is logged:
// the change stands, and the reconciler sends its events later.
func (s *Service) afterLinkChange(ctx context.Context, n *checkout.LinkNotice) {
	if n == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.sendLinkNotice(ctx, n); err != nil {
		s.log.Warn("Payment link event not sent yet; the reconciler sends it after the lease",
			"payment_link", n.LinkID, "notice", n.Key, "error", err)
	}
}

// CreateLink stores the merchant's new link l (with the Idempotency-Key's
// answer idem, may be nil) and emits payment_link.created: the link and
// what it owes are stored in one step, so the event is sent even if this
// process dies or the emit fails right after (the reconciler, through the
// intent scheduled first).
func (s *Service) CreateLink(ctx context.Context, l *checkout.PaymentLink, idem *checkout.IdempotentResponse) error {
	key, err := s.beginLinkChange(ctx, l.ID)
	if err != nil {
		return err
	}
	if err := s.repo.CreateLink(ctx, l, idem, key); err != nil {
		s.unwatchIntent(ctx, linkIntentMember(l.ID, key))
		return err
	}
	s.afterLinkChange(ctx, &checkout.LinkNotice{LinkID: l.ID, Key: key,
		Kinds: []string{checkout.LinkCreated}, Causes: []string{checkout.LinkCreated}, Link: l})
	return nil
}

// UpdateLink applies u to merchantID's link id (checkout.Repo.UpdateLink)
// and emits payment_link.updated, and .deactivated when it switched the
// link off, as CreateLink does.
func (s *Service) UpdateLink(ctx context.Context, merchantID, id string, u checkout.LinkUpdate) (*checkout.LinkChange, error) {
	key, err := s.beginLinkChange(ctx, id)
	if err != nil {
		return nil, err
	}
	ch, err := s.repo.UpdateLink(ctx, merchantID, id, u, key)
	if err != nil {
		s.unwatchIntent(ctx, linkIntentMember(id, key))
		return nil, err
	}
	s.afterLinkChange(ctx, ch.Notice)
	return ch, nil
}

// DeleteLink removes merchantID's link id for good
// (checkout.Repo.DeleteLink) and emits payment_link.deleted, as CreateLink
// does. It returns the link as it was. Its open checkouts finish.
func (s *Service) DeleteLink(ctx context.Context, merchantID, id string) (*checkout.PaymentLink, error) {
	key, err := s.beginLinkChange(ctx, id)
	if err != nil {
		return nil, err
	}
	n, err := s.repo.DeleteLink(ctx, merchantID, id, key)
	if err != nil {
		s.unwatchIntent(ctx, linkIntentMember(id, key))
		return nil, err
	}
	s.log.Info("Payment link deleted", "payment_link", id, "merchant_id", merchantID)
	s.afterLinkChange(ctx, n)
	return n.Link, nil
}

// retireLinkIntent is the reconciler's work on a link change's intent
// past its lease: send the notice the change left, or fence the intent
// off when the change never ran.
func (s *Service) retireLinkIntent(ctx context.Context, m, rest string) error {
	linkID, key, _ := strings.Cut(rest, ":")
	n, err := s.repo.RetireLinkIntent(ctx, linkID, key)
	if err != nil {
		return err
	}
	if n != nil {
		return s.sendLinkNotice(ctx, n)
	}
	return s.rdb.ZRem(ctx, s.keyWatch(m), m).Err()
}

// releaseLinkSlot ends the reservation of c, expired or cancelled unpaid,
// on its link (nothing for a checkout made by the merchant's server).
func (s *Service) releaseLinkSlot(ctx context.Context, c *checkout.Checkout) error {
	if c.PaymentLink == "" {
		return nil
	}
	if _, err := s.repo.ReleaseLinkSlot(ctx, c.PaymentLink, c.ID); err != nil {
		return err
	}
	return nil
}

// linkTakes counts paid checkout c among its link's payments
// (checkout.Repo.ConsumeLinkSlot) and reports whether the link takes the
// money: false for a payment (late, or in time on a slot released and
// retaken) that found the link ran out, which is
// then refunded whatever the late policy. The payment that reaches the
// link's max_payments deactivates it and emits payment_link.deactivated.
//
// late is whether the payment counts as late: c.Late, unless the gateway's
// own times showed it was paid in time (paidInTime).
func (s *Service) linkTakes(ctx context.Context, c *checkout.Checkout, late bool) (bool, error) {
	if c.PaymentLink == "" {
		return true, nil
	}
	u, err := s.repo.ConsumeLinkSlot(ctx, c.PaymentLink, c.ID, late)
	if err != nil && !errors.Is(err, checkout.ErrNotFound) {
		return false, err
	}
	if u != nil && u.Notice != nil {
		// The limit's deactivation is owed (now, or still after a crash
		// or a failed emit, since the notice stays in the link's outbox
		// until sent): the intent first, so that the reconciler sends it
		// should this emit fail; the payment's own effect goes on.
		m := linkIntentMember(c.PaymentLink, u.Notice.Key)
		if err := s.schedule(ctx, m, s.now().Add(s.lease)); err != nil {
			return false, err
		}
		s.afterLinkChange(ctx, u.Notice)
	}
	if errors.Is(err, checkout.ErrNotFound) {
		// The link is gone: the checkout stands on its own.
		return true, nil
	}
	if u.Deactivated {
		s.log.Info("Payment link reached its max_payments", "payment_link", c.PaymentLink, "payments", u.Link.Payments)
	}
	if !u.Counted {
		s.log.Warn("Late payment on a payment link that ran out: refunding it", "checkout_id", c.ID, "payment_link", c.PaymentLink)
	}
	return u.Counted, nil
}
