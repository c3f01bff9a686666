package templates

// ConsolePaymentsView is the payments list's data.
type ConsolePaymentsView struct {
	Page
	MerchantName string
	// The filters as given: Query searches by checkout id, reference,
	// ord_no or out_no; From and To are dates (YYYY-MM-DD, UTC+8);
	// MinAmount and MaxAmount are in yuan.
	Query, Status, From, To, Store, Wallet, MinAmount, MaxAmount, Link string
	// Only is the overview's list shown ("paid", "late", "duplicate",
	// "refunds"; a query parameter set to 1), or "".
	Only string
	// Statuses, Stores and Wallets are what the selects offer.
	Statuses []string
	Stores   []ConsoleOption
	Wallets  []string
	// BadFilter is set when a filter was not understood (the page says
	// so and lists nothing).
	BadFilter bool
	Rows      []ConsolePaymentRow
	// NextURL continues the list (older checkouts). With Further, the
	// page is short because a bounded window was scanned: the link says
	// "search further" rather than "older".
	NextURL string
	Further bool
}

// moreFilters reports whether a filter beyond the search and the status
// is set: the list then shows them open.
func (v ConsolePaymentsView) moreFilters() bool {
	return v.From != "" || v.To != "" || v.Store != "" || v.Wallet != "" || v.MinAmount != "" || v.MaxAmount != "" || v.Link != "" || v.BadFilter
}

// ConsolePaymentRow is one checkout as the list shows it: the time in
// UTC+8, the amount in yuan.
type ConsolePaymentRow struct {
	ID, Created, Reference, Amount, Status, Store string
	// Test marks a sandbox store's checkout (test data).
	Test bool
}

// ConsolePaymentView is one checkout's page: amounts in yuan, times in
// UTC+8.
type ConsolePaymentView struct {
	Page
	MerchantName                            string
	ID, Reference, Description, Store, Link string
	// Amounts: Original, Discount (discount + ignore), Amount (charged),
	// Refunded (confirmed), Refundable (what a refund may still take).
	Original, Discount, Amount, Refunded, Refundable string
	// RefundableYuan prefills the refund form ("12.34").
	RefundableYuan                   string
	Status, Created, Expires, PaidAt string
	Late                             bool
	Test                             bool
	Timeline                         []ConsoleTimelineRow
	Attempts                         []ConsoleAttemptRow
	Refunds                          []ConsoleRefundRow
	Events                           []ConsoleEventRow
	Metadata                         []ConsoleOption
	CSRF                             string
	CanRefund, CanCancel, CanResend  bool
	CanMarkPaid                      bool
	// Done and Failed say what the last action did or why it was refused
	// (refund, cancel, resend, paid; Failed: see failure()).
	Done, Failed string
	// SupportLimit describes the signed-in support user's refund limits
	// ("" for admins).
	PerRefundLimit, PerDayLeft string
}

// ConsoleTimelineRow is one step of a checkout and when it happened: Kind
// is created, attempt, paid, refund or an event type; Detail says more
// (an attempt's number and wallet, an amount).
type ConsoleTimelineRow struct {
	When, Kind, Detail string
}

// ConsoleAttemptRow is one gateway order of a checkout.
type ConsoleAttemptRow struct {
	Seq, Created, Method, Scenario, OutNo, OrdNo, Amount, Status string
	// PayableInSandbox is set for a pending order at the sandbox gateway
	// that the page may pay (test mode, admin).
	PayableInSandbox bool
}

// ConsoleRefundRow is one refund of a checkout.
type ConsoleRefundRow struct {
	ID, Created, Amount, Status, Reason, Failure string
}

// ConsoleEventRow is one webhook event of a checkout and its delivery.
type ConsoleEventRow struct {
	ID, Type, Created, State, Next string
	Deliveries                     []ConsoleDeliveryRow
}

// ConsoleDeliveryRow is one delivery attempt of an event: the merchant's
// HTTP status (or the error), when, how long, and the start of its answer.
type ConsoleDeliveryRow struct {
	When, Status, Error, Duration, Response string
}

// ConsoleRefundConfirmView is the refund's confirmation step: what will
// happen, and the form that does it.
type ConsoleRefundConfirmView struct {
	Page
	MerchantName                            string
	ID, Reference, Amount, Refunded, Wallet string
	RefundAmount, AfterRefunded, Reason     string
	RefundFen, Key, CSRF                    string
	// Full is true when the refund takes all that is left.
	Full bool
}

// doneText is the notice of the last action.
func (v ConsolePaymentView) doneText() string {
	switch v.Done {
	case "refund":
		return v.T("console.pay.done.refund")
	case "refund_pending":
		return v.T("console.pay.done.refund_pending")
	case "cancel":
		return v.T("console.pay.done.cancel")
	case "resend":
		return v.T("console.pay.done.resend")
	case "paid":
		return v.T("console.pay.done.paid")
	}
	return ""
}

// failure is why the last action was refused.
func (v ConsolePaymentView) failure() string {
	switch v.Failed {
	case "amount":
		return v.T("console.pay.fail.amount")
	case "over_refundable":
		return v.T("console.pay.fail.over_refundable")
	case "per_refund":
		return v.T("console.pay.fail.per_refund")
	case "per_day":
		return v.T("console.pay.fail.per_day")
	case "not_refundable":
		return v.T("console.pay.fail.not_refundable")
	case "not_cancellable":
		return v.T("console.pay.fail.not_cancellable")
	case "reason":
		return v.T("console.pay.fail.reason")
	case "gateway":
		return v.T("console.pay.fail.gateway")
	}
	return ""
}

// timelineText names a timeline step in the page's language.
func timelineText(p Page, kind string) string {
	switch kind {
	case "created":
		return p.T("console.pay.tl.created")
	case "attempt":
		return p.T("console.pay.tl.attempt")
	case "paid":
		return p.T("console.pay.tl.paid")
	case "refund":
		return p.T("console.pay.tl.refund")
	case "checkout.paid":
		return p.T("console.pay.ev.paid")
	case "checkout.expired":
		return p.T("console.pay.ev.expired")
	case "checkout.cancelled":
		return p.T("console.pay.ev.cancelled")
	case "checkout.refund.succeeded":
		return p.T("console.pay.ev.refund_succeeded")
	case "checkout.refund.failed":
		return p.T("console.pay.ev.refund_failed")
	case "checkout.refund.deferred":
		return p.T("console.pay.ev.refund_deferred")
	case "checkout.duplicate_payment.refunded":
		return p.T("console.pay.ev.duplicate_refunded")
	case "checkout.late_payment.refunded":
		return p.T("console.pay.ev.late_refunded")
	case "checkout.amount_mismatch":
		return p.T("console.pay.ev.mismatch")
	}
	return kind
}

// statusName is a checkout status in the page's language.
func statusName(p Page, s string) string {
	switch s {
	case "open":
		return p.T("console.pay.st.open")
	case "pending":
		return p.T("console.pay.st.pending")
	case "paid":
		return p.T("console.pay.st.paid")
	case "partially_refunded":
		return p.T("console.pay.st.partially_refunded")
	case "refunded":
		return p.T("console.pay.st.refunded")
	case "expired":
		return p.T("console.pay.st.expired")
	case "cancelled":
		return p.T("console.pay.st.cancelled")
	}
	return s
}

// walletName is a wallet in the page's language.
func walletName(p Page, m string) string {
	switch m {
	case "wechat":
		return p.T("console.pay.w.wechat")
	case "alipay":
		return p.T("console.pay.w.alipay")
	}
	return m
}

// onlyNote says which of the overview's lists the page shows.
func (v ConsolePaymentsView) onlyNote() string {
	switch v.Only {
	case "paid":
		return v.T("console.pay.only.paid")
	case "late":
		return v.T("console.pay.only.late")
	case "duplicate":
		return v.T("console.pay.only.duplicate")
	case "refunds":
		return v.T("console.pay.only.refunds")
	}
	return ""
}
