package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/web/templates"
)

// consolePaymentsPage is how many checkouts one page of the list shows.
const consolePaymentsPage = 50

// consoleSearchMax bounds the search box.
const consoleSearchMax = 128

// paymentFilters are a list request's filters as parsed.
type paymentFilters struct {
	q      checkout.ListQuery
	link   string
	search string
	// bad is set when a filter could not be read.
	bad bool
}

// paymentLists are the lists the overview's figures link to, each a
// query parameter set to 1 that reads its own index (checkout.ListBy):
// from and to are then the days of the payment, the double payment or
// the last refund, not of the checkout's creation.
var paymentLists = []struct {
	param string
	by    checkout.ListBy
}{
	{"paid", checkout.ByPaid},
	{"late", checkout.ByLate},
	{"duplicate", checkout.ByDuplicate},
	{"refunds", checkout.ByRefund},
}

// parsePaymentFilters reads the list's query: status, from/to (dates in
// UTC+8, both days included), store, wallet, min/max (yuan), link, after,
// and one of paid, late, duplicate or refunds (=1).
func parsePaymentFilters(c *gin.Context, m *checkout.Merchant, v *templates.ConsolePaymentsView) paymentFilters {
	f := paymentFilters{q: checkout.ListQuery{Limit: consolePaymentsPage, After: c.Query("after")}}
	get := func(k string) string { return strings.TrimSpace(c.Query(k)) }
	v.Query, v.Status, v.From, v.To = get("q"), get("status"), get("from"), get("to")
	v.Store, v.Wallet, v.MinAmount, v.MaxAmount, v.Link = get("store"), get("wallet"), get("min"), get("max"), get("link")
	f.search, f.link = v.Query, v.Link
	for _, o := range paymentLists {
		switch c.Query(o.param) {
		case "":
		case "1":
			if v.Only != "" {
				f.bad = true // one list at a time
			}
			v.Only, f.q.By = o.param, o.by
		default:
			f.bad = true
		}
	}
	// A payment link's list is its own index: not one of those.
	f.bad = f.bad || (f.link != "" && f.q.By != checkout.ByCreated)
	if len(f.search) > consoleSearchMax || len(f.link) > 64 {
		f.bad = true
	}
	if v.Status != "" {
		f.q.Status = checkout.Status(v.Status)
		f.bad = f.bad || !f.q.Status.Valid()
	}
	day := func(s string) (time.Time, bool) {
		if s == "" {
			return time.Time{}, true
		}
		t, err := time.ParseInLocation(time.DateOnly, s, chinaTime)
		return t, err == nil
	}
	from, ok1 := day(v.From)
	to, ok2 := day(v.To)
	f.q.From = from
	if !to.IsZero() {
		f.q.To = to.AddDate(0, 0, 1).Add(-time.Millisecond)
	}
	f.bad = f.bad || !ok1 || !ok2 || (!from.IsZero() && !to.IsZero() && to.Before(from))
	if v.Store != "" {
		_, ok := m.Store(v.Store)
		f.q.Filter.StoreID = v.Store
		f.bad = f.bad || !ok
	}
	if v.Wallet != "" {
		f.q.Filter.Wallet = checkout.Method(v.Wallet)
		f.bad = f.bad || !f.q.Filter.Wallet.Valid()
	}
	amount := func(s string) int64 {
		if s == "" {
			return 0
		}
		n, err := checkout.ParseYuan(s)
		if err != nil || n <= 0 {
			f.bad = true
		}
		return n
	}
	f.q.Filter.MinAmount, f.q.Filter.MaxAmount = amount(v.MinAmount), amount(v.MaxAmount)
	if f.q.Filter.MaxAmount > 0 && f.q.Filter.MaxAmount < f.q.Filter.MinAmount {
		f.bad = true
	}
	return f
}

// showConsolePayments lists the signed-in user's merchant's checkouts,
// newest first, 50 a page (?after= cursor). The date range is read from
// the merchant's time index and a payment link's checkouts from the
// link's index; status, store, wallet and amount are filtered over a
// bounded window of it (checkout.ListQuery), and a short page then offers
// "search further". ?q= finds by checkout id, out_no or ord_no (direct key
// reads) or reference (the reference index, else a bounded scan), only
// among the merchant's own checkouts.
func (h *handler) showConsolePayments(c *gin.Context) {
	u := signedInUser(c)
	m := u.merchant
	v := templates.ConsolePaymentsView{Page: h.page(c), MerchantName: m.Name}
	for _, s := range checkout.Statuses() {
		v.Statuses = append(v.Statuses, string(s))
	}
	for _, s := range m.Stores {
		v.Stores = append(v.Stores, templates.ConsoleOption{Value: s.ID, Label: s.Name})
	}
	v.Wallets = []string{string(checkout.MethodWeChat), string(checkout.MethodAlipay)}
	f := parsePaymentFilters(c, m, &v)
	if f.bad {
		v.BadFilter = true
		h.render(c, http.StatusBadRequest, templates.ConsolePaymentsPage(v))
		return
	}
	ctx := c.Request.Context()
	var (
		rows []*checkout.Checkout
		next string
		err  error
	)
	switch {
	case f.search != "" && f.q.After == "":
		rows, err = h.searchPayments(c, m.ID, f.search)
		if err == nil && len(rows) == 0 {
			// Checkouts older than the reference index: a bounded scan.
			f.q.Filter = checkout.Filter{Reference: f.search}
			rows, next, err = h.repo.List(ctx, m.ID, f.q)
		}
	case f.search != "":
		f.q.Filter = checkout.Filter{Reference: f.search}
		rows, next, err = h.repo.List(ctx, m.ID, f.q)
	case f.link != "":
		rows, next, err = h.repo.ListByLink(ctx, m.ID, f.link, f.q)
		if errors.Is(err, checkout.ErrNotFound) {
			rows, next, err = nil, "", nil
		}
	default:
		rows, next, err = h.repo.List(ctx, m.ID, f.q)
	}
	if errors.Is(err, checkout.ErrBadCursor) {
		v.BadFilter = true
		h.render(c, http.StatusBadRequest, templates.ConsolePaymentsPage(v))
		return
	}
	if err != nil {
		h.logger(c).Error("Console payments not listed", "error", err)
		h.errorPage(c, http.StatusServiceUnavailable, pageUnavailable, "")
		return
	}
	for _, co := range rows {
		v.Rows = append(v.Rows, paymentRow(m, co))
	}
	if next != "" {
		nq := url.Values{"after": {next}}
		for k, s := range map[string]string{"q": v.Query, "status": v.Status, "from": v.From, "to": v.To, "store": v.Store,
			"wallet": v.Wallet, "min": v.MinAmount, "max": v.MaxAmount, "link": v.Link} {
			if s != "" {
				nq.Set(k, s)
			}
		}
		if v.Only != "" {
			nq.Set(v.Only, "1")
		}
		v.NextURL = "/console/payments?" + nq.Encode()
		v.Further = len(v.Rows) < consolePaymentsPage
	}
	h.render(c, http.StatusOK, templates.ConsolePaymentsPage(v))
}

// searchPayments finds merchantID's checkouts by an exact id, out_no or
// ord_no (each one key read) and by reference (its index).
func (h *handler) searchPayments(c *gin.Context, merchantID, s string) ([]*checkout.Checkout, error) {
	ctx := c.Request.Context()
	var out []*checkout.Checkout
	found := func(co *checkout.Checkout, err error) error {
		switch {
		case err == nil:
			out = append(out, co)
		case !errors.Is(err, checkout.ErrNotFound):
			return err
		}
		return nil
	}
	var err error
	switch {
	case checkout.ValidID(s):
		err = found(h.repo.GetFor(ctx, merchantID, s))
	default:
		if _, _, ok := checkout.ParseOutNo(s); ok {
			err = found(h.repo.FindByOutNo(ctx, merchantID, s))
		}
		if err == nil && len(out) == 0 {
			err = found(h.repo.FindByOrdNo(ctx, merchantID, s))
		}
	}
	if err != nil {
		return nil, err
	}
	refs, err := h.repo.FindByReference(ctx, merchantID, s, consolePaymentsPage)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if len(out) == 0 || r.ID != out[0].ID {
			out = append(out, r)
		}
	}
	return out, nil
}

func paymentRow(m *checkout.Merchant, co *checkout.Checkout) templates.ConsolePaymentRow {
	r := templates.ConsolePaymentRow{
		ID: co.ID, Created: co.CreatedAt.In(chinaTime).Format("2006-01-02 15:04:05"), Reference: co.Reference,
		Amount: templates.FormatFen(co.Amounts.Trade), Status: string(co.Status), Store: co.StoreID,
	}
	if st, ok := m.Store(co.StoreID); ok {
		r.Store, r.Test = st.Name, st.Sandbox
	}
	return r
}
