package sessions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// Payer is what the checkout remembers about a payer's browser: the wallet
// identities its OAuth round trips found. Changes last only once saved with
// Payers.Save.
type Payer struct {
	// WeChatOpenIDs maps official-account appids to the payer's openid.
	// Snapshot (virtual) openids never go here.
	WeChatOpenIDs map[string]string `json:"wechat_openids,omitempty"`
	// AlipayUserIDs maps Alipay app_ids to the payer's buyer id.
	AlipayUserIDs map[string]string `json:"alipay_user_ids,omitempty"`

	// sessionID is the stored session's id ("" for a payer with none).
	sessionID string
	// renewDue: the stored session's lifetime should be renewed.
	renewDue bool
}

// SessionID is the id of the payer's stored session, "" when the request
// had none (no cookie, or one whose session has expired). It binds the
// pages' CSRF tokens to the browser; it is never shown.
func (p *Payer) SessionID() string { return p.sessionID }

// HasIdentity reports whether the payer has any wallet identity: what makes
// a session worth keeping for DefaultMaxAge.
func (p *Payer) HasIdentity() bool {
	for _, m := range []map[string]string{p.WeChatOpenIDs, p.AlipayUserIDs} {
		for _, id := range m {
			if id != "" {
				return true
			}
		}
	}
	return false
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

// Payers loads and saves typed payer sessions through a Store, without
// gorilla's per-request registry: the pages load the payer once, in their
// opening step.
type Payers struct {
	Store *Store
}

// Queue queues on pipe the read of the session the request's cookie names,
// so that it shares a Redis round trip with the page's other reads, and
// returns what gives the payer once pipe has run. Without a cookie that
// verifies it queues nothing (queued is false) and load gives a fresh
// payer: a plain view costs Redis nothing. load's only error is Redis
// failing. A loaded session due for renewal is renewed by load (one more
// Redis call, about once a day for an active payer) and its cookie set
// again on w.
func (ps *Payers) Queue(ctx context.Context, pipe redis.Pipeliner, r *http.Request) (queued bool, load func(w http.ResponseWriter) (*Payer, error)) {
	queued, read := ps.queue(ctx, pipe, r)
	return queued, func(w http.ResponseWriter) (*Payer, error) {
		p, err := read()
		if err != nil || !p.renewDue {
			return p, err
		}
		if err := ps.renew(ctx, w, p); err != nil {
			return nil, err
		}
		return p, nil
	}
}

// queue is Queue without the renewal.
func (ps *Payers) queue(ctx context.Context, pipe redis.Pipeliner, r *http.Request) (bool, func() (*Payer, error)) {
	s := ps.Store
	id, _ := s.cookieID(r, s.name) // a cookie that does not verify: a fresh payer
	if id == "" {
		return false, func() (*Payer, error) { return &Payer{}, nil }
	}
	l := s.queue(ctx, pipe, id)
	return true, func() (*Payer, error) {
		p, err := l.result(ctx)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return &Payer{}, nil
		}
		return p, nil
	}
}

// HasCookie reports whether the request carries a session cookie at all
// (verified or not): only then is there a session to read.
func (ps *Payers) HasCookie(r *http.Request) bool {
	_, err := r.Cookie(ps.Store.name)
	return err == nil
}

// Load returns the request's payer: the stored one, or a fresh one when the
// cookie is missing, does not verify, or its data has expired. It reads
// Redis only with a cookie that verifies, and renews nothing (the pages
// load with Queue). The only error is Redis failing.
func (ps *Payers) Load(r *http.Request) (*Payer, error) {
	ctx := r.Context()
	pipe := ps.Store.client.Pipeline()
	queued, read := ps.queue(ctx, pipe, r)
	if queued {
		_, _ = pipe.Exec(ctx) // each command keeps its own error
	}
	return read()
}

// Save stores p as the request's payer, for the lifetime its class has, and
// sets the cookie on w; call it before writing the response body. A payer
// loaded from a session keeps its id; any other gets a new one. Nothing is
// written to w when Redis fails.
func (ps *Payers) Save(w http.ResponseWriter, r *http.Request, p *Payer) error {
	if p == nil {
		return errors.New("sessions: save nil payer")
	}
	s := ps.Store
	data, _, err := encodeValues(map[any]any{payerKey: p})
	if err != nil {
		return err
	}
	id := p.sessionID
	if id == "" {
		id = newID()
	}
	ttl := s.lifetime(p)
	if err := s.client.Set(r.Context(), s.prefix+id, data, ttl).Err(); err != nil {
		return fmt.Errorf("sessions: save: %w", err)
	}
	p.sessionID, p.renewDue = id, false
	return s.setCookie(w, s.name, id, s.cookieOptions(ttl))
}

// renew extends p's stored session to its full lifetime and sets its cookie
// again.
func (ps *Payers) renew(ctx context.Context, w http.ResponseWriter, p *Payer) error {
	s := ps.Store
	ttl := s.lifetime(p)
	if err := s.client.PExpire(ctx, s.prefix+p.sessionID, ttl).Err(); err != nil {
		return fmt.Errorf("sessions: renew: %w", err)
	}
	p.renewDue = false
	return s.setCookie(w, s.name, p.sessionID, s.cookieOptions(ttl))
}

// Destroy deletes the request's session and expires its cookie.
func (ps *Payers) Destroy(w http.ResponseWriter, r *http.Request) error {
	s := ps.Store
	if id, _ := s.cookieID(r, s.name); id != "" {
		if err := s.client.Del(r.Context(), s.prefix+id).Err(); err != nil {
			return fmt.Errorf("sessions: delete: %w", err)
		}
	}
	opts := *s.Options
	opts.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(s.name, "", &opts))
	return nil
}

// cookieOptions are the store's cookie options with the lifetime ttl.
func (s *Store) cookieOptions(ttl time.Duration) *sessions.Options {
	opts := *s.Options
	opts.MaxAge = int(ttl / time.Second)
	return &opts
}

// NewPayers builds the Store on client and wraps it.
func NewPayers(client redis.UniversalClient, cfg Config) (*Payers, error) {
	s, err := NewStore(client, cfg)
	if err != nil {
		return nil, err
	}
	return &Payers{Store: s}, nil
}
