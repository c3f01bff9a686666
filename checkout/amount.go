package checkout

import (
	"fmt"
	"strings"
)

// AmountKind says why an amount a payer entered was refused.
type AmountKind string

// The refusals of an entered amount.
const (
	// AmountBad: not a decimal number of yuan ("12", "12.5", "12.50").
	AmountBad AmountKind = "bad"
	// AmountPrecision: more than two decimals (fen are the smallest unit).
	AmountPrecision AmountKind = "precision"
	// AmountBelowMin: less than the link's minimum (Limit).
	AmountBelowMin AmountKind = "below_min"
	// AmountAboveMax: more than the link's maximum (Limit).
	AmountAboveMax AmountKind = "above_max"
	// AmountNotFixed: not the link's fixed amount (Limit).
	AmountNotFixed AmountKind = "not_fixed"
)

// AmountError is an entered amount refused; it matches ErrInvalid. Limit is
// the bound it broke, in fen, for the message.
type AmountError struct {
	Kind  AmountKind
	Limit int64
}

func (e *AmountError) Error() string {
	if e.Limit != 0 {
		return fmt.Sprintf("amount: %s (%d fen)", e.Kind, e.Limit)
	}
	return "amount: " + string(e.Kind)
}

// Is makes every AmountError match ErrInvalid.
func (e *AmountError) Is(target error) bool { return target == ErrInvalid }

// maxYuanDigits bounds the integer part, so the fen never overflow and
// stay below MaxFen (10^13 fen < 2^50).
const maxYuanDigits = 11

// ParseYuan reads an amount a payer typed, in yuan with at most two
// decimals ("8", "8.5", "8.50", "0.01"), as fen, with integer arithmetic
// only: floats would turn 0.29 into 28 fen. An optional leading "¥" and
// surrounding spaces are allowed; signs, exponents, separators and
// anything else are AmountBad; a third decimal is AmountPrecision. Zero is
// read as 0 (the link's minimum refuses it).
func ParseYuan(s string) (int64, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(s, "¥"), "￥"))
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" && (!dot || frac == "") || len(whole) > maxYuanDigits {
		return 0, &AmountError{Kind: AmountBad}
	}
	if !digits(whole) || !digits(frac) || (dot && frac == "") {
		return 0, &AmountError{Kind: AmountBad}
	}
	if len(frac) > 2 {
		return 0, &AmountError{Kind: AmountPrecision}
	}
	var fen int64
	for i := 0; i < len(whole); i++ {
		fen = fen*10 + int64(whole[i]-'0')
	}
	frac += strings.Repeat("0", 2-len(frac))
	fen = fen*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	return fen, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatYuan writes fen as yuan with two decimals ("12.50").
func FormatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}
