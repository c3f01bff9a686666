package handlers

import "github.com/wallet-checkout/checkout/web/templates"

// payerMessages are the texts the server itself puts in front of payers:
// error pages and the messages of the pay action's JSON errors. The pages'
// own texts live in web/templates.
var payerMessages = map[string]map[string]string{
	templates.LangZhHans: {
		"page.not_found.title":      "找不到该订单",
		"page.not_found":            "链接可能有误，或订单已过保留期。请联系商家重新获取付款链接。",
		"page.unavailable.title":    "服务暂时不可用",
		"page.unavailable":          "请稍后刷新页面重试。",
		"page.no_wallet.title":      "暂无可用的支付方式",
		"page.no_wallet":            "该商家当前未开通可用的支付方式，请联系商家。",
		"page.oauth_failed.title":   "无法获取账户信息",
		"page.oauth_failed":         "获取支付账户信息时出错，请返回重试。",
		"page.oauth_expired.title":  "授权已失效",
		"page.oauth_expired":        "授权请求已过期或无效，请返回付款页面重试。",
		"page.oauth_denied.title":   "未完成授权",
		"page.oauth_denied":         "需要授权后才能在此付款，请返回重试。",
		"page.return_invalid.title": "无效的返回链接",
		"page.return_invalid":       "返回链接未通过校验，订单状态没有任何变化。请返回付款页面查看订单状态。",
		"err.cross_origin":          "请求来源无效，请刷新页面后重试。",
		"err.csrf":                  "页面已过期，请刷新后重试。",
		"err.invalid_request":       "请求无效，请刷新页面后重试。",
		"err.not_found":             "找不到该订单。",
		"err.unavailable":           "服务暂时不可用，请稍后重试。",
		"err.checkout_paid":         "该订单已支付，无需再次付款。",
		"err.checkout_expired":      "该订单已过期，无法付款。",
		"err.checkout_cancelled":    "该订单已取消，无法付款。",
		"err.checkout_not_payable":  "该订单当前无法付款。",
		"err.wallet_unavailable":    "该支付方式暂不可用，请选择其他方式。",
		"err.identity_required":     "需要先确认您的支付账户，请刷新页面。",
		"err.busy":                  "正在处理上一次请求，请稍候再试。",
		"err.payment_declined":      "支付渠道拒绝了本次支付，请稍后重试或换一种方式。",
		"err.payment_unknown":       "正在向支付渠道确认订单，请稍候查看支付结果，不要重复付款。",
		"err.internal":              "出现内部错误，请稍后重试。",
	},
	templates.LangZhHant: {
		"page.not_found.title":      "找不到該訂單",
		"page.not_found":            "連結可能有誤，或訂單已過保留期。請聯絡商家重新取得付款連結。",
		"page.unavailable.title":    "服務暫時無法使用",
		"page.unavailable":          "請稍後重新整理頁面再試。",
		"page.no_wallet.title":      "暫無可用的付款方式",
		"page.no_wallet":            "該商家目前未開通可用的付款方式，請聯絡商家。",
		"page.oauth_failed.title":   "無法取得帳戶資訊",
		"page.oauth_failed":         "取得付款帳戶資訊時出錯，請返回重試。",
		"page.oauth_expired.title":  "授權已失效",
		"page.oauth_expired":        "授權請求已過期或無效，請返回付款頁面重試。",
		"page.oauth_denied.title":   "未完成授權",
		"page.oauth_denied":         "需要授權後才能在此付款，請返回重試。",
		"page.return_invalid.title": "無效的返回連結",
		"page.return_invalid":       "返回連結未通過驗證，訂單狀態沒有任何變化。請返回付款頁面查看訂單狀態。",
		"err.cross_origin":          "請求來源無效，請重新整理頁面後再試。",
		"err.csrf":                  "頁面已過期，請重新整理後再試。",
		"err.invalid_request":       "請求無效，請重新整理頁面後再試。",
		"err.not_found":             "找不到該訂單。",
		"err.unavailable":           "服務暫時無法使用，請稍後再試。",
		"err.checkout_paid":         "該訂單已付款，無需再次付款。",
		"err.checkout_expired":      "該訂單已過期，無法付款。",
		"err.checkout_cancelled":    "該訂單已取消，無法付款。",
		"err.checkout_not_payable":  "該訂單目前無法付款。",
		"err.wallet_unavailable":    "該付款方式暫不可用，請選擇其他方式。",
		"err.identity_required":     "需要先確認您的付款帳戶，請重新整理頁面。",
		"err.busy":                  "正在處理上一次請求，請稍候再試。",
		"err.payment_declined":      "付款渠道拒絕了本次付款，請稍後再試或換一種方式。",
		"err.payment_unknown":       "正在向付款渠道確認訂單，請稍候查看付款結果，不要重複付款。",
		"err.internal":              "發生內部錯誤，請稍後再試。",
	},
	templates.LangEn: {
		"page.not_found.title":      "Checkout not found",
		"page.not_found":            "The link may be wrong, or the checkout is no longer kept. Ask the merchant for a new payment link.",
		"page.unavailable.title":    "Temporarily unavailable",
		"page.unavailable":          "Please reload the page in a moment.",
		"page.no_wallet.title":      "No payment method available",
		"page.no_wallet":            "The merchant has no payment method available right now. Please contact the merchant.",
		"page.oauth_failed.title":   "Could not identify your account",
		"page.oauth_failed":         "Something went wrong while identifying your payment account. Please go back and try again.",
		"page.oauth_expired.title":  "Authorization expired",
		"page.oauth_expired":        "The authorization request expired or is invalid. Please go back to the payment page and try again.",
		"page.oauth_denied.title":   "Authorization not completed",
		"page.oauth_denied":         "Paying here needs your authorization. Please go back and try again.",
		"page.return_invalid.title": "Invalid return link",
		"page.return_invalid":       "The return link failed verification; nothing about your order changed. Go back to the payment page to see its status.",
		"err.cross_origin":          "The request came from another site. Reload the page and try again.",
		"err.csrf":                  "This page has expired. Reload it and try again.",
		"err.invalid_request":       "Invalid request. Reload the page and try again.",
		"err.not_found":             "Checkout not found.",
		"err.unavailable":           "Temporarily unavailable. Please try again in a moment.",
		"err.checkout_paid":         "This checkout is already paid; there is nothing more to pay.",
		"err.checkout_expired":      "This checkout has expired and can no longer be paid.",
		"err.checkout_cancelled":    "This checkout was cancelled and can no longer be paid.",
		"err.checkout_not_payable":  "This checkout cannot be paid right now.",
		"err.wallet_unavailable":    "This payment method is not available. Please choose another one.",
		"err.identity_required":     "We need to confirm your payment account first. Please reload the page.",
		"err.busy":                  "Your previous request is still being processed. Please wait a moment.",
		"err.payment_declined":      "The payment provider declined this payment. Try again later or use another method.",
		"err.payment_unknown":       "We are confirming the order with the payment provider. Please wait for the result and do not pay again.",
		"err.internal":              "Internal error. Please try again later.",
	},
}

// payerMessage translates key, falling back to zh-Hans and then the key.
func payerMessage(lang, key string) string {
	if s, ok := payerMessages[lang][key]; ok {
		return s
	}
	if s, ok := payerMessages[templates.LangDefault][key]; ok {
		return s
	}
	return key
}
