package checkout

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// LatePolicy says what happens to money that arrives after a checkout expired
// or was cancelled: the gateway cannot close JSAPI and jump orders, so such
// payments happen.
type LatePolicy string

// The late-payment policies.
const (
	// LatePolicyAccept keeps the late payment: the checkout becomes paid (late).
	LatePolicyAccept LatePolicy = "accept"
	// LatePolicyRefund refunds the late payment automatically.
	LatePolicyRefund LatePolicy = "refund"
)

// Valid reports whether p is a known policy.
func (p LatePolicy) Valid() bool { return p == LatePolicyAccept || p == LatePolicyRefund }

// DefaultLatePolicy applies where neither the checkout nor its store names
// a policy: the money is kept, as the payer meant to pay.
const DefaultLatePolicy = LatePolicyAccept

// EffectiveLatePolicy is the one answer to "what happens to a late
// payment?": the first valid policy of choices, most specific first (the
// checkout's, then its store's), else DefaultLatePolicy.
func EffectiveLatePolicy(choices ...LatePolicy) LatePolicy {
	for _, p := range choices {
		if p.Valid() {
			return p
		}
	}
	return DefaultLatePolicy
}

// WalletMode is how a wallet's in-app browser pays: natively through the JS
// bridge (we resolve the payer's id first) or by redirecting to the gateway's
// cashier page.
type WalletMode string

// The wallet modes.
const (
	// ModeNative calls payorder with JSAPI and hands the parameters to the bridge.
	ModeNative WalletMode = "native"
	// ModeRedirect calls payorder with jump_url and redirects to jsapi_pay_url.
	ModeRedirect WalletMode = "redirect"
)

// Valid reports whether m is a known mode.
func (m WalletMode) Valid() bool { return m == ModeNative || m == ModeRedirect }

// WeChatConfig is one store's WeChat Pay set-up.
type WeChatConfig struct {
	Enabled bool
	Mode    WalletMode
	// AppID and AppSecret are the official account's, for snsapi_base OAuth.
	AppID     string
	AppSecret Secret
	// MiniProgramAppID and MiniProgramSecret are for code2session.
	MiniProgramAppID  string
	MiniProgramSecret Secret
	// PmtTag overrides the gateway pay-method tag; empty means take it from paylist.
	PmtTag string
}

// AlipayConfig is one store's Alipay set-up.
type AlipayConfig struct {
	Enabled bool
	Mode    WalletMode
	AppID   string
	// PrivateKey is the app's RSA2 private key, PEM.
	PrivateKey Secret
	// AlipayPublicKey is Alipay's public key, PEM, to verify its answers.
	AlipayPublicKey string
	// PmtTag overrides the gateway pay-method tag; empty means take it from paylist.
	PmtTag string
}

// Store is one of a merchant's stores and the wallets it takes. Its
// account at the gateway (open_id, open_key) is not here: the use cases
// keep it (payments.Accounts), so that the domain knows no protocol.
type Store struct {
	ID         string
	Name       string
	Sandbox    bool
	WeChat     WeChatConfig
	Alipay     AlipayConfig
	LatePolicy LatePolicy
}

// APIKey is a merchant API key as stored: never the key itself.
type APIKey struct {
	// ID is a short public identifier (the key's first 12 characters), safe to log.
	ID string
	// Hash is the hex sha256 of the whole key.
	Hash string
	// Live is true for sk_live_ keys (real stores), false for sk_test_ ones.
	Live bool
	// Label and Hint, optional, tell people which key this is in the
	// console: a name, and the key's prefix and last four characters
	// (KeyHint), as `checkout hash-key` prints them.
	Label, Hint string
}

// Merchant is a merchant: its API keys, webhook, allowed redirect hosts and
// stores.
type Merchant struct {
	ID   string
	Name string
	// RegisteredName is the merchant's registered (legal) name, shown to
	// payers beside the short code on a payment link's page, its poster
	// and the checkouts it makes, so that a sticker pasted over a printed
	// code, which leads to someone else's page, is noticed. Optional.
	RegisteredName string
	APIKeys        []APIKey
	WebhookURL     string
	WebhookSecrets []Secret
	// RedirectHosts are the hosts success and cancel URLs may point to.
	RedirectHosts []string
	// Stores[0] is the default store.
	Stores []*Store
	// MaxAmount is the largest checkout in fen; 0 means the service default.
	MaxAmount int64
	// LogoURL is where the merchant's logo is fetched at start (web/logos);
	// "" shows its initial.
	LogoURL string
	// Console is who may sign in to the merchant console for this
	// merchant, and what support may refund there.
	Console Console
}

// Role is what a console user may do.
type Role string

// The console's roles, each allowed what the one before it is and more.
const (
	// RoleViewer reads payments, events and the audit log.
	RoleViewer Role = "viewer"
	// RoleSupport also refunds (within Console.SupportLimits) and resends
	// webhooks.
	RoleSupport Role = "support"
	// RoleAdmin may do everything, refunds without the support limits.
	RoleAdmin Role = "admin"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleViewer || r == RoleSupport || r == RoleAdmin }

// CanRefund reports whether r may refund at all.
func (r Role) CanRefund() bool { return r == RoleSupport || r == RoleAdmin }

// RefundLimits bound what a support user refunds, in fen; 0 means no
// refund at all for that bound's scope.
type RefundLimits struct {
	// PerRefund is the largest single refund.
	PerRefund int64
	// PerDay is the most one merchant's support users refund in a day
	// (UTC+8), all together.
	PerDay int64
}

// Console is a merchant's console access.
type Console struct {
	Users []*ConsoleUser
	// SupportLimits bound support users' refunds; admins have none.
	SupportLimits RefundLimits
}

// ConsoleUser is one person who signs in to the console.
type ConsoleUser struct {
	// Email is the sign-in name, lower case; unique across the directory.
	Email string
	// PasswordHash is the argon2id PHC string `checkout hash-password`
	// prints; the password itself is never stored.
	PasswordHash string
	Role         Role
	// TOTPSecret, when set, is the base32 secret of the user's one-time
	// codes (asked for after the password).
	TOTPSecret Secret
}

// DefaultStore returns the merchant's first store, or nil when it has none.
func (m *Merchant) DefaultStore() *Store {
	if len(m.Stores) == 0 {
		return nil
	}
	return m.Stores[0]
}

// Store finds one of the merchant's stores by id.
func (m *Merchant) Store(id string) (*Store, bool) {
	for _, s := range m.Stores {
		if s.ID == id {
			return s, true
		}
	}
	return nil, false
}

// The API key prefixes: people and secret scanners can tell them apart.
const (
	TestKeyPrefix = "sk_test_"
	LiveKeyPrefix = "sk_live_"
)

// apiKeyRandomLen is the random part of an API key: 40 base62 characters,
// about 238 bits.
const apiKeyRandomLen = 40

// APIKeyIDLen is how many leading characters of a key form its public ID.
const APIKeyIDLen = 12

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// HashAPIKey returns the hex sha256 of key, as stored in APIKey.Hash.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewAPIKey makes a fresh API key: sk_test_ or sk_live_ and 40 random base62
// characters.
func NewAPIKey(live bool) (string, error) {
	r, err := randomBase62(apiKeyRandomLen)
	if err != nil {
		return "", fmt.Errorf("new api key: %w", err)
	}
	if live {
		return LiveKeyPrefix + r, nil
	}
	return TestKeyPrefix + r, nil
}

// APIKeyFor returns the stored form of key.
func APIKeyFor(key string) APIKey {
	id := key
	if len(id) > APIKeyIDLen {
		id = id[:APIKeyIDLen]
	}
	return APIKey{ID: id, Hash: HashAPIKey(key), Live: strings.HasPrefix(key, LiveKeyPrefix)}
}

// randomBase62 returns n uniformly random base62 characters.
func randomBase62(n int) (string, error) {
	b := make([]byte, n)
	if err := fillBase62(b); err != nil {
		return "", err
	}
	return string(b), nil
}

// fillBase62 fills b with uniformly random base62 characters, rejecting bytes
// ≥ 248 so every character is equally likely.
func fillBase62(b []byte) error {
	var buf [64]byte
	i := 0
	for i < len(b) {
		if _, err := rand.Read(buf[:]); err != nil {
			return err
		}
		for _, c := range buf {
			if c >= 248 {
				continue
			}
			b[i] = base62[c%62]
			i++
			if i == len(b) {
				break
			}
		}
	}
	return nil
}

// Directory is the set of merchants the service serves, indexed for the
// lookups requests need. It is safe for concurrent use. Its content is
// read-only; Replace swaps all of it at once (a reload of the merchants
// file), so every holder of the *Directory sees the new merchants without
// being rebuilt, and a request sees either the old set or the new one.
type Directory struct {
	idx atomic.Pointer[dirIndex]
}

// dirIndex is one version of a Directory's content, never changed once
// published.
type dirIndex struct {
	merchants []*Merchant
	byID      map[string]*Merchant
	byKeyHash map[string]*Merchant
	byEmail   map[string]consoleEntry
}

// consoleEntry is a console user with the merchant it belongs to.
type consoleEntry struct {
	merchant *Merchant
	user     *ConsoleUser
}

// Replace makes d serve next's merchants from now on. next should not be
// used afterwards except through d.
func (d *Directory) Replace(next *Directory) {
	d.idx.Store(next.idx.Load())
}

// ErrInvalidDirectory is wrapped by every NewDirectory error.
var ErrInvalidDirectory = errors.New("invalid merchant directory")

// NewDirectory checks the merchants and indexes them. Merchant ids, API keys
// and store open_ids must be unique across the directory; store ids unique
// within a merchant; every merchant needs at least one store.
func NewDirectory(ms []*Merchant) (*Directory, error) {
	d := &dirIndex{
		byID:      make(map[string]*Merchant, len(ms)),
		byKeyHash: make(map[string]*Merchant),
		byEmail:   make(map[string]consoleEntry),
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidDirectory}, args...)...)
	}
	for i, m := range ms {
		if m == nil {
			return nil, bad("merchants[%d] is empty", i)
		}
		if !validToken(m.ID, 64) {
			return nil, bad("merchants[%d].id %q must be 1-64 letters, digits, '_' or '-'", i, m.ID)
		}
		if _, dup := d.byID[m.ID]; dup {
			return nil, bad("merchant id %q is used twice", m.ID)
		}
		d.byID[m.ID] = m
		if m.MaxAmount < 0 {
			return nil, bad("merchant %s: max_amount is negative", m.ID)
		}
		for j, k := range m.APIKeys {
			h, err := hex.DecodeString(k.Hash)
			if err != nil || len(h) != sha256.Size {
				return nil, bad("merchant %s: api_keys[%d] (%s): hash is not a hex sha256", m.ID, j, k.ID)
			}
			k.Hash = strings.ToLower(k.Hash)
			if _, dup := d.byKeyHash[k.Hash]; dup {
				return nil, bad("merchant %s: api_keys[%d] (%s) is used twice", m.ID, j, k.ID)
			}
			d.byKeyHash[k.Hash] = m
		}
		if len(m.Stores) == 0 {
			return nil, bad("merchant %s has no store", m.ID)
		}
		seen := make(map[string]bool, len(m.Stores))
		for j, s := range m.Stores {
			if s == nil {
				return nil, bad("merchant %s: stores[%d] is empty", m.ID, j)
			}
			if !validToken(s.ID, 64) {
				return nil, bad("merchant %s: stores[%d].id %q must be 1-64 letters, digits, '_' or '-'", m.ID, j, s.ID)
			}
			if seen[s.ID] {
				return nil, bad("merchant %s: store id %q is used twice", m.ID, s.ID)
			}
			seen[s.ID] = true
			if s.LatePolicy != "" && !s.LatePolicy.Valid() {
				return nil, bad("merchant %s: store %s: late_policy %q must be accept or refund", m.ID, s.ID, s.LatePolicy)
			}
			s.LatePolicy = EffectiveLatePolicy(s.LatePolicy)
			for name, w := range map[string]WalletMode{"wechat": s.WeChat.Mode, "alipay": s.Alipay.Mode} {
				if w != "" && !w.Valid() {
					return nil, bad("merchant %s: store %s: %s.mode %q must be native or redirect", m.ID, s.ID, name, w)
				}
			}
		}
		for j, u := range m.Console.Users {
			switch {
			case u == nil || u.Email == "" || u.Email != strings.ToLower(u.Email):
				return nil, bad("merchant %s: console.users[%d] needs a lower-case email", m.ID, j)
			case !u.Role.Valid():
				return nil, bad("merchant %s: console.users[%d].role %q must be viewer, support or admin", m.ID, j, u.Role)
			case u.PasswordHash == "":
				return nil, bad("merchant %s: console.users[%d] has no password hash", m.ID, j)
			}
			if _, dup := d.byEmail[u.Email]; dup {
				return nil, bad("merchant %s: console.users[%d]: email %q is used twice", m.ID, j, u.Email)
			}
			d.byEmail[u.Email] = consoleEntry{m, u}
		}
		d.merchants = append(d.merchants, m)
	}
	out := &Directory{}
	out.idx.Store(d)
	return out, nil
}

// validToken reports whether s is 1..max letters, digits, '_' or '-'.
func validToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Authenticate finds the merchant an API key belongs to. Keys are compared by
// their sha256, so the lookup's timing says nothing about the stored keys.
func (d *Directory) Authenticate(apiKey string) (*Merchant, bool) {
	if apiKey == "" || len(apiKey) > 256 {
		return nil, false
	}
	m, ok := d.idx.Load().byKeyHash[HashAPIKey(apiKey)]
	return m, ok
}

// Merchant finds a merchant by id.
func (d *Directory) Merchant(id string) (*Merchant, bool) {
	m, ok := d.idx.Load().byID[id]
	return m, ok
}

// ConsoleUser finds a console user by email (compared in lower case) and
// the merchant it belongs to.
func (d *Directory) ConsoleUser(email string) (*Merchant, *ConsoleUser, bool) {
	e, ok := d.idx.Load().byEmail[strings.ToLower(strings.TrimSpace(email))]
	if !ok {
		return nil, nil, false
	}
	return e.merchant, e.user, true
}

// Merchants returns every merchant, in configuration order.
func (d *Directory) Merchants() []*Merchant { return d.idx.Load().merchants }

// Store finds one merchant's store by id.
func (d *Directory) Store(merchantID, storeID string) (*Store, bool) {
	m, ok := d.idx.Load().byID[merchantID]
	if !ok {
		return nil, false
	}
	return m.Store(storeID)
}
