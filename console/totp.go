package console

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Issuer names the service in authenticator apps.
const Issuer = "Wallet Checkout"

// minSecretBytes is the shortest TOTP secret accepted: RFC 4226's 128 bits.
const minSecretBytes = 16

// totpOpts are the codes' shape: what every authenticator app assumes.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// ErrBadSecret is wrapped by every error of CheckTOTPSecret.
var ErrBadSecret = errors.New("not a TOTP secret")

// Enrolment is a new TOTP secret for one user.
type Enrolment struct {
	// Secret is the base32 secret (no padding) to put in the environment
	// variable the merchants file names.
	Secret string
	// URI is the otpauth:// URI authenticator apps read from the QR code.
	URI string
}

// NewTOTP makes a 160-bit secret for email.
func NewTOTP(email string) (Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: email, SecretSize: 20})
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp: %w", err)
	}
	return Enrolment{Secret: key.Secret(), URI: key.URL()}, nil
}

// CheckTOTPSecret reports why s is not a usable base32 secret, or nil.
func CheckTOTPSecret(s string) error {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(s, "=")))
	if err != nil {
		return fmt.Errorf("%w: not base32 (as `checkout totp-new` prints)", ErrBadSecret)
	}
	if len(b) < minSecretBytes {
		return fmt.Errorf("%w: %d bytes; at least %d", ErrBadSecret, len(b), minSecretBytes)
	}
	return nil
}

// TOTPStep is the 30-second step a code is valid for: with the code, what a
// sign-in records so that one code signs in once.
func TOTPStep(t time.Time) int64 { return t.Unix() / 30 }

// VerifyTOTP reports whether code is secret's code at t, or at the step
// just before or after (clock drift), and which step matched.
func VerifyTOTP(code, secret string, t time.Time) (step int64, ok bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	for _, d := range []int64{0, -1, 1} {
		at := time.Unix((TOTPStep(t)+d)*30, 0)
		want, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: totpOpts.Period, Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm})
		if err != nil {
			return 0, false
		}
		if constantEqual(want, code) {
			return TOTPStep(t) + d, true
		}
	}
	return 0, false
}

func constantEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := 0; i < len(a); i++ {
		v |= a[i] ^ b[i]
	}
	return v == 0
}
