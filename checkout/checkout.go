package checkout

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is where a checkout is in its life.
type Status string

// The checkout states. The only moves are open → pending → paid →
// partially_refunded → refunded, open|pending → expired|cancelled, and
// expired|cancelled → paid (marked late): the gateway cannot close JSAPI and
// jump orders, so money can arrive after the merchant gave up.
const (
	StatusOpen              Status = "open"
	StatusPending           Status = "pending"
	StatusPaid              Status = "paid"
	StatusPartiallyRefunded Status = "partially_refunded"
	StatusRefunded          Status = "refunded"
	StatusExpired           Status = "expired"
	StatusCancelled         Status = "cancelled"
)

// statuses is every status, in the order of a checkout's life.
var statuses = []Status{StatusOpen, StatusPending, StatusPaid, StatusPartiallyRefunded, StatusRefunded, StatusExpired, StatusCancelled}

// Statuses lists every status, in the order of a checkout's life.
func Statuses() []Status { return slices.Clone(statuses) }

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(statuses, s) }

// Active reports whether the checkout can still start payments.
func (s Status) Active() bool { return s == StatusOpen || s == StatusPending }

// Paid reports whether money has been confirmed for the checkout: paid,
// and still so after refunds (partially_refunded, refunded). Payers see
// these as paid, they cannot be cancelled, and they never change back.
func (s Status) Paid() bool {
	return s == StatusPaid || s == StatusPartiallyRefunded || s == StatusRefunded
}

// Method is a wallet.
type Method string

// The wallets.
const (
	MethodWeChat Method = "wechat"
	MethodAlipay Method = "alipay"
)

// Valid reports whether m is a known wallet.
func (m Method) Valid() bool { return m == MethodWeChat || m == MethodAlipay }

// Scenario is how an attempt is paid.
type Scenario string

// The payment scenarios.
const (
	ScenarioQR          Scenario = "qr"          // C scans B: a QR code on the page
	ScenarioBarcode     Scenario = "barcode"     // B scans C: the payer's code scanned
	ScenarioJSAPI       Scenario = "jsapi"       // native JS bridge inside the wallet
	ScenarioJump        Scenario = "jump"        // redirect to the gateway's cashier
	ScenarioMiniProgram Scenario = "miniprogram" // wx.requestPayment
)

// Valid reports whether s is a known scenario.
func (s Scenario) Valid() bool {
	switch s {
	case ScenarioQR, ScenarioBarcode, ScenarioJSAPI, ScenarioJump, ScenarioMiniProgram:
		return true
	}
	return false
}

// Cancellable reports whether the gateway can close orders of this scenario
// (paycancel works for barcode orders only).
func (s Scenario) Cancellable() bool { return s == ScenarioBarcode }

// AttemptStatus is where one gateway order is.
type AttemptStatus string

// The attempt states. pending → paid|failed|cancelled|unknown, unknown →
// pending|failed|cancelled, and anything not yet paid → paid when the gateway
// confirms money.
const (
	AttemptPending   AttemptStatus = "pending"
	AttemptPaid      AttemptStatus = "paid"
	AttemptFailed    AttemptStatus = "failed"
	AttemptCancelled AttemptStatus = "cancelled"
	AttemptUnknown   AttemptStatus = "unknown"
)

// Amounts is a checkout's breakdown in fen: Trade = Original − Discount −
// Ignore is what the payer is charged.
type Amounts struct {
	Original int64
	Discount int64
	Ignore   int64
	Trade    int64
}

// MaxFen bounds every amount, far above any real payment, so sums of
// amounts never overflow.
const MaxFen = 1 << 50

// Check is the one rule of a breakdown: the amount charged is positive,
// no part is negative or over MaxFen (which also keeps the sum below from
// overflowing), and Original − Discount − Ignore = Trade. A refusal is a
// *FieldError naming the create API's field; the API checks its request
// with it, and NewCheckout checks every draft.
func (a Amounts) Check() error {
	switch {
	case a.Trade <= 0:
		return &FieldError{Field: "amount", Message: "must be greater than 0 (fen)"}
	case a.Trade > MaxFen:
		return &FieldError{Field: "amount", Message: fmt.Sprintf("must be at most %d fen", int64(MaxFen))}
	}
	for _, p := range []struct {
		field string
		v     int64
	}{{"original_amount", a.Original}, {"discount_amount", a.Discount}, {"ignore_amount", a.Ignore}} {
		if p.v < 0 || p.v > MaxFen {
			return &FieldError{Field: p.field, Message: fmt.Sprintf("must be between 0 and %d (fen)", int64(MaxFen))}
		}
	}
	if a.Original-a.Discount-a.Ignore != a.Trade {
		return &FieldError{Field: "original_amount", Message: "original_amount − discount_amount − ignore_amount must equal amount"}
	}
	return nil
}

// Checkout is one payment a merchant asked for.
type Checkout struct {
	ID          string
	MerchantID  string
	StoreID     string
	Amounts     Amounts
	Description string
	Reference   string
	SuccessURL  string
	CancelURL   string
	LatePolicy  LatePolicy
	WebhookURL  string
	Metadata    map[string]string
	// Wallets lists the wallets the payer may use; empty means every
	// wallet the store enables.
	Wallets []Method
	// PaymentLink is the payment link the checkout was made from ("" for
	// one the merchant's server created).
	PaymentLink  string
	ExpiresAt    time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ClientSecret string
	Status       Status
	// Late is set when money arrived after the checkout expired or was
	// cancelled.
	Late bool
	// LateFrom is the state a late payment came after (expired or
	// cancelled), recorded with the payment; empty when not late (and for
	// late payments recorded before it was kept).
	LateFrom Status
	Refunded int64
	PaidAt   time.Time
	// PaidAttempt is the sequence number of the attempt that paid, 0 when none.
	PaidAttempt int
	// Attempts is how many attempts were created.
	Attempts int
}

// Attempt is one gateway order for a checkout.
type Attempt struct {
	CheckoutID string
	Seq        int
	Method     Method
	Scenario   Scenario
	// OutNo is our serial at the gateway: it leads back to the checkout and
	// this attempt (see ParseOutNo).
	OutNo     string
	OrdNo     string
	Status    AttemptStatus
	Amount    int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// ReturnedUnpaid, when set, is when the payer last came back from the
	// gateway's hosted cashier with its signed word that the order was
	// cancelled (Repo.MarkReturnedUnpaid), until the payer is back on the
	// order (Repo.ClearReturnedUnpaid). The order itself may stay payable
	// at the gateway, so the attempt stays pending and watched; a payer's
	// page reads it as "not completed".
	ReturnedUnpaid time.Time
}

// Errors the package returns; check them with errors.Is.
var (
	// ErrNotFound means no such checkout or attempt (or it outlived retention).
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the input breaks a rule; nothing was stored.
	ErrInvalid = errors.New("invalid")
	// ErrNotAllowed means the checkout's state does not allow the operation.
	ErrNotAllowed = errors.New("not allowed in this state")
)

// FieldError is a draft's field that breaks one of the domain's rules. It
// matches ErrInvalid; Field is the field's name in the API ("reference").
type FieldError struct {
	Field   string
	Message string // what the value must be, e.g. "must be at most 128 characters"
}

func (e *FieldError) Error() string { return "invalid " + e.Field + ": " + e.Message }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// CheckReference applies the rule of a checkout's reference, the merchant's
// own id for it: valid UTF-8, no control characters, at most
// MaxReferenceLen characters (not bytes: a Chinese order number counts each
// character once, as the README promises).
func CheckReference(s string) error {
	return checkText("reference", s, MaxReferenceLen)
}

// CheckDescription applies the rule of a checkout's description, the text the
// payer reads on the page and in the wallet: valid UTF-8, no control
// characters (they would reach the page and the gateway's order name), at
// most MaxDescriptionLen characters (not bytes).
func CheckDescription(s string) error {
	return checkText("description", s, MaxDescriptionLen)
}

// CheckMetadata applies the rule of a checkout's metadata, the merchant's
// own key-value pairs given back in the API and in webhooks: at most
// MaxMetadata pairs, keys of 1 to MaxMetadataKeyLen bytes, values of at most
// MaxMetadataValLen bytes, all valid UTF-8 without control characters (a
// NUL, CR or LF would reach the merchant's logs and CSV exports as is).
func CheckMetadata(m map[string]string) error {
	if len(m) > MaxMetadata {
		return &FieldError{Field: "metadata", Message: fmt.Sprintf("at most %d pairs", MaxMetadata)}
	}
	for k, v := range m {
		if k == "" || len(k) > MaxMetadataKeyLen || !printable(k) {
			return &FieldError{Field: "metadata", Message: fmt.Sprintf("keys must be 1-%d bytes of printable text", MaxMetadataKeyLen)}
		}
		if len(v) > MaxMetadataValLen || !printable(v) {
			return &FieldError{Field: "metadata", Message: fmt.Sprintf("values must be at most %d bytes of text without control characters", MaxMetadataValLen)}
		}
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// checkText is the rule of a free-text field shown to people and merchants.
func checkText(field, s string, maxRunes int) error {
	switch {
	case !utf8.ValidString(s):
		return &FieldError{Field: field, Message: "must be valid UTF-8"}
	case utf8.RuneCountInString(s) > maxRunes:
		return &FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters", maxRunes)}
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return &FieldError{Field: field, Message: "must not contain control characters"}
	}
	return nil
}

// idPrefix starts every checkout id.
const idPrefix = "co_"

// idRandomLen is the random part of an id: 24 base62 characters, about 143
// bits, so ids cannot be guessed.
const idRandomLen = 24

// clientSecretRandomLen is the random part of a client secret.
const clientSecretRandomLen = 32

// NewID returns a fresh checkout id.
func NewID() (string, error) {
	var b [len(idPrefix) + idRandomLen]byte
	copy(b[:], idPrefix)
	if err := fillBase62(b[len(idPrefix):]); err != nil {
		return "", fmt.Errorf("new checkout id: %w", err)
	}
	return string(b[:]), nil
}

// ValidID reports whether s has the shape of a checkout id. Handlers check it
// before touching Redis so garbage never becomes a key.
func ValidID(s string) bool {
	if len(s) != len(idPrefix)+idRandomLen || !strings.HasPrefix(s, idPrefix) {
		return false
	}
	return isAlnum(s[len(idPrefix):])
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// OutNo is the gateway out_no of a checkout's attempt: the id's random part
// followed by the attempt number, letters and digits only. Ids are unique, so
// out_nos are unique per store (and everywhere).
func OutNo(checkoutID string, seq int) string {
	return checkoutID[len(idPrefix):] + strconv.Itoa(seq)
}

// ParseOutNo finds the checkout and attempt an out_no belongs to.
func ParseOutNo(outNo string) (checkoutID string, seq int, ok bool) {
	if len(outNo) <= idRandomLen || len(outNo) > idRandomLen+9 {
		return "", 0, false
	}
	id, num := idPrefix+outNo[:idRandomLen], outNo[idRandomLen:]
	if !ValidID(id) || num[0] == '0' {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return id, n, true
}

// CheckoutIDFromClientSecret returns the checkout a client secret claims to
// belong to; verify it with VerifyClientSecret.
func CheckoutIDFromClientSecret(secret string) (string, bool) {
	id, _, ok := strings.Cut(secret, "_secret_")
	if !ok || !ValidID(id) {
		return "", false
	}
	return id, true
}

// VerifyClientSecret compares a presented client secret in constant time.
func (c *Checkout) VerifyClientSecret(secret string) bool {
	return c.ClientSecret != "" && subtle.ConstantTimeCompare([]byte(c.ClientSecret), []byte(secret)) == 1
}

// Draft is what a new checkout is made from. Handlers validate the API-level
// rules (URLs, hosts, limits); NewCheckout checks the domain's.
type Draft struct {
	MerchantID  string
	StoreID     string
	Amounts     Amounts
	Description string
	Reference   string
	SuccessURL  string
	CancelURL   string
	LatePolicy  LatePolicy
	WebhookURL  string
	Metadata    map[string]string
	Wallets     []Method
	TTL         time.Duration
	// PaymentLink is the link the checkout is made from (DraftFromLink).
	PaymentLink string
}

// Limits of a draft.
const (
	MaxDescriptionLen = 100 // characters
	MaxReferenceLen   = 128 // characters
	MinTTL            = time.Minute
	MaxTTL            = 24 * time.Hour
	DefaultTTL        = 30 * time.Minute
	MaxMetadata       = 20
	MaxMetadataKeyLen = 40
	MaxMetadataValLen = 500
)

// CheckoutIDPlaceholder in a success or cancel URL is replaced by the id.
const CheckoutIDPlaceholder = "{CHECKOUT_ID}"

// NewCheckout makes an open checkout from a draft: a fresh id and client
// secret, the placeholder replaced in its URLs, expiry = now + TTL.
func NewCheckout(d *Draft, now time.Time) (*Checkout, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	id, err := NewID()
	if err != nil {
		return nil, err
	}
	sec, err := randomBase62(clientSecretRandomLen)
	if err != nil {
		return nil, fmt.Errorf("new client secret: %w", err)
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	now = now.Truncate(time.Millisecond)
	c := &Checkout{
		ID:           id,
		MerchantID:   d.MerchantID,
		StoreID:      d.StoreID,
		Amounts:      d.Amounts,
		Description:  d.Description,
		Reference:    d.Reference,
		SuccessURL:   strings.ReplaceAll(d.SuccessURL, CheckoutIDPlaceholder, id),
		CancelURL:    strings.ReplaceAll(d.CancelURL, CheckoutIDPlaceholder, id),
		LatePolicy:   d.LatePolicy,
		WebhookURL:   d.WebhookURL,
		Metadata:     d.Metadata,
		Wallets:      d.Wallets,
		PaymentLink:  d.PaymentLink,
		ExpiresAt:    now.Add(ttl),
		CreatedAt:    now,
		UpdatedAt:    now,
		ClientSecret: id + "_secret_" + sec,
		Status:       StatusOpen,
	}
	return c, nil
}

func (d *Draft) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if d.MerchantID == "" || d.StoreID == "" {
		return bad("merchant and store are required")
	}
	if err := d.Amounts.Check(); err != nil {
		return err
	}
	if err := CheckDescription(d.Description); err != nil {
		return err
	}
	if err := CheckReference(d.Reference); err != nil {
		return err
	}
	if !d.LatePolicy.Valid() {
		return bad("late policy %q", d.LatePolicy)
	}
	if d.TTL != 0 && (d.TTL < MinTTL || d.TTL > MaxTTL) {
		return bad("expiry must be between %s and %s", MinTTL, MaxTTL)
	}
	if err := CheckMetadata(d.Metadata); err != nil {
		return err
	}
	if d.PaymentLink != "" && !ValidLinkID(d.PaymentLink) {
		return bad("payment link %.40q", d.PaymentLink)
	}
	for _, w := range d.Wallets {
		if !w.Valid() {
			return bad("wallet %q", w)
		}
	}
	return nil
}

// Allows reports whether the payer may use wallet m.
func (c *Checkout) Allows(m Method) bool {
	if len(c.Wallets) == 0 {
		return true
	}
	for _, w := range c.Wallets {
		if w == m {
			return true
		}
	}
	return false
}
