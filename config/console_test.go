package config

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/console"
)

// consoleHash is one real argon2id hash, made once (each costs ~30 ms).
var consoleHash = sync.OnceValue(func() string {
	h, err := console.HashPassword("console-test-password")
	if err != nil {
		panic(err)
	}
	return h
})

const consoleTOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" // 20 bytes of base32

// consoleFile is minimal.yaml with a console section of three users.
func consoleFile(t *testing.T) string {
	t.Helper()
	return readFixture(t, "minimal.yaml") + `    console:
      support_refund_limits: {per_refund: 5000, per_day: 20000}
      users:
        - email: Owner@Solo.Example
          password_hash: "` + consoleHash() + `"
          role: admin
          totp_secret: ${OWNER_TOTP}
        - email: help@solo.example
          password_hash: "` + consoleHash() + `"
          role: support
        - email: books@solo.example
          password_hash: "` + consoleHash() + `"
          role: viewer
`
}

func TestConsoleUsers(t *testing.T) {
	got, err := ParseMerchants([]byte(consoleFile(t)), Options{Getenv: envOf(map[string]string{"OWNER_TOTP": consoleTOTP})})
	if err != nil {
		t.Fatal(err)
	}
	c := got.Merchants[0].Console
	if c.SupportLimits != (checkout.RefundLimits{PerRefund: 5000, PerDay: 20000}) {
		t.Errorf("limits %+v", c.SupportLimits)
	}
	if len(c.Users) != 3 {
		t.Fatalf("%d users", len(c.Users))
	}
	m, u, ok := got.Directory.ConsoleUser("OWNER@solo.example ")
	if !ok || m.ID != "solo" || u.Email != "owner@solo.example" || u.Role != checkout.RoleAdmin || u.TOTPSecret.Reveal() != consoleTOTP {
		t.Fatalf("ConsoleUser(owner) = %v %+v %v", m, u, ok)
	}
	if !console.VerifyPassword("console-test-password", u.PasswordHash) {
		t.Error("the stored hash does not verify its password")
	}
	if _, u, _ := got.Directory.ConsoleUser("help@solo.example"); u.Role != checkout.RoleSupport || u.TOTPSecret != "" {
		t.Errorf("support user %+v", u)
	}
	if _, _, ok := got.Directory.ConsoleUser("nobody@solo.example"); ok {
		t.Error("an unknown email is found")
	}
}

func TestConsoleUserErrors(t *testing.T) {
	plainSecret := "PLAINTOTPSECRETPLAINTOTPSECRET22"
	tests := []struct {
		name     string
		old, new string
		env      map[string]string
		want     string
	}{
		{name: "email missing", old: "        - email: help@solo.example\n", new: "        - email: \"\"\n", want: "config: merchants[0].console.users[1].email: is required"},
		{name: "email shape", old: "help@solo.example", new: "help-at-solo", want: `config: merchants[0].console.users[1].email: "help-at-solo" is not an email address`},
		{name: "email twice, other case", old: "help@solo.example", new: "OWNER@solo.example", want: `config: merchants[0].console.users[1].email: "owner@solo.example" is already a console user at merchants[0].console.users[0].email`},
		{name: "plain password", old: `password_hash: "` + consoleHash() + `"` + "\n          role: support", new: "password_hash: pw-secret-hunter2\n          role: support", want: "config: merchants[0].console.users[1].password_hash: is not a hash; store only the hash: run `checkout hash-password`"},
		{name: "password hash missing", old: `password_hash: "` + consoleHash() + `"` + "\n          role: viewer", new: "role: viewer", want: "config: merchants[0].console.users[2].password_hash: is required"},
		{name: "bcrypt hash", old: `password_hash: "` + consoleHash() + `"` + "\n          role: viewer", new: `password_hash: "$2a$10$abcdefghijklmnopqrstuu5hQmE0sGk2pBiSxWY0LrT1cIDCqUMKy"` + "\n          role: viewer", want: "config: merchants[0].console.users[2].password_hash: not an argon2id hash"},
		{name: "role missing", old: "          role: viewer\n", new: "", want: "config: merchants[0].console.users[2].role: is required: viewer, support or admin"},
		{name: "role unknown", old: "role: viewer", new: "role: owner", want: `config: merchants[0].console.users[2].role: "owner" is not viewer, support or admin`},
		{name: "role case", old: "role: viewer", new: "role: Viewer", want: `config: merchants[0].console.users[2].role: "Viewer" is not viewer`},
		{name: "totp secret literal", old: "${OWNER_TOTP}", new: plainSecret, want: "config: merchants[0].console.users[0].totp_secret: must be an environment reference such as ${SHOP_ADMIN_TOTP}, not the secret itself"},
		{name: "totp env unset", env: map[string]string{"OWNER_TOTP": ""}, want: "config: merchants[0].console.users[0].totp_secret: environment variable OWNER_TOTP is not set"},
		{name: "totp not base32", env: map[string]string{"OWNER_TOTP": "not base32 at all!"}, want: "config: merchants[0].console.users[0].totp_secret: not a TOTP secret: not base32"},
		{name: "totp too short", env: map[string]string{"OWNER_TOTP": "JBSWY3DPEHPK3PXP"}, want: "config: merchants[0].console.users[0].totp_secret: not a TOTP secret: 10 bytes; at least 16"},
		{name: "per_refund negative", old: "per_refund: 5000", new: "per_refund: -1", want: "config: merchants[0].console.support_refund_limits.per_refund: must be a whole number of fen, 0 or more"},
		{name: "per_day below per_refund", old: "per_day: 20000", new: "per_day: 100", want: "config: merchants[0].console.support_refund_limits.per_day: is 100 fen, less than per_refund (5000)"},
		{name: "per_day decimal", old: "per_day: 20000", new: "per_day: 200.5", want: `config: merchants[0].console.support_refund_limits.per_day: must be a whole number (got "200.5")`},
		{name: "unknown user field", old: "role: viewer", new: "role: viewer\n          password: hunter2", want: "config: merchants[0].console.users[2].password: unknown field"},
		{name: "users not a list", old: "      users:\n", new: "      users: everyone\n      old_users:\n", want: "config: merchants[0].console.users: must be a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := consoleFile(t)
			if tt.old != "" {
				if !strings.Contains(src, tt.old) {
					t.Fatalf("the fixture lacks %q", tt.old)
				}
				src = strings.Replace(src, tt.old, tt.new, 1)
			}
			env := map[string]string{"OWNER_TOTP": consoleTOTP}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := ParseMerchants([]byte(src), Options{Getenv: envOf(env)})
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *config.Error containing %q", err, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", err, tt.want)
			}
			for _, s := range []string{"pw-secret-hunter2", plainSecret, consoleTOTP, "hunter2"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows a secret (%q): %s", s, err)
				}
			}
		})
	}
}
