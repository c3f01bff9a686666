package gateway

import (
	"errors"
	"fmt"
	"strings"
)

// Wallet is the payer's wallet.
type Wallet string

// The wallets the checkout offers.
const (
	WalletWeChat Wallet = "wechat"
	WalletAlipay Wallet = "alipay"
)

// ErrNoPayMethod means the store's paylist has no method for the wallet and
// scenario asked for.
var ErrNoPayMethod = errors.New("gateway: no pay method for this wallet and scenario")

// WalletOf tells which wallet a pay method belongs to. pmt_tag values differ
// between deployments (Weixin, WeixinBERL, AlipayCS, AlipayPAZH…), so it goes
// by the tag's prefix and falls back to the method's name.
func WalletOf(m PayMethod) (Wallet, bool) {
	tag := strings.ToLower(string(m.Tag))
	name := string(m.Name)
	switch {
	case strings.HasPrefix(tag, "weixin") || strings.HasPrefix(tag, "wechat") || strings.Contains(name, "微信"):
		return WalletWeChat, true
	case strings.HasPrefix(tag, "alipay") || strings.Contains(name, "支付宝"):
		return WalletAlipay, true
	}
	return "", false
}

// scenarioTypes lists the paylist pmt_type numbers that can carry a scenario,
// best first. The document builds the jump_url and JSAPI flows "on the basis
// of" the scan flows and its own paylist example lists only "2,3" for
// WeChat, so a method without "4" still serves them when nothing better
// exists.
func scenarioTypes(s Scenario) []string {
	switch s {
	case ScenarioQR:
		return []string{"2"}
	case ScenarioBarcode:
		return []string{"3"}
	default:
		return []string{"4", "3", "2"}
	}
}

// PickTag chooses the pmt_tag for a wallet and scenario. A non-empty
// override (the store's configuration) wins; otherwise the first paylist
// method of that wallet supporting the scenario, by preference order.
func PickTag(methods []PayMethod, w Wallet, s Scenario, override string) (string, error) {
	if override != "" {
		return override, nil
	}
	for _, t := range scenarioTypes(s) {
		for _, m := range methods {
			if mw, ok := WalletOf(m); ok && mw == w && m.Supports(t) {
				return string(m.Tag), nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s %s", ErrNoPayMethod, w, s)
}
