package templates

import (
	"sort"
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, accept, override, want string
	}{
		{"nothing", "", "", LangZhHans},
		{"garbage", ";;;,q=,,", "", LangZhHans},
		{"unsupported only", "fr-FR,de;q=0.9", "", LangZhHans},
		{"english", "en-US,en;q=0.9", "", LangEn},
		{"simplified", "zh-CN,zh;q=0.9,en;q=0.8", "", LangZhHans},
		{"traditional tw", "zh-TW,zh;q=0.9", "", LangZhHant},
		{"traditional hk", "zh-HK", "", LangZhHant},
		{"traditional script", "zh-Hant-TW;q=0.9,en;q=0.5", "", LangZhHant},
		{"simplified script", "zh-Hans-CN", "", LangZhHans},
		{"quality order", "en;q=0.4,zh-TW;q=0.8", "", LangZhHant},
		{"q zero refused", "en;q=0,zh-TW;q=0.1", "", LangZhHant},
		{"bad q ignored", "en;q=abc,zh-TW;q=0.5", "", LangZhHant},
		{"q above one ignored", "en;q=2,zh-TW;q=0.5", "", LangZhHant},
		{"first wins on tie", "zh-TW,en", "", LangZhHant},
		{"override wins", "en-US", "zh-Hant", LangZhHant},
		{"override lower case", "zh-CN", "EN", LangEn},
		{"override underscore", "", "zh_TW", LangZhHant},
		{"bad override ignored", "en", "klingon", LangEn},
		{"wechat style header", "zh-CN,zh-Hans;q=0.9", "", LangZhHans},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Negotiate(tt.accept, tt.override); got != tt.want {
				t.Errorf("Negotiate(%q, %q) = %q, want %q", tt.accept, tt.override, got, tt.want)
			}
		})
	}
}

// TestCatalogComplete keeps every language in step with zh-Hans: same keys,
// nothing empty.
func TestCatalogComplete(t *testing.T) {
	ref := catalog[LangZhHans]
	for lang, m := range catalog {
		var missing, extra []string
		for k := range ref {
			if _, ok := m[k]; !ok {
				missing = append(missing, k)
			}
		}
		for k, v := range m {
			if _, ok := ref[k]; !ok {
				extra = append(extra, k)
			}
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", lang, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("%s: missing %v, extra %v", lang, missing, extra)
		}
	}
	if len(catalog) != 3 {
		t.Errorf("catalogue has %d languages, want 3", len(catalog))
	}
}

func TestTranslate(t *testing.T) {
	if got := Translate(LangEn, "result.paid.title"); got != "Payment successful" {
		t.Errorf("en result.paid.title = %q", got)
	}
	if got := Translate("xx", "result.paid.title"); got != "支付成功" {
		t.Errorf("unknown language falls back to zh-Hans, got %q", got)
	}
	if got := Translate(LangEn, "no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key = %q, want the key itself", got)
	}
	if got := NewPage("zh-TW", "n").T("checkout.title"); got != "收銀台" {
		t.Errorf("NewPage(zh-TW).T = %q", got)
	}
}
