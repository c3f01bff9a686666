package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/apiobject"
	"github.com/wallet-checkout/checkout/checkout"
)

// linkRequest is the body of POST /v1/payment-links. Pointers tell
// "absent" from zero.
type linkRequest struct {
	Amount          *int64            `json:"amount"`
	MinAmount       *int64            `json:"min_amount"`
	MaxAmount       *int64            `json:"max_amount"`
	Presets         []int64           `json:"presets"`
	Description     string            `json:"description"`
	Reference       string            `json:"reference"`
	Metadata        map[string]string `json:"metadata"`
	Store           string            `json:"store"`
	Wallets         []string          `json:"wallets"`
	SuccessURL      string            `json:"success_url"`
	CancelURL       string            `json:"cancel_url"`
	LatePolicy      string            `json:"late_policy"`
	ActiveUntil     *string           `json:"active_until"`
	MaxPayments     *int64            `json:"max_payments"`
	Active          *bool             `json:"active"`
	InactiveMessage *string           `json:"inactive_message"`
}

// linkUpdateRequest is the body of POST /v1/payment-links/:id: only what
// it names changes. Amount terms (amount, min_amount, max_amount,
// presets) are replaced as a whole when any is named, and only while no
// checkout used the link.
type linkUpdateRequest struct {
	Amount          *int64   `json:"amount"`
	MinAmount       *int64   `json:"min_amount"`
	MaxAmount       *int64   `json:"max_amount"`
	Presets         *[]int64 `json:"presets"`
	Description     *string  `json:"description"`
	ActiveUntil     *string  `json:"active_until"`
	MaxPayments     *int64   `json:"max_payments"`
	Active          *bool    `json:"active"`
	InactiveMessage *string  `json:"inactive_message"`
}

// linkJSON is a payment link as the merchant API shows it: the one shape
// the payment_link.* events carry too (apiobject).
type linkJSON = apiobject.PaymentLink

type linkListJSON struct {
	Object     string     `json:"object"`
	Data       []linkJSON `json:"data"`
	HasMore    bool       `json:"has_more"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

var errNoLink = refusal(http.StatusNotFound, "not_found", "no such payment link", "id")

// linkRules: the payment link requests.
var linkRules = []errorRule{
	{checkout.ErrNotFound, answer{status: http.StatusNotFound, code: "not_found", message: "no such payment link", param: "id"}},
	{checkout.ErrLinkAmountFixed, answer{status: http.StatusConflict, code: "amount_locked",
		message: "the amount terms of a payment link cannot change once a checkout used them; make a new link", param: "amount"}},
}

func (h *handler) linkView(l *checkout.PaymentLink) linkJSON {
	return apiobject.PaymentLinkOf(l, h.publicURL)
}

// ceiling is the largest amount merchant m may ask for.
func (h *handler) ceiling(m *checkout.Merchant) int64 {
	if m.MaxAmount > 0 {
		return m.MaxAmount
	}
	return h.maxAmount
}

// activeUntil parses an RFC 3339 time that must be in the future ("" is
// no end).
func (h *handler) activeUntil(s string) (time.Time, *requestError) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid("active_until", "must be an RFC 3339 time, e.g. 2026-12-31T16:00:00Z")
	}
	if !t.After(h.now()) {
		return time.Time{}, invalid("active_until", "must be in the future")
	}
	return t, nil
}

func maxPayments(p *int64) (int, *requestError) {
	if p == nil {
		return 0, nil
	}
	if *p < 0 || *p > checkout.MaxLinkPayments {
		return 0, invalid("max_payments", fmt.Sprintf("must be from 0 (no limit) to %d", checkout.MaxLinkPayments))
	}
	return int(*p), nil
}

func orZero(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// linkFrom applies every API rule to a create request: the same rules as
// a checkout's for what they share (store, wallets, URLs, late policy,
// texts, metadata), and the link's own amount terms and limits.
func (h *handler) linkFrom(m *checkout.Merchant, liveKey bool, req *linkRequest) (*checkout.PaymentLink, *requestError) {
	st, perr := storeFor(m, liveKey, req.Store)
	if perr != nil {
		return nil, perr
	}
	t := checkout.LinkTerms{Amount: orZero(req.Amount), MinAmount: orZero(req.MinAmount), MaxAmount: orZero(req.MaxAmount), Presets: req.Presets, Active: true}
	if req.Amount != nil && *req.Amount <= 0 {
		return nil, invalid("amount", "must be greater than 0 (fen); leave it out for an amount the payer enters")
	}
	if err := checkout.CheckLinkAmounts(t.Amount, t.MinAmount, t.MaxAmount, t.Presets, h.ceiling(m)); err != nil {
		return nil, refusalOf(err)
	}
	if err := checkout.CheckDescription(req.Description); err != nil {
		return nil, refusalOf(err)
	}
	t.Description = req.Description
	if err := checkout.CheckReference(req.Reference); err != nil {
		return nil, refusalOf(err)
	}
	t.Reference = req.Reference
	if err := checkout.CheckMetadata(req.Metadata); err != nil {
		return nil, refusalOf(err)
	}
	if len(req.Metadata) > 0 {
		t.Metadata = req.Metadata
	}
	if t.Wallets, perr = walletsFor(st, req.Wallets); perr != nil {
		return nil, perr
	}
	for _, u := range []struct {
		name string
		raw  string
		dst  *string
	}{{"success_url", req.SuccessURL, &t.SuccessURL}, {"cancel_url", req.CancelURL, &t.CancelURL}} {
		if u.raw == "" {
			continue
		}
		if msg := checkRedirect(u.raw, m.RedirectHosts); msg != "" {
			return nil, invalid(u.name, msg)
		}
		*u.dst = u.raw
	}
	switch p := checkout.LatePolicy(req.LatePolicy); {
	case p == "", p.Valid():
		t.LatePolicy = checkout.EffectiveLatePolicy(p, st.LatePolicy)
	default:
		return nil, invalid("late_policy", "must be accept or refund")
	}
	if req.ActiveUntil != nil {
		if t.ActiveUntil, perr = h.activeUntil(*req.ActiveUntil); perr != nil {
			return nil, perr
		}
	}
	if t.MaxPayments, perr = maxPayments(req.MaxPayments); perr != nil {
		return nil, perr
	}
	if req.Active != nil {
		t.Active = *req.Active
	}
	if req.InactiveMessage != nil {
		if err := checkout.CheckInactiveMessage(*req.InactiveMessage); err != nil {
			return nil, refusalOf(err)
		}
		t.InactiveMessage = *req.InactiveMessage
	}
	l, err := checkout.NewPaymentLink(m.ID, st.ID, t, h.now())
	if err != nil {
		return nil, refusalOf(err)
	}
	if !t.Active {
		l.DeactivatedBy = checkout.DeactivatedByMerchant
	}
	return l, nil
}

// beginWrite reads a merchant write's JSON body and claims its
// Idempotency-Key (BeginIdempotent), as createCheckout does. done is true
// when the request was answered (a replay or a refusal); fail answers an
// error and releases the key so the merchant can retry with it.
func (h *handler) beginWrite(c *gin.Context, m *checkout.Merchant) (body []byte, idemKey string, fail func(error, ...errorRule), done bool) {
	ctx := c.Request.Context()
	body, err := readJSON(c)
	if err != nil {
		h.fail(c, err)
		return nil, "", nil, true
	}
	idemKey = c.GetHeader("Idempotency-Key")
	if idemKey != "" {
		if !validIdempotencyKey(idemKey) {
			h.fail(c, invalid("Idempotency-Key", fmt.Sprintf("Idempotency-Key must be 1-%d printable ASCII characters", maxIdempotencyKeyLen)))
			return nil, "", nil, true
		}
		rep, err := h.repo.BeginIdempotent(ctx, m.ID, idemKey, body)
		if err != nil {
			h.fail(c, unavailable("idempotency check", err))
			return nil, "", nil, true
		}
		if rep != nil {
			c.Header("Idempotent-Replayed", "true")
			c.Data(rep.Status, "application/json; charset=utf-8", rep.Body)
			return nil, "", nil, true
		}
	}
	fail = func(err error, rules ...errorRule) {
		if idemKey != "" {
			if err := h.repo.ReleaseIdempotent(context.WithoutCancel(ctx), m.ID, idemKey); err != nil {
				h.logger(c).Warn("Cannot release an idempotency key", slog.Any("error", err))
			}
		}
		h.fail(c, err, rules...)
	}
	return body, idemKey, fail, false
}

// createLink is POST /v1/payment-links.
func (h *handler) createLink(c *gin.Context) {
	m := merchantOf(c)
	ctx := c.Request.Context()
	body, idemKey, fail, done := h.beginWrite(c, m)
	if done {
		return
	}
	var req linkRequest
	if perr := decodeStrict(body, &req); perr != nil {
		fail(perr)
		return
	}
	l, perr := h.linkFrom(m, liveKeyOf(c), &req)
	if perr != nil {
		fail(perr)
		return
	}
	out, err := json.Marshal(h.linkView(l))
	if err != nil {
		fail(err)
		return
	}
	var idem *checkout.IdempotentResponse
	if idemKey != "" {
		idem = &checkout.IdempotentResponse{MerchantID: m.ID, Key: idemKey, Status: http.StatusCreated, Body: out}
	}
	// The link and its payment_link.created are stored together; the
	// event follows even if its emit fails (Payments.CreateLink).
	if err := h.pay.CreateLink(ctx, l, idem); err != nil {
		fail(unavailableWith("the payment link could not be stored; retry", "store payment link", err))
		return
	}
	h.logLine(c, slog.LevelInfo, "Payment link created", slog.String("payment_link", l.ID), slog.String("merchant_id", m.ID))
	c.Header("Location", "/v1/payment-links/"+l.ID)
	c.Data(http.StatusCreated, "application/json; charset=utf-8", out)
}

// getLink is GET /v1/payment-links/:id; another merchant's link is 404,
// like a missing one.
func (h *handler) getLink(c *gin.Context) {
	id := c.Param("id")
	if !checkout.ValidLinkID(id) {
		h.fail(c, errNoLink)
		return
	}
	l, err := h.repo.GetLinkFor(c.Request.Context(), merchantOf(c).ID, id)
	if err != nil {
		h.fail(c, unavailable("get payment link", err), linkRules...)
		return
	}
	c.JSON(http.StatusOK, h.linkView(l))
}

// listLinks is GET /v1/payment-links?limit=&starting_after=: newest first.
func (h *handler) listLinks(c *gin.Context) {
	limit, err := pageLimit(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	page, next, err := h.repo.ListLinks(c.Request.Context(), merchantOf(c).ID, c.Query("starting_after"), limit)
	if err != nil {
		h.fail(c, unavailable("list payment links", err))
		return
	}
	out := linkListJSON{Object: "list", Data: make([]linkJSON, 0, len(page)), HasMore: next != "", NextCursor: next}
	for _, l := range page {
		out.Data = append(out.Data, h.linkView(l))
	}
	c.JSON(http.StatusOK, out)
}

// updateFrom applies the API's rules to an update request.
func (h *handler) updateFrom(m *checkout.Merchant, req *linkUpdateRequest) (checkout.LinkUpdate, *requestError) {
	var u checkout.LinkUpdate
	if req.Amount != nil || req.MinAmount != nil || req.MaxAmount != nil || req.Presets != nil {
		a := &checkout.PaymentLink{Amount: orZero(req.Amount), MinAmount: orZero(req.MinAmount), MaxAmount: orZero(req.MaxAmount)}
		if req.Presets != nil {
			a.Presets = *req.Presets
		}
		if req.Amount != nil && *req.Amount <= 0 {
			return u, invalid("amount", "must be greater than 0 (fen); leave it out for an amount the payer enters")
		}
		if err := checkout.CheckLinkAmounts(a.Amount, a.MinAmount, a.MaxAmount, a.Presets, h.ceiling(m)); err != nil {
			return u, refusalOf(err)
		}
		u.Amounts = a
	}
	if req.Description != nil {
		if err := checkout.CheckDescription(*req.Description); err != nil {
			return u, refusalOf(err)
		}
		u.Description = req.Description
	}
	if req.InactiveMessage != nil {
		if err := checkout.CheckInactiveMessage(*req.InactiveMessage); err != nil {
			return u, refusalOf(err)
		}
		u.InactiveMessage = req.InactiveMessage
	}
	if req.ActiveUntil != nil {
		t, perr := h.activeUntil(*req.ActiveUntil)
		if perr != nil {
			return u, perr
		}
		u.ActiveUntil = &t
	}
	if req.MaxPayments != nil {
		n, perr := maxPayments(req.MaxPayments)
		if perr != nil {
			return u, perr
		}
		u.MaxPayments = &n
	}
	u.Active = req.Active
	return u, nil
}

// updateLink is POST /v1/payment-links/:id: description, active,
// inactive_message, active_until and max_payments change at any time and
// take effect for the next payer; the amount terms only while no checkout
// used them (409 amount_locked). Open checkouts keep their terms.
func (h *handler) updateLink(c *gin.Context) {
	m := merchantOf(c)
	ctx := c.Request.Context()
	id := c.Param("id")
	if !checkout.ValidLinkID(id) {
		h.fail(c, errNoLink)
		return
	}
	body, idemKey, fail, done := h.beginWrite(c, m)
	if done {
		return
	}
	var req linkUpdateRequest
	if perr := decodeStrict(body, &req); perr != nil {
		fail(perr)
		return
	}
	u, perr := h.updateFrom(m, &req)
	if perr != nil {
		fail(perr)
		return
	}
	ch, err := h.pay.UpdateLink(ctx, m.ID, id, u)
	if err != nil {
		fail(unavailable("update payment link", err), linkRules...)
		return
	}
	out, err := json.Marshal(h.linkView(ch.Link))
	if err != nil {
		fail(err)
		return
	}
	if idemKey != "" {
		if err := h.repo.FinishIdempotent(ctx, m.ID, idemKey, http.StatusOK, out); err != nil {
			h.logger(c).Warn("Cannot store an idempotent answer", slog.Any("error", err))
		}
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", out)
}

// linkDeletedJSON is the answer of DELETE /v1/payment-links/:id.
type linkDeletedJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// deleteLink is DELETE /v1/payment-links/:id: the link is gone for good
// (its page and API answer 404 from now on, its keys are removed) and
// payment_link.deleted is emitted; its open checkouts keep their own
// terms and finish. Another merchant's link, or one deleted already, is
// 404. Deleting twice changes nothing more, so it needs no
// Idempotency-Key.
func (h *handler) deleteLink(c *gin.Context) {
	m := merchantOf(c)
	id := c.Param("id")
	if !checkout.ValidLinkID(id) {
		h.fail(c, errNoLink)
		return
	}
	if _, err := h.pay.DeleteLink(c.Request.Context(), m.ID, id); err != nil {
		h.fail(c, unavailable("delete payment link", err), linkRules...)
		return
	}
	h.logLine(c, slog.LevelInfo, "Payment link deleted", slog.String("payment_link", id), slog.String("merchant_id", m.ID))
	c.JSON(http.StatusOK, linkDeletedJSON{ID: id, Object: "payment_link", Deleted: true})
}
