package config

import (
	"errors"
	"strings"
	"testing"
)

const minimalKeyHash = "sha256:3d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d"

// TestAPIKeyLabels: an api_keys entry is the hash alone or a mapping of
// the hash, a label and a hint; a bad label or hint stops the file with
// one line naming the field, and a key pasted as its hint is not echoed.
func TestAPIKeyLabels(t *testing.T) {
	file := func(entry string) []byte {
		src := readFixture(t, "minimal.yaml")
		if !strings.Contains(src, "api_keys: ["+minimalKeyHash+"]") {
			t.Fatal("the fixture changed")
		}
		return []byte(strings.Replace(src, "api_keys: ["+minimalKeyHash+"]", "api_keys:\n      - "+entry, 1))
	}
	got, err := ParseMerchants(file(`{hash: "`+minimalKeyHash+`", label: "收银台 POS", hint: "sk_live_…a1B2"}`), Options{Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	k := got.Merchants[0].APIKeys[0]
	if k.Label != "收银台 POS" || k.Hint != "sk_live_…a1B2" || k.Hash != strings.TrimPrefix(minimalKeyHash, "sha256:") {
		t.Errorf("key %+v", k)
	}
	if got, err := ParseMerchants(file(minimalKeyHash), Options{Getenv: envOf(nil)}); err != nil || got.Merchants[0].APIKeys[0].Label != "" {
		t.Errorf("the plain form: %v", err)
	}
	const pasted = "sk_live_ThisIsTheWholeSecretKey0123456789"
	for _, tt := range []struct{ entry, want string }{
		{`{hash: "` + minimalKeyHash + `", hint: "` + pasted + `"}`, "merchants[0].api_keys[0].hint: must be the key's prefix"},
		{`{hash: "` + minimalKeyHash + `", hint: "sk_live_…a1B"}`, "merchants[0].api_keys[0].hint: must be"},
		{`{hash: "` + minimalKeyHash + `", label: "` + strings.Repeat("x", 65) + `"}`, "merchants[0].api_keys[0].label: must be at most 64"},
		{`{hash: "` + minimalKeyHash + `", label: "a\tb"}`, "merchants[0].api_keys[0].label: must be at most 64 printable"},
		{`{hash: "` + minimalKeyHash + `", owner: x}`, "merchants[0].api_keys[0].owner: unknown field"},
		{`{label: x}`, "merchants[0].api_keys[0]: must be sha256:"},
	} {
		_, err := ParseMerchants(file(tt.entry), Options{Getenv: envOf(nil)})
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.entry, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), pasted) {
			t.Errorf("the error echoes the key: %v", err)
		}
	}
}
