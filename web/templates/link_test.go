package templates

import (
	"strings"
	"testing"
)

func linkView() LinkView {
	return LinkView{
		Page: NewPage("zh-Hans", "nonce123"), MerchantName: "茶饮小铺", Description: "随意付",
		Entered: true, Min: "¥1.00", Max: "¥500.00",
		Presets: []LinkPreset{{Label: "¥10.00", Value: "10.00"}}, PostURL: "/l/pl_x", CSRFToken: "tok",
	}
}

// TestLinkPage: the keypad page's parts, the fixed amount's, the inactive
// message, the registered name and code number when set, and escaping.
func TestLinkPage(t *testing.T) {
	v := linkView()
	d := parse(t, render(t, LinkPage(v)))
	checkCSPSafe(t, d)
	d.mustText(t, "amount-range", "可付金额 ¥1.00 – ¥500.00")
	d.mustText(t, "preset", "¥10.00")
	out := render(t, LinkPage(v))
	for _, want := range []string{`inputmode="decimal"`, `name="csrf" value="tok"`, `action="/l/pl_x"`, `method="post"`} {
		if !strings.Contains(out, want) {
			t.Errorf("keypad page without %s", want)
		}
	}
	if strings.Contains(out, `data-testid="amount-error"`) || strings.Contains(out, `data-testid="short-code"`) || strings.Contains(out, "registered-name") {
		t.Error("parts shown that the view does not set")
	}

	v.Value, v.Error = `"><script>alert(1)</script>`, "金额最多保留两位小数"
	v.ShortCode, v.RegisteredName = "0421 7788", `某某餐饮<b>有限公司</b>`
	out = render(t, LinkPage(v))
	if strings.Contains(out, "<script>alert") || strings.Contains(out, "<b>") {
		t.Errorf("not escaped:\n%s", out)
	}
	d = parse(t, out)
	d.mustText(t, "amount-error", v.Error)
	d.mustText(t, "short-code", "收款码编号 0421 7788")
	d.mustText(t, "registered-name", "收款方： "+v.RegisteredName)

	fixed := LinkView{Page: NewPage("en", "n"), MerchantName: "Shop", Amount: "¥18.00", PostURL: "/l/pl_y"}
	d = parse(t, render(t, LinkPage(fixed)))
	d.mustText(t, "amount", "¥18.00")
	d.mustText(t, "link-pay", "Pay")

	off := fixed
	off.Inactive, off.InactiveMessage = true, "Sold out today"
	out = render(t, LinkPage(off))
	if strings.Contains(out, "link-form") || !strings.Contains(out, "Sold out today") {
		t.Errorf("inactive page:\n%s", out)
	}
	off.InactiveMessage = ""
	if out := render(t, LinkPage(off)); !strings.Contains(out, "This payment link is not available right now") {
		t.Error("inactive page without the catalogue's text")
	}
}
