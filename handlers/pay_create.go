package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/web/templates"
)

// payRequest is the page's "Pay": which wallet and how. Anything else in
// the body (an amount, say) is ignored: the amount is the stored checkout's.
type payRequest struct {
	Wallet   string `json:"wallet"`
	Scenario string `json:"scenario"`
}

// payResponse is what the page's script does next.
type payResponse struct {
	Kind        string              `json:"kind"`
	WeChat      *payments.WeChatPay `json:"wechat,omitempty"`
	TradeNO     string              `json:"trade_no,omitempty"`
	RedirectURL string              `json:"redirect_url,omitempty"`
	QRImageURL  string              `json:"qr_image_url,omitempty"`
	ResultURL   string              `json:"result_url"`
}

// createPayment answers POST /c/:id/pay (requireCSRF has checked the
// session's token in X-CSRF-Token); the payer's wallet identity comes from
// the session, never from the body.
func (h *handler) createPayment(c *gin.Context) {
	ck, st, payer := pageCheckoutOf(c), pageStoreOf(c), pagePayerOf(c)
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4<<10))
	if err != nil {
		h.payError(c, errPayRequest)
		return
	}
	wallet, scenario, ok := parsePayRequest(body)
	if !ok {
		h.payError(c, errPayRequest)
		return
	}
	if !hasWallet(walletsOffered(ck, st), wallet) {
		h.payError(c, errWalletNotOffer)
		return
	}
	// Only what the page could have offered where it was opened (offerFor):
	// no Alipay cashier from inside WeChat, no QR code for a wallet's
	// browser. Refused before anything is stored or sent.
	cl := detectClient(c.GetHeader("User-Agent"))
	if !h.offerFor(cl, walletsOffered(ck, st), st, payer).allows(wallet, scenario) {
		h.payError(c, errMethodNotOffered)
		return
	}
	req := payments.StartRequest{CheckoutID: ck.ID, Wallet: wallet, Scenario: scenario}
	switch scenario {
	case checkout.ScenarioJump:
		// No query: the gateway signs every field it sends back. The
		// payer's chosen language, if any, rides in the path instead, so
		// the result page after the cashier speaks it too.
		req.JumpURL = h.publicURL + pagePath(ck.ID, "return")
		if lang := explicitLang(c); lang != "" {
			req.JumpURL += "/" + lang
		}
	case checkout.ScenarioJSAPI:
		// The payer's identity comes from the session, never from the body.
		if wallet == checkout.MethodWeChat {
			req.SubAppID = st.WeChat.AppID
			req.SubOpenID, _ = payer.WeChatOpenID(st.WeChat.AppID)
		} else {
			req.BuyerID, _ = payer.AlipayUserID(st.Alipay.AppID)
		}
	}
	act, err := h.pay.Start(c.Request.Context(), req)
	if err != nil {
		h.startError(c, ck, err, false)
		return
	}
	out := payResponse{Kind: act.Kind, TradeNO: act.TradeNO, RedirectURL: act.RedirectURL, ResultURL: withLang(pagePath(ck.ID, "result"), explicitLang(c))}
	if act.Kind == payments.KindWeChatJSAPI {
		w := act.WeChat
		out.WeChat = &w
	}
	if act.Kind == payments.KindQR {
		out.QRImageURL = pagePath(ck.ID, "qr/"+strconv.Itoa(act.AttemptSeq)+".svg")
	}
	c.JSON(http.StatusOK, out)
}

// startError answers a Payments.Start failure (errorAnswers, startRules)
// in the payer's language, or in English for the mini-program.
func (h *handler) startError(c *gin.Context, ck *checkout.Checkout, err error, english bool) {
	lang := templates.LangEn
	if !english {
		lang = payerLang(c)
	}
	if errors.Is(err, checkout.ErrNotAllowed) {
		// The state may have moved since the request loaded it.
		if fresh, gerr := h.repo.Get(c.Request.Context(), ck.ID); gerr == nil {
			ck = fresh
		}
		err = notPayable(ck, h.now())
	}
	h.failPage(c, fmt.Errorf("start a payment of %s: %w", ck.ID, err), lang, startRules...)
}

// notPayable is the refusal to pay ck, by its state now.
func notPayable(ck *checkout.Checkout, now time.Time) error {
	code := notPayableCode(ck, now)
	return refusal(http.StatusConflict, code, apiErrorMessage(templates.LangEn, code), "")
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// notPayableCode names why a checkout cannot be paid, by its state now.
func notPayableCode(ck *checkout.Checkout, now time.Time) string {
	switch s := displayStatus(ck, now); {
	case s.Paid():
		return "checkout_paid"
	case s == checkout.StatusExpired:
		return "checkout_expired"
	case s == checkout.StatusCancelled:
		return "checkout_cancelled"
	}
	return "checkout_not_payable"
}

// parsePayRequest reads the pay body: a known wallet and one of the
// scenarios a page may ask for. Other members are ignored.
func parsePayRequest(body []byte) (checkout.Method, checkout.Scenario, bool) {
	var in payRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return "", "", false
	}
	w := checkout.Method(in.Wallet)
	if !w.Valid() {
		return "", "", false
	}
	switch s := checkout.Scenario(in.Scenario); s {
	case checkout.ScenarioQR, checkout.ScenarioJump, checkout.ScenarioJSAPI:
		return w, s, true
	}
	return "", "", false
}
