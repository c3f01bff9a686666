package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/wallet"
)

// maxMiniProgramBody bounds the body of a mini-program payment request.
const maxMiniProgramBody = 4 << 10

// miniProgramRequest is what a mini-program sends: the checkout's client
// secret (from the merchant's server) and a fresh wx.login code.
type miniProgramRequest struct {
	ClientSecret string `json:"client_secret"`
	Code         string `json:"code"`
}

// createMiniProgramPayment answers POST
// /v1/checkouts/:id/wechat-mini-program-payments with exactly the object
// wx.requestPayment takes (plus appId). It is not behind the merchant's
// Bearer key: the client secret proves the caller may pay this checkout.
func (h *handler) createMiniProgramPayment(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxMiniProgramBody))
	var in miniProgramRequest
	if err != nil || json.Unmarshal(body, &in) != nil {
		h.fail(c, errMiniProgramBody)
		return
	}
	id := c.Param("id")
	if !checkout.ValidID(id) {
		h.fail(c, errNoCheckout)
		return
	}
	ck, err := h.repo.Get(c.Request.Context(), id)
	if err != nil {
		h.fail(c, unavailableWith("temporarily unavailable, retry", "load checkout "+id, err))
		return
	}
	// Before the client secret is checked and code2session called.
	if !h.allowPayer(c, "mini_program", id) {
		h.fail(c, errRateLimited)
		return
	}
	if in.ClientSecret == "" || !ck.VerifyClientSecret(in.ClientSecret) {
		h.fail(c, errClientSecret)
		return
	}
	if s := displayStatus(ck, h.now()); !s.Active() {
		h.fail(c, notPayable(ck, h.now()))
		return
	}
	st, ok := h.dir.Store(ck.MerchantID, ck.StoreID)
	if !ok || !st.WeChat.Enabled || st.WeChat.MiniProgramAppID == "" || !ck.Allows(checkout.MethodWeChat) {
		h.fail(c, errNoMiniProgram)
		return
	}
	if in.Code == "" {
		h.fail(c, badRequest("invalid_code", "code", "code (from wx.login) is required"))
		return
	}
	who, err := h.pages.WeChat.Code2Session(c.Request.Context(), st.WeChat.MiniProgramAppID, st.WeChat.MiniProgramSecret.Reveal(), in.Code)
	if err != nil {
		var we *wallet.WeChatError
		if errors.As(err, &we) && we.Code != wallet.WeChatBusy && we.Code != wallet.WeChatRateLimited && we.Code != wallet.WeChatInvalidSecret {
			h.fail(c, badRequest("invalid_code", "code", "WeChat refused the code; call wx.login again"))
			return
		}
		h.fail(c, errWeChatLogin.because(fmt.Errorf("code2session for checkout %s, app %s: %w", id, st.WeChat.MiniProgramAppID, err)))
		return
	}
	act, err := h.pay.Start(c.Request.Context(), payments.StartRequest{
		CheckoutID: id,
		Wallet:     checkout.MethodWeChat,
		Scenario:   checkout.ScenarioMiniProgram,
		SubAppID:   st.WeChat.MiniProgramAppID,
		SubOpenID:  who.OpenID,
	})
	if err != nil {
		h.startError(c, ck, err, true)
		return
	}
	c.JSON(http.StatusOK, act.WeChat)
}
