package checkout

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PaymentLink is a reusable payment a merchant made once and shares as a
// short URL (/l/{id}) or a printed code: every payer who opens it and taps
// "pay" gets a checkout of their own, made with the link's terms
// (NewCheckoutFromLink). It lives until the merchant removes it: its keys
// have no TTL (the one exception to "every key has a TTL").
type PaymentLink struct {
	ID         string
	MerchantID string
	StoreID    string
	// Amount is the fixed amount in fen; 0 when the payer enters it.
	Amount int64
	// MinAmount and MaxAmount bound an amount the payer enters (fen);
	// Presets are amounts offered as buttons. All zero for a fixed amount.
	MinAmount   int64
	MaxAmount   int64
	Presets     []int64
	Description string
	Reference   string
	Metadata    map[string]string
	Wallets     []Method
	SuccessURL  string
	CancelURL   string
	// LatePolicy is inherited by the link's checkouts.
	LatePolicy LatePolicy
	// ActiveUntil, when set, ends the link for new payers.
	ActiveUntil time.Time
	// MaxPayments, when > 0, is how many completed payments the link takes.
	MaxPayments int
	// Active is the merchant's switch (or false once MaxPayments were paid).
	Active bool
	// InactiveMessage is shown to payers when the link takes no payment.
	InactiveMessage string
	// DeactivatedBy says why Active is false: "merchant" or "limit".
	DeactivatedBy string
	// Payments is how many of its checkouts were paid (counted once each).
	Payments int
	// Used is set once a checkout was made from the link: its amount terms
	// are fixed from then on.
	Used      bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Why a link was deactivated (PaymentLink.DeactivatedBy).
const (
	DeactivatedByMerchant = "merchant"
	DeactivatedByLimit    = "limit"
)

// Limits of a payment link.
const (
	MaxLinkPresets        = 8
	MaxInactiveMessageLen = 200 // characters
	// MaxLinkPayments bounds max_payments, far above a real link's.
	MaxLinkPayments = 1_000_000
	// LinkCheckoutTTL is how long a checkout made from a link stays open:
	// its reservation lasts as long.
	LinkCheckoutTTL = 30 * time.Minute
)

// Errors of payment links; check them with errors.Is.
var (
	// ErrLinkInactive means the link takes no new payment: switched off by
	// the merchant, past its active_until, or all its payments are made or
	// reserved. The payer sees the link's inactive message.
	ErrLinkInactive = errors.New("payment link is not active")
	// ErrLinkAmountFixed means an update tried to change the amount terms
	// of a link that checkouts already used.
	ErrLinkAmountFixed = errors.New("the amount terms of a payment link cannot change once a checkout used them")
)

// linkIDPrefix starts every payment link id.
const linkIDPrefix = "pl_"

// NewLinkID returns a fresh payment link id: "pl_" and 24 random base62
// characters (about 143 bits), unguessable like a checkout's.
func NewLinkID() (string, error) {
	r, err := randomBase62(idRandomLen)
	if err != nil {
		return "", fmt.Errorf("new payment link id: %w", err)
	}
	return linkIDPrefix + r, nil
}

// ValidLinkID reports whether s has the shape of a payment link id.
func ValidLinkID(s string) bool {
	return len(s) == len(linkIDPrefix)+idRandomLen && strings.HasPrefix(s, linkIDPrefix) && isAlnum(s[len(linkIDPrefix):])
}

// EnteredAmount reports whether the payer enters the amount.
func (l *PaymentLink) EnteredAmount() bool { return l.Amount == 0 }

// Open reports whether the link takes new payers at now, before its
// reservations are counted (the repository's Reserve counts them
// atomically).
func (l *PaymentLink) Open(now time.Time) bool {
	if !l.Active {
		return false
	}
	if !l.ActiveUntil.IsZero() && !now.Before(l.ActiveUntil) {
		return false
	}
	return l.MaxPayments == 0 || l.Payments < l.MaxPayments
}

// CheckAmount applies the link's rule to an amount the payer asked to pay:
// the fixed amount, or between MinAmount and MaxAmount. The refusal is an
// *AmountError saying which bound.
func (l *PaymentLink) CheckAmount(fen int64) error {
	switch {
	case !l.EnteredAmount() && fen != l.Amount:
		return &AmountError{Kind: AmountNotFixed, Limit: l.Amount}
	case fen < l.MinAmount || fen <= 0:
		return &AmountError{Kind: AmountBelowMin, Limit: max(l.MinAmount, 1)}
	case fen > l.MaxAmount && l.EnteredAmount():
		return &AmountError{Kind: AmountAboveMax, Limit: l.MaxAmount}
	}
	return nil
}

// LinkTerms is what a merchant sets on a payment link: a create takes all
// of it, an update what it names.
type LinkTerms struct {
	Amount          int64
	MinAmount       int64
	MaxAmount       int64
	Presets         []int64
	Description     string
	Reference       string
	Metadata        map[string]string
	Wallets         []Method
	SuccessURL      string
	CancelURL       string
	LatePolicy      LatePolicy
	ActiveUntil     time.Time
	MaxPayments     int
	Active          bool
	InactiveMessage string
}

// CheckLinkAmounts is the rule of a link's amount terms: either a fixed
// amount (and no bounds or presets), or bounds 1 ≤ min ≤ max ≤ ceiling with
// presets inside them, at most MaxLinkPresets, no duplicates. ceiling is
// the service's (or merchant's) largest amount. Refusals name the API
// field.
func CheckLinkAmounts(amount, minA, maxA int64, presets []int64, ceiling int64) error {
	if amount != 0 {
		switch {
		case amount < 0:
			return &FieldError{Field: "amount", Message: "must be greater than 0 (fen)"}
		case amount > ceiling:
			return &FieldError{Field: "amount", Message: fmt.Sprintf("must be at most %d fen", ceiling)}
		case minA != 0 || maxA != 0:
			return &FieldError{Field: "min_amount", Message: "only for an amount the payer enters (leave amount out)"}
		case len(presets) > 0:
			return &FieldError{Field: "presets", Message: "only for an amount the payer enters (leave amount out)"}
		}
		return nil
	}
	switch {
	case minA <= 0:
		return &FieldError{Field: "min_amount", Message: "required without amount: the least the payer may enter, in fen (at least 1)"}
	case maxA <= 0:
		return &FieldError{Field: "max_amount", Message: "required without amount: the most the payer may enter, in fen"}
	case maxA > ceiling:
		return &FieldError{Field: "max_amount", Message: fmt.Sprintf("must be at most %d fen", ceiling)}
	case minA > maxA:
		return &FieldError{Field: "min_amount", Message: "must not be greater than max_amount"}
	case len(presets) > MaxLinkPresets:
		return &FieldError{Field: "presets", Message: fmt.Sprintf("at most %d amounts", MaxLinkPresets)}
	}
	seen := map[int64]bool{}
	for _, p := range presets {
		if p < minA || p > maxA {
			return &FieldError{Field: "presets", Message: "each amount must be between min_amount and max_amount"}
		}
		if seen[p] {
			return &FieldError{Field: "presets", Message: "an amount is listed twice"}
		}
		seen[p] = true
	}
	return nil
}

// CheckInactiveMessage is the rule of the text payers see on an inactive
// link.
func CheckInactiveMessage(s string) error {
	return checkText("inactive_message", s, MaxInactiveMessageLen)
}

// NewPaymentLink makes an active link of merchantID's store from terms,
// which the caller has checked (the API's rules: URLs, wallets, amounts).
func NewPaymentLink(merchantID, storeID string, t LinkTerms, now time.Time) (*PaymentLink, error) {
	id, err := NewLinkID()
	if err != nil {
		return nil, err
	}
	now = now.Truncate(time.Millisecond)
	return &PaymentLink{
		ID: id, MerchantID: merchantID, StoreID: storeID,
		Amount: t.Amount, MinAmount: t.MinAmount, MaxAmount: t.MaxAmount, Presets: t.Presets,
		Description: t.Description, Reference: t.Reference, Metadata: t.Metadata, Wallets: t.Wallets,
		SuccessURL: t.SuccessURL, CancelURL: t.CancelURL, LatePolicy: EffectiveLatePolicy(t.LatePolicy),
		ActiveUntil: t.ActiveUntil, MaxPayments: t.MaxPayments,
		Active: t.Active, InactiveMessage: t.InactiveMessage,
		CreatedAt: now, UpdatedAt: now,
	}, nil
}

// DraftFromLink is the draft of a checkout a payer starts from link l for
// amount fen (checked with CheckAmount): the link's terms, its id in
// PaymentLink, and LinkCheckoutTTL.
func DraftFromLink(l *PaymentLink, fen int64, webhookURL string) (*Draft, error) {
	if err := l.CheckAmount(fen); err != nil {
		return nil, err
	}
	return &Draft{
		MerchantID: l.MerchantID, StoreID: l.StoreID,
		Amounts:     Amounts{Original: fen, Trade: fen},
		Description: l.Description, Reference: l.Reference,
		SuccessURL: l.SuccessURL, CancelURL: l.CancelURL,
		LatePolicy: l.LatePolicy, WebhookURL: webhookURL,
		Metadata: l.Metadata, Wallets: l.Wallets,
		TTL: LinkCheckoutTTL, PaymentLink: l.ID,
	}, nil
}

// LinkTap names a payer's tap on a link's page (CreateFromLink): the taps
// that name the same page or the same payer, for the same amount, while
// their checkout is open, make one checkout.
type LinkTap struct {
	// Token is the tap token of the page tapped (random for each render),
	// "" for none.
	Token string
	// Who is a digest of the payer's wallet identity at the link's store
	// (never the identity itself), "" for none.
	Who string
	// Terms is the LinkTermsDigest of the terms the payer's page showed,
	// "" when unknown: other terms are ErrLinkChanged.
	Terms string
}

// ErrLinkChanged means the payer tapped on terms (amount, description)
// that are no longer the link's: the merchant changed them after the page
// was shown. Nothing was made; the payer sees the new terms and taps
// again.
var ErrLinkChanged = errors.New("payment link's terms changed since the payer's page")

// LinkTermsDigest names the terms a payer's page shows of l (amount or
// bounds and presets, description): a tap carries it back (LinkTap.Terms)
// so that it never pays on terms the page did not show.
func LinkTermsDigest(l *PaymentLink) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%d\x00%d\x00%s\x00%s", l.Amount, l.MinAmount, l.MaxAmount, joinFen(l.Presets), l.Description)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// CheckSeen is ErrLinkChanged when digest (a page's LinkTermsDigest, ""
// for unknown) names other terms than l's.
func (l *PaymentLink) CheckSeen(digest string) error {
	if digest != "" && digest != LinkTermsDigest(l) {
		return fmt.Errorf("payment link %s: %w", l.ID, ErrLinkChanged)
	}
	return nil
}

// joinFen is amounts as the link's hash stores them: "1000,2000".
func joinFen(a []int64) string {
	s := make([]string, len(a))
	for i, n := range a {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ",")
}
