package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsNeverPrint: open_key and the shop password must not leak
// through fmt, slog, JSON or errors.
func TestSecretsNeverPrint(t *testing.T) {
	const pass = "s3cret-pass"
	st, err := NewStore("https://gw.example.com/mct1", testOpenID, docKey, pass)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("store", "store", st, "key", st.Key, "pass", st.ShopPass, "value", *st)
	js, _ := json.Marshal(st)
	outputs := []string{
		fmt.Sprint(st), fmt.Sprintf("%v", *st), fmt.Sprintf("%+v", *st), fmt.Sprintf("%#v", *st),
		fmt.Sprintf("%s %v %q", st.Key, st.ShopPass, st.ShopPass), logs.String(), string(js),
	}
	for _, out := range outputs {
		if strings.Contains(out, docKey) || strings.Contains(out, pass) || strings.Contains(out, PasswordSHA1(pass)) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	_, err = NewStore("https://gw.example.com/mct1", testOpenID, docKey[:31], pass)
	if err == nil || strings.Contains(err.Error(), docKey[:31]) {
		t.Errorf("key error leaks or is missing: %v", err)
	}
	if st.ShopPass.Reveal() != pass {
		t.Error("Reveal lost the value")
	}
}

func TestPasswordSHA1(t *testing.T) {
	if got := PasswordSHA1("123456"); got != "7c4a8d09ca3762af61e59520943dc26494f8941b" {
		t.Errorf("PasswordSHA1 = %s", got)
	}
}
