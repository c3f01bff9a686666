package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/payments"
)

// maxPages bounds the order list read for one day (100 orders a page).
const maxPages = 1000

// lateLookback is how far before its day a run looks for payments paid on
// it: the gateway lists an order under the day it was created, and QR,
// JSAPI and jump orders stay payable upstream after we give up on them, so
// money may come after the run of the order's own day.
const lateLookback = 3 * 24 * time.Hour

// InFlight is how long after the service sent a number a run leaves it
// alone: a payorder or payrefund still on its way, an order the gateway
// has not listed yet, a notify not processed yet are not differences. A
// run of today so far (or of a day whose last minutes are this close)
// neither records nor alerts anything about a number sent less than
// InFlight before it, on the service's clock; a later run judges it. It
// must not exceed DailyAfter, so that the daily run of a whole day, and
// any run after 00:10, judges every number of it as before. It is longer
// than any payorder (the gateway client gives up after 15 s) and than the
// 2 minutes after which a pending attempt unknown upstream is taken for an
// orphan.
const InFlight = 10 * time.Minute

// comparison is one run's look at a store's day.
type comparison struct {
	s *Service
	// gs is the store's gateway account.
	gs    *gateway.Store
	mid   string
	sid   string
	day   time.Time
	runID string

	found  map[string]*Difference
	totals Totals
	sent   int
	// now is when the run looks; numbers sent InFlight before it or later
	// are in flight: counted in inFlight, not compared.
	now      time.Time
	inFlight int
	// sentAt holds when the service first sent each number of the day.
	sentAt map[string]time.Time
	// listed holds the out_nos the gateway lists for the day.
	listed map[string]bool
	// checkouts are ours whose orders the day touched: their refunds made
	// that day are checked too.
	checkouts map[string]bool
}

// add records a difference under its stable id.
func (c *comparison) add(d Difference) {
	d.ID = differenceID(c.runID, d.Class, d.OutNo)
	d.Explained = d.Class.Explained()
	if d.Status == "" {
		d.Status = StatusOpen
		if d.Explained {
			d.Status = StatusAcknowledged
		}
	}
	c.found[d.ID] = &d
}

func (c *comparison) compare(ctx context.Context) error {
	orders, err := c.list(ctx, gateway.OrderQuery{Since: c.day, Until: c.day.Add(24*time.Hour - time.Second)})
	if err != nil {
		return err
	}
	c.listed, c.checkouts = map[string]bool{}, map[string]bool{}
	for i := range orders {
		c.listed[string(orders[i].OutNo)] = true
	}
	// Read after the list: every number the gateway lists was noted before
	// it was sent, so the index tells which listed orders are in flight.
	sent, err := c.s.repo.SentOn(ctx, c.mid, c.sid, c.day)
	if err != nil {
		return err
	}
	c.sent = len(sent)
	c.sentAt = make(map[string]time.Time, len(sent))
	for _, x := range sent {
		c.sentAt[x.OutNo] = x.At
	}
	for i := range orders {
		if err := c.gatewayOrder(ctx, &orders[i]); err != nil {
			return err
		}
	}
	if err := c.paidLate(ctx); err != nil {
		return err
	}

	// Everything we sent that day must be known to the gateway.
	sentSet := map[string]bool{}
	for _, x := range sent {
		sentSet[x.OutNo] = true
		if c.listed[x.OutNo] {
			continue
		}
		if c.flying(x.At) {
			continue
		}
		if err := c.sentNotListed(ctx, x.OutNo); err != nil {
			return err
		}
	}

	// Refunds made that day of the checkouts the day touched, in case a
	// number was sent without passing through the sent index.
	for id := range c.checkouts {
		refunds, err := c.s.pay.Refunds(ctx, id)
		if err != nil {
			return err
		}
		for i := range refunds {
			r := &refunds[i]
			if c.listed[r.OutNo] || sentSet[r.OutNo] || !dayOf(r.CreatedAt).Equal(c.day) || c.flying(r.CreatedAt) {
				continue
			}
			if err := c.refundNotListed(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// flying reports whether a number sent at t is still in flight at the
// run's time, and counts it then. A day whose last number was sent
// InFlight before the run has none.
func (c *comparison) flying(t time.Time) bool {
	if t.IsZero() || c.now.Sub(t) >= InFlight {
		return false
	}
	c.inFlight++
	return true
}

// list reads every page of the gateway's orders that q selects (by default
// the day's, payments and refunds alike).
func (c *comparison) list(ctx context.Context, q gateway.OrderQuery) ([]gateway.Order, error) {
	q.PageSize = 100
	seen := map[string]bool{}
	var out []gateway.Order
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("%w: more than %d pages of orders on %s", ErrGateway, maxPages, c.day.Format(dateLayout))
		}
		q.Page = page
		p, err := c.s.gw.Orders(ctx, c.gs, &q)
		if err != nil {
			return nil, fmt.Errorf("%w: order list page %d: %w", ErrGateway, page, err)
		}
		for _, o := range p.List {
			// Orders added while we page shift the pages: read each once.
			if k := string(o.OrdNo) + "/" + string(o.OutNo); !seen[k] {
				seen[k] = true
				out = append(out, o)
			}
		}
		if len(p.List) == 0 || int64(page) >= p.TotalPage {
			return out, nil
		}
	}
}

// paidLate compares our payments created in the lookback before the day
// and paid on it that the service has not recorded as paid: a late payment
// whose notify was lost is found here, by the run of the day it was paid.
// Orders the service knows as paid, and any not ours, were compared in the
// runs of the days they were created.
func (c *comparison) paidLate(ctx context.Context) error {
	orders, err := c.list(ctx, gateway.OrderQuery{OrdType: gateway.OrderPayment, Status: gateway.StatusPaid,
		Since: c.day.Add(-lateLookback), Until: c.day.Add(-time.Second)})
	if err != nil {
		return err
	}
	for i := range orders {
		o := &orders[i]
		outNo, pay := string(o.OutNo), o.TradePayTime.Time
		if o.OrdType != gateway.OrderPayment || o.Status != gateway.StatusPaid || pay.IsZero() ||
			!dayOf(pay).Equal(c.day) || c.listed[outNo] {
			continue
		}
		if _, _, ok := checkout.ParseOutNo(outNo); !ok {
			continue
		}
		co, a, err := c.s.repo.AttemptByOutNo(ctx, outNo)
		if errors.Is(err, checkout.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if a.Status == checkout.AttemptPaid || co.MerchantID != c.mid || co.StoreID != c.sid {
			continue
		}
		c.listed[outNo] = true
		if err := c.gatewayPayment(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

func (c *comparison) gatewayOrder(ctx context.Context, o *gateway.Order) error {
	if o.OrdType == gateway.OrderRefund {
		c.totals.Refunds++
		if o.Status == gateway.StatusPaid {
			c.totals.RefundAmount += int64(o.TradeAmount)
		}
		if c.flying(c.sentAt[string(o.OutNo)]) {
			return nil
		}
		return c.gatewayRefund(ctx, o)
	}
	c.totals.Payments++
	if o.Status == gateway.StatusPaid {
		c.totals.PaymentAmount += int64(o.TradeAmount)
	}
	if c.flying(c.sentAt[string(o.OutNo)]) {
		// Sent a moment ago: its notify or our record of the answer may
		// be on its way. A later run compares it.
		return nil
	}
	return c.gatewayPayment(ctx, o)
}

// gatewayPayment checks one payment order of the gateway's list.
func (c *comparison) gatewayPayment(ctx context.Context, o *gateway.Order) error {
	outNo := string(o.OutNo)
	d := Difference{OutNo: outNo, OrdNo: string(o.OrdNo), GatewayAmount: int64(o.TradeAmount), GatewayState: stateOf(o.Status)}
	id, _, ok := checkout.ParseOutNo(outNo)
	if !ok {
		d.Class = ClassForeign
		if _, _, ours := ParseRefundOutNo(outNo); ours {
			d.Class, d.Detail = ClassUnknownToUs, "a payment under one of our refund numbers"
		}
		c.add(d)
		return nil
	}
	co, a, err := c.s.repo.AttemptByOutNo(ctx, outNo)
	if errors.Is(err, checkout.ErrNotFound) {
		d.Class, d.Detail = ClassUnknownToUs, "the service has no such attempt"
		switch got, err := c.s.repo.Get(ctx, id); {
		case err != nil && !errors.Is(err, checkout.ErrNotFound):
			return err
		case err == nil && got.MerchantID == c.mid:
			d.CheckoutID = id
		case string(o.Remark) != id:
			// Our shape by chance (a POS's numeric serial): every payorder
			// of ours sends its checkout id as the remark.
			d.Class, d.Detail = ClassForeign, "out_no of our shape, remark not our checkout id"
		}
		c.add(d)
		return nil
	}
	if err != nil {
		return err
	}
	d.CheckoutID, d.ServiceAmount, d.ServiceState = co.ID, a.Amount, string(a.Status)
	if co.MerchantID != c.mid || co.StoreID != c.sid {
		d.Class, d.Detail = ClassUnknownToUs, "the attempt belongs to another store of the service"
		if co.MerchantID != c.mid {
			// Another merchant's: nothing of it shows here.
			d.CheckoutID, d.ServiceAmount, d.ServiceState, d.Detail = "", 0, "", "the service has no such attempt"
		}
		c.add(d)
		return nil
	}
	c.checkouts[co.ID] = true
	if pay := o.TradePayTime.Time; o.Status == gateway.StatusPaid && !pay.IsZero() && !dayOf(pay).Equal(c.day) {
		b := d
		b.Class = ClassDayBoundary
		b.Detail = fmt.Sprintf("created %s, paid %s (UTC+8)", gateway.FormatTime(o.AddTime.Time), gateway.FormatTime(pay))
		c.add(b)
	}
	if int64(o.TradeAmount) != a.Amount {
		d.Class = ClassAmountDiffers
		c.add(d)
		return nil
	}
	switch o.Status {
	case gateway.StatusPaid:
		if a.Status == checkout.AttemptPaid {
			return nil
		}
		d.Class = ClassStateDiffers
		if co.Status == checkout.StatusExpired || co.Status == checkout.StatusCancelled {
			d.Class = ClassLatePayment
		}
		return c.confirm(ctx, d, checkout.AttemptPaid)
	case gateway.StatusCanceled:
		switch a.Status {
		case checkout.AttemptPaid:
			d.Class = ClassStateDiffers
			c.add(d)
		case checkout.AttemptPending, checkout.AttemptUnknown:
			d.Class = ClassStateDiffers
			return c.confirm(ctx, d, checkout.AttemptCancelled)
		}
	default:
		// Awaiting payment (QR, JSAPI and jump orders stay open upstream
		// after we give up on them): only "paid" on our side disagrees.
		if a.Status == checkout.AttemptPaid {
			d.Class = ClassStateDiffers
			c.add(d)
		}
	}
	return nil
}

// confirm brings a late attempt up to date through the normal path
// (paystatus, then the state change and its events) and records the
// difference as auto-fixed when the attempt ends in want.
func (c *comparison) confirm(ctx context.Context, d Difference, want checkout.AttemptStatus) error {
	res, err := c.s.pay.Confirm(ctx, d.OutNo)
	switch {
	case errors.Is(err, payments.ErrAmountMismatch), errors.Is(err, payments.ErrNotOurs):
		d.Detail = "confirmation refused: " + err.Error()
	case err != nil:
		return fmt.Errorf("reconciliation: confirm %s: %w", d.OutNo, err)
	case res.Attempt != nil && res.Attempt.Status == want:
		d.Status = StatusAutoFixed
		d.Detail = "was " + d.ServiceState + "; confirmed with paystatus"
		d.ServiceState = string(want)
	default:
		d.Detail = "confirmation did not settle it"
	}
	c.add(d)
	return nil
}

// gatewayRefund checks one refund order of the gateway's list.
func (c *comparison) gatewayRefund(ctx context.Context, o *gateway.Order) error {
	outNo := string(o.OutNo)
	d := Difference{OutNo: outNo, OrdNo: string(o.OrdNo), Refund: true, GatewayAmount: int64(o.TradeAmount),
		GatewayState: stateOf(o.Status)}
	id, n, ok := ParseRefundOutNo(outNo)
	if !ok {
		// Not one of our numbers; but it may refund one of our payments
		// (from the gateway's own console): money left without us.
		co, err := c.originalOf(ctx, string(o.OriginalOrdNo))
		if err != nil {
			return err
		}
		d.Class = ClassForeign
		if co != nil {
			d.Class, d.CheckoutID = ClassRefundMissingOurs, co.ID
			d.Detail = "a refund of one of our payments made outside the service"
		}
		c.add(d)
		return nil
	}
	co, err := c.s.repo.Get(ctx, id)
	if err != nil && !errors.Is(err, checkout.ErrNotFound) {
		return err
	}
	var r *payments.Refund
	if err == nil && co.MerchantID == c.mid && co.StoreID == c.sid {
		if r, err = c.refund(ctx, id, n); err != nil {
			return err
		}
	}
	if r == nil {
		if err == nil && co.MerchantID == c.mid {
			d.CheckoutID = id
		}
		d.Class = ClassRefundMissingOurs
		c.add(d)
		return nil
	}
	c.checkouts[id] = true
	d.CheckoutID, d.ServiceAmount, d.ServiceState = id, r.Amount, string(r.Status)
	if int64(o.TradeAmount) != r.Amount {
		d.Class = ClassAmountDiffers
		c.add(d)
		return nil
	}
	want := payments.RefundPending
	switch o.Status {
	case gateway.StatusPaid:
		want = payments.RefundSucceeded
	case gateway.StatusCanceled:
		want = payments.RefundFailed
	}
	switch {
	case r.Status == want, want == payments.RefundPending:
		return nil
	case r.Status == payments.RefundPending:
		d.Class = ClassStateDiffers
		fixed, err := c.s.pay.ResolveRefund(ctx, id, n)
		if err != nil {
			return fmt.Errorf("reconciliation: resolve refund %s: %w", outNo, err)
		}
		if fixed.Status == want {
			d.Status, d.Detail, d.ServiceState = StatusAutoFixed, "was pending; resolved with paystatus", string(want)
		}
		c.add(d)
	default:
		d.Class = ClassStateDiffers
		c.add(d)
	}
	return nil
}

// originalOf finds our checkout a gateway order number was paid for, nil
// when it is none of ours (or none at all).
func (c *comparison) originalOf(ctx context.Context, ordNo string) (*checkout.Checkout, error) {
	if ordNo == "" {
		return nil, nil
	}
	o, err := c.s.gw.OrderView(ctx, c.gs, gateway.ByOrdNo(ordNo))
	if errors.Is(err, gateway.ErrOrderNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: order/view %s: %w", ErrGateway, ordNo, err)
	}
	co, _, err := c.s.repo.AttemptByOutNo(ctx, string(o.OutNo))
	if errors.Is(err, checkout.ErrNotFound) || (err == nil && (co.MerchantID != c.mid || co.StoreID != c.sid)) {
		return nil, nil
	}
	return co, err
}

// refund finds refund n of checkout id, nil when there is none.
func (c *comparison) refund(ctx context.Context, id string, n int) (*payments.Refund, error) {
	refunds, err := c.s.pay.Refunds(ctx, id)
	if err != nil {
		return nil, err
	}
	out := refundOutNo(id, n)
	for i := range refunds {
		if refunds[i].OutNo == out {
			return &refunds[i], nil
		}
	}
	return nil, nil
}

// sentNotListed checks a number we sent that day that the day's list lacks.
func (c *comparison) sentNotListed(ctx context.Context, outNo string) error {
	if id, n, ok := ParseRefundOutNo(outNo); ok {
		r, err := c.refund(ctx, id, n)
		if err != nil || r == nil {
			// Noted before sending but never made: nothing to compare.
			return err
		}
		c.checkouts[id] = true
		return c.refundNotListed(ctx, r)
	}
	if _, _, ok := checkout.ParseOutNo(outNo); !ok {
		return nil
	}
	co, a, err := c.s.repo.AttemptByOutNo(ctx, outNo)
	if errors.Is(err, checkout.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.checkouts[co.ID] = true
	if a.Status == checkout.AttemptFailed {
		// Declined, or settled as never created: no order to find.
		return nil
	}
	o, found, err := c.lookup(ctx, outNo)
	if err != nil || found {
		return err
	}
	if o != nil {
		return c.gatewayPayment(ctx, o)
	}
	d := Difference{Class: ClassUnknownToGateway, OutNo: outNo, OrdNo: a.OrdNo, CheckoutID: co.ID,
		ServiceAmount: a.Amount, ServiceState: string(a.Status)}
	switch a.Status {
	case checkout.AttemptUnknown:
		// Our payorder's outcome was unknown, and it never got there: the
		// service settles that itself (failed), nothing disagrees.
		_, err := c.s.pay.Confirm(ctx, outNo)
		return err
	case checkout.AttemptPending:
		return c.confirm(ctx, d, checkout.AttemptFailed)
	}
	c.add(d)
	return nil
}

// refundNotListed checks one of our refunds of the day that the day's list
// lacks.
func (c *comparison) refundNotListed(ctx context.Context, r *payments.Refund) error {
	if r.Status == payments.RefundFailed {
		return nil
	}
	o, found, err := c.lookup(ctx, r.OutNo)
	if err != nil || found {
		return err
	}
	if o != nil {
		return c.gatewayRefund(ctx, o)
	}
	d := Difference{OutNo: r.OutNo, OrdNo: r.OrdNo, Refund: true, CheckoutID: r.CheckoutID,
		ServiceAmount: r.Amount, ServiceState: string(r.Status)}
	switch r.Status {
	case payments.RefundSucceeded:
		d.Class = ClassRefundMissingGateway
	default:
		d.Class, d.Detail = ClassRefundDeferred, "pending, not sent yet"
		if r.Failure != "" {
			d.Detail = "refused (" + r.Failure + "); waiting to be sent again"
		}
	}
	c.add(d)
	return nil
}

// lookup asks the gateway for a number the day's list lacks. Sent just
// before midnight, it may be dated the next day (or, by a clock ahead of
// ours, the previous one): then it is a day-boundary difference, compared
// in that day's run, and found is true. An order of this very day (added
// while we listed) comes back to be compared; nil, false when there is no
// such order.
func (c *comparison) lookup(ctx context.Context, outNo string) (*gateway.Order, bool, error) {
	o, err := c.s.gw.OrderView(ctx, c.gs, gateway.ByOutNo(outNo))
	if errors.Is(err, gateway.ErrOrderNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w: order/view %s: %w", ErrGateway, outNo, err)
	}
	if added := o.AddTime.Time; !added.IsZero() && !dayOf(added).Equal(c.day) {
		c.add(Difference{Class: ClassDayBoundary, OutNo: outNo, OrdNo: string(o.OrdNo), Refund: o.OrdType == gateway.OrderRefund,
			GatewayAmount: int64(o.TradeAmount), GatewayState: stateOf(o.Status),
			Detail: "sent on " + c.day.Format(dateLayout) + ", dated " + gateway.FormatTime(added) + " by the gateway (UTC+8)"})
		return nil, true, nil
	}
	c.listed[outNo] = true
	return o, false, nil
}

// ParseRefundOutNo reads one of our refund_out_nos: a checkout id's random
// part, R and the refund's number (notify's refundOutNo).
func ParseRefundOutNo(s string) (checkoutID string, n int, ok bool) {
	const idLen = 24
	if len(s) < idLen+2 || len(s) > idLen+10 || s[idLen] != 'R' || s[idLen+1] == '0' {
		return "", 0, false
	}
	id := "co_" + s[:idLen]
	n, err := strconv.Atoi(s[idLen+1:])
	if err != nil || n <= 0 || !checkout.ValidID(id) {
		return "", 0, false
	}
	return id, n, true
}

// refundOutNo is ParseRefundOutNo's inverse.
func refundOutNo(checkoutID string, n int) string {
	return checkoutID[len("co_"):] + "R" + strconv.Itoa(n)
}
