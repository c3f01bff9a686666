package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/config"
)

// TestHashKeyLabel: with -label, hash-key prints the whole api_keys entry
// (hash, label, hint), which the merchants file reads back as such; the
// hint never holds more of the key than its prefix and last four
// characters; a bad label is refused.
func TestHashKeyLabel(t *testing.T) {
	key, err := checkout.NewAPIKey(true)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := hashKey([]string{"-label", "前台 POS \"1\""}, strings.NewReader(key+"\n"), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	entry := strings.TrimSpace(out.String())
	hint := checkout.KeyHint(key)
	if !strings.Contains(entry, hint) || strings.Contains(entry, key) || hint != key[:8]+"…"+key[len(key)-4:] {
		t.Fatalf("entry %q (hint %q)", entry, hint)
	}
	file := `merchants:
  - id: solo
    name: Solo
    redirect_hosts: [shop.example]
    api_keys:
      - ` + entry + `
    stores:
      - id: main
        gateway: {base_url: "https://api.gateway.example/mct1", open_id: "11112222333344445555666677778888", open_key: "0828e83720fdbe3685a7b94214af04f9", shop_pass: "123456"}
        wechat: {enabled: true, mode: redirect}
`
	m, err := config.ParseMerchants([]byte(file), config.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("the printed entry does not parse: %v\n%s", err, file)
	}
	k := m.Merchants[0].APIKeys[0]
	if k.Label != `前台 POS "1"` || k.Hint != hint || "sha256:"+k.Hash != config.HashAPIKeyLine(key) {
		t.Errorf("parsed %+v", k)
	}
	// Without -label: the hash line alone on stdout, the hint on stderr.
	out.Reset()
	errb.Reset()
	if code := hashKey(nil, strings.NewReader(key+"\n"), &out, &errb); code != exitOK || out.String() != config.HashAPIKeyLine(key)+"\n" || !strings.Contains(errb.String(), "hint: "+hint) {
		t.Errorf("plain: %d %q %q", code, out.String(), errb.String())
	}
	if code := hashKey([]string{"-label", "a\tb"}, strings.NewReader(key+"\n"), &out, &errb); code != exitUsage {
		t.Errorf("bad label: exit %d", code)
	}
	// -new prints the entry too.
	out.Reset()
	if code := hashKey([]string{"-new", "-label", "shop"}, nil, &out, &errb); code != exitOK || !strings.Contains(out.String(), `label: "shop", hint: "sk_live_…`) {
		t.Errorf("-new: %d %q", code, out.String())
	}
}
