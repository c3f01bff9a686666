package console

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not the PHC form with the default parameters", h)
	}
	if err := CheckHash(h); err != nil {
		t.Errorf("CheckHash(own hash) = %v", err)
	}
	if !VerifyPassword("correct horse battery", h) {
		t.Error("the right password does not verify")
	}
	for _, wrong := range []string{"", "correct horse batterY", "correct horse battery ", strings.Repeat("x", MaxPasswordLen+1)} {
		if VerifyPassword(wrong, h) {
			t.Errorf("%q verifies", wrong)
		}
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if VerifyDecoy("correct horse battery") {
		t.Error("the decoy verified")
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	for _, p := range []string{"", "short", "九个字符的密码而已", strings.Repeat("a", MaxPasswordLen+1)} {
		if _, err := HashPassword(p); err == nil {
			t.Errorf("HashPassword(%q) made a hash", p)
		}
	}
	if _, err := HashPassword("十个字符的密码就可以了"); err != nil {
		t.Errorf("ten characters of Chinese refused: %v", err)
	}
}

func TestCheckHashRefuses(t *testing.T) {
	good, _ := HashPassword("correct horse battery")
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for name, h := range map[string]string{
		"empty":          "",
		"plain password": "correct horse battery",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuu5hQmE0sGk2pBiSxWY0LrT1cIDCqUMKy",
		"argon2i":        with(1, "argon2i"),
		"old version":    with(2, "v=16"),
		"huge memory":    with(3, "m=4194304,t=2,p=1"),
		"zero time":      with(3, "m=19456,t=0,p=1"),
		"many threads":   with(3, "m=19456,t=2,p=200"),
		"garbled params": with(3, "m=x"),
		"padded salt":    with(4, parts[4]+"=="),
		"short salt":     with(4, "YWJj"),
		"short key":      with(5, "YWJjZA"),
		"extra field":    good + "$x",
	} {
		err := CheckHash(h)
		if !errors.Is(err, ErrBadHash) {
			t.Errorf("%s: CheckHash = %v, want ErrBadHash", name, err)
			continue
		}
		if VerifyPassword("correct horse battery", h) {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestTOTP(t *testing.T) {
	e, err := NewTOTP("ops@shop.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTOTPSecret(e.Secret); err != nil {
		t.Fatalf("own secret refused: %v", err)
	}
	u, err := url.Parse(e.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != e.Secret || u.Query().Get("issuer") != Issuer {
		t.Fatalf("URI %q", e.URI)
	}
	now := time.Date(2026, 12, 2, 10, 0, 15, 0, time.UTC)
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(e.Secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		at     time.Time
		ok     bool
		offset int64
	}{
		{"now", now, true, 0},
		{"previous step", now.Add(-30 * time.Second), true, -1},
		{"next step", now.Add(30 * time.Second), true, 1},
		{"two steps old", now.Add(-60 * time.Second), false, 0},
		{"two steps ahead", now.Add(60 * time.Second), false, 0},
	} {
		step, ok := VerifyTOTP(code(tc.at), e.Secret, now)
		if ok != tc.ok || (ok && step != TOTPStep(now)+tc.offset) {
			t.Errorf("%s: VerifyTOTP = %d, %v; want ok %v at offset %d", tc.name, step, ok, tc.ok, tc.offset)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", " "} {
		if _, ok := VerifyTOTP(bad, e.Secret, now); ok {
			t.Errorf("code %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "not base32!", "MFRGG"} {
		if err := CheckTOTPSecret(bad); !errors.Is(err, ErrBadSecret) {
			t.Errorf("CheckTOTPSecret(%q) = %v", bad, err)
		}
	}
}
