package handlers

import (
	"testing"
	"time"

	"github.com/wallet-checkout/checkout/sessions"
)

func TestCheckOAuthState(t *testing.T) {
	const back = "/c/co_AAAAAAAAAAAAAAAAAAAAAAAA"
	fresh := func() (*sessions.Payer, string) {
		p := &sessions.Payer{}
		return p, startOAuth(p, "co_AAAAAAAAAAAAAAAAAAAAAAAA")
	}
	t.Run("match", func(t *testing.T) {
		p, s := fresh()
		if !checkOAuthState(p, s, back) {
			t.Fatal("valid state refused")
		}
		if p.OAuthState != "" || p.OAuthReturn != "" {
			t.Fatal("state not cleared")
		}
	})
	t.Run("reuse", func(t *testing.T) {
		p, s := fresh()
		checkOAuthState(p, s, back)
		if checkOAuthState(p, s, back) {
			t.Fatal("a state was good twice")
		}
	})
	t.Run("mismatch burns the state", func(t *testing.T) {
		p, s := fresh()
		if checkOAuthState(p, s+"x", back) || checkOAuthState(p, s, back) {
			t.Fatal("mismatch accepted or state kept")
		}
	})
	t.Run("empty", func(t *testing.T) {
		p, _ := fresh()
		if checkOAuthState(p, "", back) {
			t.Fatal("empty state accepted")
		}
		if checkOAuthState(&sessions.Payer{}, "", "") {
			t.Fatal("empty state on an empty session accepted")
		}
	})
	t.Run("expired", func(t *testing.T) {
		p, s := fresh()
		p.OAuthStateExpires = time.Now().Add(-time.Second)
		if checkOAuthState(p, s, back) {
			t.Fatal("expired state accepted")
		}
	})
	t.Run("other checkout", func(t *testing.T) {
		p, s := fresh()
		if checkOAuthState(p, s, "/c/co_BBBBBBBBBBBBBBBBBBBBBBBB") {
			t.Fatal("state of another checkout accepted")
		}
	})
	t.Run("a new round trip replaces the old state", func(t *testing.T) {
		p, s1 := fresh()
		s2 := startOAuth(p, "co_AAAAAAAAAAAAAAAAAAAAAAAA")
		if s1 == s2 || checkOAuthState(p, s1, back) {
			t.Fatal("old state still valid")
		}
	})
}
