package handlers_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, after replacing the random parts
// (value, placeholder pairs, in order: a client secret contains the id).
func golden(t *testing.T, name string, got []byte, random ...string) {
	t.Helper()
	s := strings.NewReplacer(random...).Replace(string(got))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(s), "", "  "); err != nil {
		t.Fatalf("%s: not JSON: %v", name, err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("%s differs from the golden file:\n got %s\nwant %s", name, pretty.Bytes(), want)
	}
}

// TestWireGolden pins the JSON merchants integrate against.
func TestWireGolden(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/checkouts", e.keyA, `{
		"amount": 900, "original_amount": 1000, "discount_amount": 60, "ignore_amount": 40,
		"description": "一杯拿铁", "reference": "ORDER-7",
		"success_url": "https://shop.example/done?checkout={CHECKOUT_ID}",
		"cancel_url": "https://shop.example/cancel",
		"expires_in": 900, "wallets": ["wechat"], "metadata": {"table": "7"}
	}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	m := r.json(t)
	id, secret := m["id"].(string), m["client_secret"].(string)
	random := []string{secret, "CLIENT_SECRET", id, "CHECKOUT_ID"}
	golden(t, "create_201.json", r.body, random...)

	list := e.do("GET", "/v1/checkouts?limit=1", e.keyA, "")
	golden(t, "list_200.json", list.body, random...)

	bad := e.do("POST", "/v1/checkouts", e.keyA, `{"amount":1,"success_url":"https://evil.example/"}`)
	golden(t, "create_400_redirect.json", bad.body)
}
