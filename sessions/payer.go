package sessions

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
)

// StateLifetime bounds how long an OAuth round trip may take.
const StateLifetime = 10 * time.Minute

// Payer is what the checkout remembers about a payer's browser. Changes
// last only once saved with Payers.Save.
type Payer struct {
	// WeChatOpenIDs maps official-account appids to the payer's openid.
	// Snapshot (virtual) openids never go here.
	WeChatOpenIDs map[string]string `json:"wechat_openids,omitempty"`
	// AlipayUserIDs maps Alipay app_ids to the payer's buyer id.
	AlipayUserIDs map[string]string `json:"alipay_user_ids,omitempty"`
	// CSRF is the token the pay action must echo; see CSRFToken.
	CSRF string `json:"csrf,omitempty"`
	// OAuthState is the state of the OAuth round trip in flight, if any.
	OAuthState string `json:"oauth_state,omitempty"`
	// OAuthStateExpires ends the round trip's validity.
	OAuthStateExpires time.Time `json:"oauth_state_expires,omitzero"`
	// OAuthReturn is where to send the payer after the round trip; set by
	// the caller, who must only ever put a local path here.
	OAuthReturn string `json:"oauth_return,omitempty"`
}

// NewState starts an OAuth round trip: a fresh random state, valid for
// StateLifetime, replacing any earlier one.
func (p *Payer) NewState() string {
	p.OAuthState = rand.Text()
	p.OAuthStateExpires = time.Now().Add(StateLifetime)
	return p.OAuthState
}

// CheckState reports whether state is the round trip's state and still
// valid. It compares in constant time and clears the state whatever the
// outcome, so each state is good for one check (save the payer afterwards).
func (p *Payer) CheckState(state string) bool {
	want, expires := p.OAuthState, p.OAuthStateExpires
	p.OAuthState, p.OAuthStateExpires = "", time.Time{}
	if want == "" || state == "" {
		return false
	}
	same := subtle.ConstantTimeCompare([]byte(state), []byte(want)) == 1
	return same && time.Now().Before(expires)
}

// CSRFToken returns the payer's CSRF token, creating it on first use (save
// the payer afterwards).
func (p *Payer) CSRFToken() string {
	if p.CSRF == "" {
		p.CSRF = rand.Text()
	}
	return p.CSRF
}

// CheckCSRF reports, in constant time, whether token is the payer's CSRF
// token. An empty token never matches.
func (p *Payer) CheckCSRF(token string) bool {
	if p.CSRF == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(p.CSRF)) == 1
}

// WeChatOpenID returns the payer's openid under appID, if known.
func (p *Payer) WeChatOpenID(appID string) (string, bool) {
	id, ok := p.WeChatOpenIDs[appID]
	return id, ok && id != ""
}

// SetWeChatOpenID remembers the payer's openid under appID. Never pass a
// snapshot openid.
func (p *Payer) SetWeChatOpenID(appID, openID string) {
	if p.WeChatOpenIDs == nil {
		p.WeChatOpenIDs = make(map[string]string)
	}
	p.WeChatOpenIDs[appID] = openID
}

// AlipayUserID returns the payer's buyer id under the Alipay appID, if known.
func (p *Payer) AlipayUserID(appID string) (string, bool) {
	id, ok := p.AlipayUserIDs[appID]
	return id, ok && id != ""
}

// SetAlipayUserID remembers the payer's buyer id under the Alipay appID.
func (p *Payer) SetAlipayUserID(appID, userID string) {
	if p.AlipayUserIDs == nil {
		p.AlipayUserIDs = make(map[string]string)
	}
	p.AlipayUserIDs[appID] = userID
}

// Payers loads and saves typed payer sessions through a Store.
type Payers struct {
	Store *Store
}

// Load returns the request's payer: the stored one, or a fresh one when the
// cookie is missing, does not verify, or its data has expired. Within one
// request it returns the same *Payer. The only error is Redis failing.
func (ps *Payers) Load(r *http.Request) (*Payer, error) {
	session, err := ps.Store.Get(r, ps.Store.CookieName())
	if err != nil && !errors.Is(err, ErrInvalidCookie) {
		return nil, err
	}
	if p, ok := session.Values[payerKey].(*Payer); ok {
		return p, nil
	}
	p := &Payer{}
	session.Values[payerKey] = p
	return p, nil
}

// Save stores p as the request's payer and sets the cookie on w; call it
// before writing the response body. Nothing is written to w when Redis fails.
func (ps *Payers) Save(w http.ResponseWriter, r *http.Request, p *Payer) error {
	if p == nil {
		return errors.New("sessions: save nil payer")
	}
	session, err := ps.Store.Get(r, ps.Store.CookieName())
	if err != nil && !errors.Is(err, ErrInvalidCookie) {
		return err
	}
	session.Values[payerKey] = p
	return ps.Store.Save(r, w, session)
}

// Destroy deletes the request's session and expires its cookie.
func (ps *Payers) Destroy(w http.ResponseWriter, r *http.Request) error {
	session, err := ps.Store.Get(r, ps.Store.CookieName())
	if err != nil && !errors.Is(err, ErrInvalidCookie) {
		return err
	}
	session.Options.MaxAge = -1
	return ps.Store.Save(r, w, session)
}

// NewPayers builds the Store on client and wraps it.
func NewPayers(client redis.UniversalClient, cfg Config) (*Payers, error) {
	s, err := NewStore(client, cfg)
	if err != nil {
		return nil, err
	}
	return &Payers{Store: s}, nil
}
