package payments_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/payments"
)

func account(t *testing.T, openID string) *gateway.Store {
	t.Helper()
	gs, err := gateway.NewStore("http://127.0.0.1:1/gw", openID, strings.Repeat("k", 32), "pass")
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// TestAccounts: a store's account is found by the store and by its
// open_id (how notifies name it); an open_id belongs to one store; every
// store of the directory needs one, and no account may name a store the
// directory lacks.
func TestAccounts(t *testing.T) {
	a := payments.NewAccounts()
	oa1, ob1 := account(t, "OA1"), account(t, "OB1")
	if err := a.Add("m_a", "main", oa1); err != nil {
		t.Fatal(err)
	}
	if err := a.Add("m_b", "main", ob1); err != nil {
		t.Fatal(err)
	}
	if gs, ok := a.Of("m_a", "main"); !ok || gs != oa1 {
		t.Fatal("Of(m_a, main)")
	}
	if _, ok := a.Of("m_a", "two"); ok {
		t.Fatal("Of(m_a, two) found an account")
	}
	if m, s, gs, ok := a.ByOpenID("OB1"); !ok || m != "m_b" || s != "main" || gs != ob1 {
		t.Fatalf("ByOpenID(OB1) = %s %s %v %v", m, s, gs, ok)
	}
	if _, _, _, ok := a.ByOpenID("nope"); ok {
		t.Fatal("ByOpenID(nope) found")
	}

	for name, add := range map[string]func() error{
		"duplicate open_id": func() error { return a.Add("m_c", "main", account(t, "OA1")) },
		"no account":        func() error { return a.Add("m_c", "main", nil) },
		"no open_id":        func() error { return a.Add("m_c", "main", &gateway.Store{}) },
		"second account":    func() error { return a.Add("m_a", "main", account(t, "OA9")) },
	} {
		if err := add(); !errors.Is(err, payments.ErrInvalidAccounts) {
			t.Errorf("%s: %v, want ErrInvalidAccounts", name, err)
		}
	}

	dir := func(ms ...*checkout.Merchant) *checkout.Directory {
		d, err := checkout.NewDirectory(ms)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ma := &checkout.Merchant{ID: "m_a", Stores: []*checkout.Store{{ID: "main"}}}
	mb := &checkout.Merchant{ID: "m_b", Stores: []*checkout.Store{{ID: "main"}}}
	if err := a.Check(dir(ma, mb)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := a.Check(dir(ma)); !errors.Is(err, payments.ErrInvalidAccounts) || !strings.Contains(err.Error(), "m_b") {
		t.Fatalf("an account for a store the directory lacks: %v", err)
	}
	mc := &checkout.Merchant{ID: "m_c", Stores: []*checkout.Store{{ID: "main"}}}
	if err := a.Check(dir(ma, mb, mc)); !errors.Is(err, payments.ErrInvalidAccounts) || !strings.Contains(err.Error(), "m_c") {
		t.Fatalf("a store without an account: %v", err)
	}
}
