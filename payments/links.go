package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/notify/webhook"
)

// CheckoutFromLink makes the checkout a payer starts from payment link l
// for amount fen (checkout.Repo.CreateFromLink: a slot reserved, then the
// checkout stored with the link's terms and the merchant's webhook URL).
// checkout.ErrLinkInactive when the link takes no payer now; an
// *checkout.AmountError when fen breaks the link's amount terms.
func (s *Service) CheckoutFromLink(ctx context.Context, l *checkout.PaymentLink, fen int64) (*checkout.Checkout, error) {
	m, ok := s.dir.Merchant(l.MerchantID)
	if !ok {
		return nil, fmt.Errorf("checkout from link %s: merchant %s: %w", l.ID, l.MerchantID, checkout.ErrNotFound)
	}
	c, err := s.repo.CreateFromLink(ctx, l, fen, m.WebhookURL)
	if err != nil {
		return nil, fmt.Errorf("checkout from link %s: %w", l.ID, err)
	}
	s.log.Info("Checkout created from a payment link", "checkout_id", c.ID, "payment_link", l.ID, "amount", fen)
	return c, nil
}

// LinkChanged emits the merchant's event typ (payment_link.created,
// .updated, .deactivated) about l, with an id derived from the link and
// cause, so that an emit repeated for the same cause is one event.
func (s *Service) LinkChanged(ctx context.Context, typ string, l *checkout.PaymentLink, cause string) error {
	e, err := webhook.NewLinkEvent(typ, l, s.now())
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
// money: false for a late payment that found the link ran out, which is
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
	if errors.Is(err, checkout.ErrNotFound) {
		// The link is gone: the checkout stands on its own.
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if u.Deactivated {
		s.log.Info("Payment link reached its max_payments", "payment_link", c.PaymentLink, "payments", u.Link.Payments)
		if err := s.LinkChanged(ctx, webhook.TypePaymentLinkDeactivated, u.Link, "limit:"+strconv.Itoa(u.Link.Payments)); err != nil {
			return false, err
		}
	}
	if !u.Counted {
		s.log.Warn("Late payment on a payment link that ran out: refunding it", "checkout_id", c.ID, "payment_link", c.PaymentLink)
	}
	return u.Counted, nil
}
