package sandbox

import (
	"fmt"
	"slices"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// Fault injection for tests. The methods of this file make the sandbox
// disagree with its client the ways a real gateway's books can: an order
// the client never sent (another system of the store, or one the client
// lost track of), an amount or a status that changed upstream, an order or
// a refund that vanished. The daily reconciliation's tests use them; nothing
// else should. They change the store's books only: no notify is sent.

// FaultOrder describes an order AddOrder puts in a store's books.
type FaultOrder struct {
	// OutNo is the order's out_no (a refund's refund_out_no); required,
	// unused in the store.
	OutNo string
	// Refund makes it a refund order (ord_type 2) of the payment whose
	// out_no is OriginalOutNo (which may be empty: a refund of nothing the
	// books know).
	Refund        bool
	OriginalOutNo string
	// Amount is trade_amount in fen; required.
	Amount int64
	// Status defaults to paid (1).
	Status gateway.Status
	// PmtTag defaults to Alipay.
	PmtTag string
	// AddTime defaults to the sandbox's now; PayTime to AddTime for a paid
	// order.
	AddTime time.Time
	PayTime time.Time
	// Remark is the order's remark (the service sends its checkout id).
	Remark string
}

// AddOrder puts an order in the books of store openID as if another system
// had made it through the gateway. It answers every endpoint like any
// other order. ErrUnknownStore, or an error when OutNo is taken or the
// description is invalid.
func (s *Server) AddOrder(openID string, f FaultOrder) (OrderSnapshot, error) {
	if !validOutNo(f.OutNo) || f.Amount <= 0 {
		return OrderSnapshot{}, fmt.Errorf("sandbox: add order: out_no %q and amount %d must be valid", f.OutNo, f.Amount)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[openID]
	if !ok {
		return OrderSnapshot{}, ErrUnknownStore
	}
	if st.byOutNo[f.OutNo] != nil {
		return OrderSnapshot{}, fmt.Errorf("sandbox: add order: out_no %s exists", f.OutNo)
	}
	now := s.now()
	o := &order{
		st: st, ordNo: s.newOrdNo(now), outNo: f.OutNo, ordType: gateway.OrderPayment, scenario: ScenarioQR,
		pmtTag: f.PmtTag, ordName: "外部订单", original: f.Amount, trade: f.Amount, status: f.Status,
		addTime: f.AddTime, payTime: f.PayTime, remark: f.Remark, nonce: s.randString(16, alnum),
	}
	if o.pmtTag == "" {
		o.pmtTag = "Alipay"
	}
	o.pmtName = o.pmtTag
	if m := st.method(o.pmtTag); m != nil && m.Name != "" {
		o.pmtName = m.Name
	}
	if o.status == gateway.StatusUnknown {
		o.status = gateway.StatusPaid
	}
	if o.addTime.IsZero() {
		o.addTime = now
	}
	if o.status == gateway.StatusPaid {
		o.paid = f.Amount
		if o.payTime.IsZero() {
			o.payTime = o.addTime
		}
	}
	if f.Refund {
		o.ordType, o.scenario, o.ordName = gateway.OrderRefund, ScenarioRefund, "退款"
		if orig := st.byOutNo[f.OriginalOutNo]; orig != nil && f.OriginalOutNo != "" {
			o.origOrdNo = orig.ordNo
			orig.refunded += f.Amount
		}
	}
	s.register(o)
	return o.snapshot(), nil
}

// SetOrderAmount makes the books show amount fen for the order (or refund)
// out_no of store openID, as paid and as ordered. ErrUnknownStore or
// ErrUnknownOrder.
func (s *Server) SetOrderAmount(openID, outNo string, amount int64) error {
	return s.fault(openID, outNo, func(o *order) {
		o.trade, o.original, o.discount, o.ignore = amount, amount, 0, 0
		if o.status == gateway.StatusPaid {
			o.paid = amount
		}
	})
}

// SetOrderStatus moves the order (or refund) out_no of store openID to
// status, whatever its status was: 1 paid (pay time now, when it had none),
// 2 awaiting, 4 cancelled, 9 awaiting the password. ErrUnknownStore or
// ErrUnknownOrder.
func (s *Server) SetOrderStatus(openID, outNo string, status gateway.Status) error {
	return s.fault(openID, outNo, func(o *order) {
		o.status = status
		if status == gateway.StatusPaid {
			if o.payTime.IsZero() {
				o.payTime = s.now()
			}
			if o.paid == 0 {
				o.paid = o.trade
			}
		}
	})
}

// DropOrder removes the order (or refund) out_no from the books of store
// openID, as if the gateway had never made it. A dropped refund no longer
// counts against its payment. ErrUnknownStore or ErrUnknownOrder.
func (s *Server) DropOrder(openID, outNo string) error {
	return s.fault(openID, outNo, func(o *order) {
		st := o.st
		st.orders = slices.DeleteFunc(st.orders, func(x *order) bool { return x == o })
		delete(st.byOutNo, o.outNo)
		delete(st.byOrdNo, o.ordNo)
		delete(s.orders, o.ordNo)
		if o.tradeQRCode != "" {
			delete(s.byQR, o.tradeQRCode)
		}
		if o.prepayID != "" {
			delete(s.byPrepay, o.prepayID)
		}
		if s.byTradeNo[o.tradeNo] == o {
			delete(s.byTradeNo, o.tradeNo)
		}
		if o.ordType == gateway.OrderRefund {
			if orig := st.byOrdNo[o.origOrdNo]; orig != nil {
				orig.refunded -= o.trade
			}
		}
	})
}

// fault applies change to order outNo of store openID under the lock.
func (s *Server) fault(openID, outNo string, change func(*order)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[openID]
	if !ok {
		return ErrUnknownStore
	}
	o := st.byOutNo[outNo]
	if o == nil {
		return ErrUnknownOrder
	}
	change(o)
	return nil
}
