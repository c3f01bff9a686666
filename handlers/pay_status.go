package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
)

// payStatus is the state a waiting page shows: GET /c/:id/status, each
// event of /c/:id/events and the answer of POST /c/:id/check.
type payStatus struct {
	// Status is the checkout's status as the payer should see it, or
	// while it is still payable "failed" when its last attempt failed and
	// "open" when the payer left it unpaid (payStatusFrom).
	Status string `json:"status"`
	Late   bool   `json:"late"`
	// Amount is in fen.
	Amount int64  `json:"amount"`
	PaidAt string `json:"paid_at,omitempty"`
	// Method is the wallet that paid (wechat, alipay), so that a page
	// that turns paid live names it as a page rendered paid does.
	Method string `json:"method,omitempty"`
}

// final reports whether the status can no longer change for the payer.
func (s payStatus) final() bool {
	st := checkout.Status(s.Status)
	return st.Paid() || st == checkout.StatusExpired || st == checkout.StatusCancelled
}

// payStatusOf computes the payer's view of ck (one more round trip only
// when the last attempt matters, or to name the wallet that paid).
func (h *handler) payStatusOf(ctx context.Context, ck *checkout.Checkout) (payStatus, error) {
	if ck.Status.Paid() && ck.PaidAttempt > 0 {
		// The wallet is a detail: without it the page still turns paid.
		atts, err := h.repo.Attempts(ctx, ck.ID)
		if err != nil {
			atts = nil
		}
		return h.payStatusFrom(ck, atts), nil
	}
	if !attemptMatters(ck, h.now()) {
		return h.payStatusFrom(ck, nil), nil
	}
	atts, err := h.repo.Attempts(ctx, ck.ID)
	if err != nil {
		return payStatus{}, unavailable("load the attempts of "+ck.ID, err)
	}
	return h.payStatusFrom(ck, atts), nil
}

// attemptMatters reports whether the payer's view of ck depends on its
// last attempt: a payable checkout that has one.
func attemptMatters(ck *checkout.Checkout, now time.Time) bool {
	return ck.Status.Active() && displayStatus(ck, now) != checkout.StatusExpired && ck.Attempts > 0
}

// payStatusFrom is the payer's view of ck with its attempts, while it is
// payable, by its last attempt (the last ck counts: one added since ck was
// read is not yet its): "failed" when it failed, "open" (payable, nothing
// in progress: the result page offers to pay again) when the gateway
// cancelled it or the payer came back from the cashier with the gateway's
// word that it was cancelled (checkout.Attempt.ReturnedUnpaid).
func (h *handler) payStatusFrom(ck *checkout.Checkout, atts []*checkout.Attempt) payStatus {
	now := h.now()
	s := payStatus{Status: string(displayStatus(ck, now)), Late: ck.Late, Amount: ck.Amounts.Trade}
	if !ck.PaidAt.IsZero() {
		s.PaidAt = ck.PaidAt.UTC().Format(time.RFC3339)
	}
	if ck.Status.Paid() {
		for _, a := range atts {
			if a.Seq == ck.PaidAttempt {
				s.Method = string(a.Method)
			}
		}
	}
	if attemptMatters(ck, now) {
		for i := len(atts) - 1; i >= 0; i-- {
			if a := atts[i]; a.Seq <= ck.Attempts {
				switch {
				case a.Status == checkout.AttemptFailed:
					s.Status = "failed"
				case a.Status == checkout.AttemptCancelled, !a.ReturnedUnpaid.IsZero():
					s.Status = string(checkout.StatusOpen)
				}
				break
			}
		}
	}
	return s
}

// showPayStatus answers GET /c/:id/status, the event stream's fallback,
// which a waiting page polls: the checkout and its attempts in one round
// trip (Repo.GetCurrentWithAttempts: the state and the attempts from
// Redis, the terms from the process's cache), then a small JSON written once. It loads
// the checkout itself, not through requireCheckout, whose read would
// leave the attempts for a second round trip; the answers to a missing
// checkout or store are requireCheckout's (asJSON).
func (h *handler) showPayStatus(c *gin.Context) {
	id := c.Param("id")
	ck, atts, err := h.repo.GetCurrentWithAttempts(c.Request.Context(), id)
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		h.pageFailure(c, true, errNoCheckout, pageNotFound)
		return
	case err != nil:
		h.pageFailure(c, true, unavailable("load checkout "+id, err), pageUnavailable)
		return
	}
	_, ok1 := h.dir.Merchant(ck.MerchantID)
	_, ok2 := h.dir.Store(ck.MerchantID, ck.StoreID)
	if !ok1 || !ok2 {
		err := fmt.Errorf("merchant %s, store %s: %w", ck.MerchantID, ck.StoreID, errStoreGone)
		h.pageFailure(c, true, unavailable("checkout "+id, err), pageUnavailable)
		return
	}
	writeJSON(c, http.StatusOK, h.payStatusFrom(ck, atts).appendJSON(make([]byte, 0, 96)))
}

// appendJSON appends s as encoding/json writes it (TestPayStatusJSON),
// without its reflection: the status is polled every few seconds by every
// waiting page.
func (s payStatus) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = appendJSONString(b, s.Status)
	b = append(b, `,"late":`...)
	b = strconv.AppendBool(b, s.Late)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, s.Amount, 10)
	if s.PaidAt != "" {
		b = append(b, `,"paid_at":`...)
		b = appendJSONString(b, s.PaidAt)
	}
	if s.Method != "" {
		b = append(b, `,"method":`...)
		b = appendJSONString(b, s.Method)
	}
	return append(b, '}')
}

// appendJSONString appends v as a JSON string the way encoding/json does:
// plain ASCII as is, anything it would escape (controls, quotes,
// backslashes, <, >, &, non-ASCII) through encoding/json itself.
func appendJSONString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// jsonContentType is the Content-Type of the JSON answers, shared:
// net/http only reads it.
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeJSON writes a small JSON body in one write, before the handler
// returns: net/http then sends it with its Content-Length.
func writeJSON(c *gin.Context, status int, body []byte) {
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(body)
}

// checkAnswer is the answer of POST /c/:id/check: the status, and for a
// page whose wallet said OK (checkRequest.WalletOK) what it may offer.
type checkAnswer struct {
	payStatus
	// PayAgain is "if_unpaid" when the page may invite the payer to pay
	// again in words for one who has not paid (payments.PayAgain).
	PayAgain string `json:"pay_again,omitempty"`
	// PayAgainIn is how many milliseconds until a check could allow it.
	PayAgainIn int64 `json:"pay_again_in,omitempty"`
}

// checkRequest is the body of POST /c/:id/check; it may be empty.
type checkRequest struct {
	// WalletOK is the result page's sessions.CSRF.WalletOKToken, when the
	// payer's wallet reported success.
	WalletOK string `json:"wallet_ok"`
}

// checkPayment answers POST /c/:id/check: a waiting page saw no news for a
// few seconds and asks us to query the gateway. The reconciler lets at most
// one check per checkout through every couple of seconds, whoever asks;
// the answer is the state either way. A page whose wallet said OK learns
// too whether it may offer to pay again (payments.PayAgainAfterWalletOK).
func (h *handler) checkPayment(c *gin.Context) {
	ck := pageCheckoutOf(c)
	var in checkRequest
	if body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4<<10)); err == nil && len(body) > 0 {
		// A body the page did not write only loses the wallet's OK.
		_ = json.Unmarshal(body, &in)
	}
	checked := payments.CheckFailed
	if ck.Status.Active() || ck.Status == checkout.StatusExpired || ck.Status == checkout.StatusCancelled {
		var after *checkout.Checkout
		if after, checked = h.requestCheck(c.Request.Context(), ck.ID, true); after != nil {
			ck = after
		}
	}
	s, err := h.payStatusOf(c.Request.Context(), ck)
	if err != nil {
		h.failPage(c, err, payerLang(c))
		return
	}
	out := checkAnswer{payStatus: s}
	if okAt, ok := h.pages.CSRF.WalletOKAt(in.WalletOK, ck.ID, h.now()); ok && s.Status == string(checkout.StatusPending) {
		pa := payments.PayAgainAfterWalletOK(okAt, h.now(), checked)
		if pa.IfUnpaid {
			out.PayAgain = "if_unpaid"
		}
		out.PayAgainIn = pa.Wait.Milliseconds()
	}
	c.JSON(http.StatusOK, out)
}

// checkTimeout bounds one "please check now".
const checkTimeout = 8 * time.Second

// requestCheck asks the reconciler to query the checkout's orders now. With
// wait it returns the checkout as it is after (nil when nothing was
// checked) and how the check went: payments.CheckFresh only when this very
// request asked the gateway (one turned away by the rate limit is
// CheckLimited: the other request's query may still be on its way, and
// the checkout this request read may predate its answer); without, the
// query runs in the background.
func (h *handler) requestCheck(ctx context.Context, id string, wait bool) (*checkout.Checkout, payments.Checked) {
	run := func(ctx context.Context) (*checkout.Checkout, payments.Checked) {
		ctx, cancel := detach(ctx, checkTimeout)
		defer cancel()
		ck, err := h.pay.CheckNow(ctx, id)
		switch {
		case errors.Is(err, payments.ErrRateLimited):
			return nil, payments.CheckLimited
		case err != nil:
			if !errors.Is(err, context.Canceled) {
				h.logFrom(ctx).Warn("Check now failed", slog.String("checkout_id", id), slog.Any("error", err))
			}
			return nil, payments.CheckFailed
		}
		return ck, payments.CheckFresh
	}
	if !wait {
		go run(context.WithoutCancel(ctx))
		return nil, payments.CheckFailed
	}
	return run(ctx)
}
