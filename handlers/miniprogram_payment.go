package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/wallet"
	"github.com/wallet-checkout/checkout/web/templates"
)

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
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4<<10))
	var in miniProgramRequest
	if err != nil || json.Unmarshal(body, &in) != nil {
		abortError(c, http.StatusBadRequest, "invalid_request", "the body must be a JSON object with client_secret and code", "")
		return
	}
	id := c.Param("id")
	if !checkout.ValidID(id) {
		abortError(c, http.StatusNotFound, "not_found", "no such checkout", "id")
		return
	}
	ck, err := h.repo.Get(c.Request.Context(), id)
	if errors.Is(err, checkout.ErrNotFound) {
		abortError(c, http.StatusNotFound, "not_found", "no such checkout", "id")
		return
	}
	if err != nil {
		h.logger(c).Error("Loading a checkout failed", slog.String("checkout_id", id), slog.Any("error", err))
		abortError(c, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable, retry", "")
		return
	}
	if in.ClientSecret == "" || !ck.VerifyClientSecret(in.ClientSecret) {
		abortError(c, http.StatusUnauthorized, "invalid_client_secret", "client_secret does not belong to this checkout", "client_secret")
		return
	}
	if s := displayStatus(ck, h.now()); !s.Active() {
		code := notPayableCode(ck, h.now())
		abortError(c, http.StatusConflict, code, apiErrorMessage(templates.LangEn, code), "")
		return
	}
	st, ok := h.dir.Store(ck.MerchantID, ck.StoreID)
	if !ok || !st.WeChat.Enabled || st.WeChat.MiniProgramAppID == "" || !ck.Allows(checkout.MethodWeChat) {
		abortError(c, http.StatusConflict, "wallet_unavailable", "WeChat mini-program payments are not configured for this checkout's store", "")
		return
	}
	if in.Code == "" {
		abortError(c, http.StatusBadRequest, "invalid_code", "code (from wx.login) is required", "code")
		return
	}
	who, err := h.pages.WeChat.Code2Session(c.Request.Context(), st.WeChat.MiniProgramAppID, st.WeChat.MiniProgramSecret, in.Code)
	if err != nil {
		var we *wallet.WeChatError
		if errors.As(err, &we) && we.Code != wallet.WeChatBusy && we.Code != wallet.WeChatRateLimited && we.Code != wallet.WeChatInvalidSecret {
			abortError(c, http.StatusBadRequest, "invalid_code", "WeChat refused the code; call wx.login again", "code")
			return
		}
		h.logger(c).Warn("Mini-program code2session failed", slog.String("checkout_id", id),
			slog.String("app_id", st.WeChat.MiniProgramAppID), slog.Any("error", err))
		abortError(c, http.StatusBadGateway, "identity_provider_error", "WeChat login failed, retry", "")
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
