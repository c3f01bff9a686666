package wallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Default WeChat endpoints.
const (
	DefaultWeChatAuthorizeBase = "https://open.weixin.qq.com"
	DefaultWeChatAPIBase       = "https://api.weixin.qq.com"
)

// WeChat error codes the checkout reacts to. The full list is WeChat's
// "全局返回码" page.
const (
	// WeChatBusy means the WeChat system is busy; retry later.
	WeChatBusy = -1
	// WeChatInvalidAppID means the appid is unknown.
	WeChatInvalidAppID = 40013
	// WeChatInvalidCode means the code is unknown, expired or for another app.
	WeChatInvalidCode = 40029
	// WeChatInvalidSecret is the "invalid appsecret" answer of the OAuth
	// endpoints.
	WeChatInvalidSecret = 40125
	// WeChatCodeUsed means the code was already exchanged: OAuth codes are
	// single-use, so a refresh of the callback page gets this.
	WeChatCodeUsed = 40163
	// WeChatHighRiskUser means WeChat refuses a mini-program login for a
	// high-risk user.
	WeChatHighRiskUser = 40226
	// WeChatRateLimited means the per-minute quota of the call is used up.
	WeChatRateLimited = 45011
)

// WeChatError is an {errcode, errmsg} answer from WeChat.
type WeChatError struct {
	Code int
	Msg  string
}

// Error reports the errcode and errmsg as WeChat sent them.
func (e *WeChatError) Error() string {
	return fmt.Sprintf("wechat errcode %d: %s", e.Code, e.Msg)
}

// IsWeChatError reports whether err is, or wraps, a *WeChatError with code.
func IsWeChatError(err error, code int) bool {
	var we *WeChatError
	return errors.As(err, &we) && we.Code == code
}

// WeChat talks to WeChat's official-account OAuth2 and mini-program login
// endpoints. The zero value talks to WeChat itself with a client of
// DefaultTimeout; set the bases to point it at the emulator.
type WeChat struct {
	// AuthorizeBase is where payers' browsers are sent to authorize;
	// default DefaultWeChatAuthorizeBase.
	AuthorizeBase string
	// APIBase is where codes are exchanged; default DefaultWeChatAPIBase.
	APIBase string
	// HTTP sends the exchange calls and owns their timeouts; nil means a
	// client with DefaultTimeout.
	HTTP *http.Client
}

// OAuthIdentity is who a payer is to an official account.
type OAuthIdentity struct {
	OpenID  string
	UnionID string
	Scope   string
	// Snapshot is true on a Moments snapshot page (is_snapshotuser=1): the
	// openid is virtual, and callers must never pay with it; the payer has to
	// open the full page ("使用完整服务") first.
	Snapshot bool
}

// MiniIdentity is who a payer is to a mini-program. The session_key WeChat
// returns alongside is dropped inside Code2Session.
type MiniIdentity struct {
	OpenID  string
	UnionID string
}

func (c *WeChat) authorizeBase() string {
	if c.AuthorizeBase != "" {
		return c.AuthorizeBase
	}
	return DefaultWeChatAuthorizeBase
}

func (c *WeChat) apiBase() string {
	if c.APIBase != "" {
		return c.APIBase
	}
	return DefaultWeChatAPIBase
}

// Validate reports whether the configured base URLs are usable; call it at
// start-up, since AuthorizeURL cannot return an error.
func (c *WeChat) Validate() error {
	if _, err := endpoint(c.authorizeBase(), "/"); err != nil {
		return fmt.Errorf("wechat authorize %w", err)
	}
	if _, err := endpoint(c.apiBase(), "/"); err != nil {
		return fmt.Errorf("wechat api %w", err)
	}
	return nil
}

// AuthorizeURL is where to send a payer's browser (inside WeChat) to obtain a
// snsapi_base code for appID; WeChat comes back to redirectURI with code and
// state. It returns "" when AuthorizeBase is not a valid URL (see Validate).
func (c *WeChat) AuthorizeURL(appID, redirectURI, state string) string {
	u, err := endpoint(c.authorizeBase(), "/connect/oauth2/authorize")
	if err != nil {
		return ""
	}
	// WeChat insists on this parameter order; it happens to be the sorted
	// order that url.Values.Encode writes, and the golden test pins it.
	q := url.Values{
		"appid":         {appID},
		"redirect_uri":  {redirectURI},
		"response_type": {"code"},
		"scope":         {"snsapi_base"},
		"state":         {state},
	}
	u.RawQuery = q.Encode()
	u.Fragment = "wechat_redirect"
	return u.String()
}

// wechatAnswer is the union of the two endpoints' answers. The tokens and the
// session key are decoded only to be dropped.
type wechatAnswer struct {
	ErrCode        int    `json:"errcode"`
	ErrMsg         string `json:"errmsg"`
	OpenID         string `json:"openid"`
	UnionID        string `json:"unionid"`
	Scope          string `json:"scope"`
	IsSnapshotUser int    `json:"is_snapshotuser"`
}

// decodeWeChat turns an answer body into wechatAnswer or a *WeChatError.
func decodeWeChat(body []byte) (wechatAnswer, error) {
	var a wechatAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
	}
	if a.ErrCode != 0 {
		return a, &WeChatError{Code: a.ErrCode, Msg: a.ErrMsg}
	}
	if a.OpenID == "" {
		return a, fmt.Errorf("%w: no openid", ErrMalformedResponse)
	}
	return a, nil
}

// ExchangeCode trades an OAuth2 code from the authorize redirect for the
// payer's openid. Errors: *WeChatError for WeChat's answers (WeChatCodeUsed
// when the code was already used, WeChatInvalidCode for an unknown one),
// ErrMalformedResponse, ErrResponseTooLarge, or a transport error.
func (c *WeChat) ExchangeCode(ctx context.Context, appID string, secret string, code string) (OAuthIdentity, error) {
	if appID == "" || code == "" {
		return OAuthIdentity{}, errors.New("wechat oauth: appid and code are required")
	}
	u, err := endpoint(c.apiBase(), "/sns/oauth2/access_token")
	if err != nil {
		return OAuthIdentity{}, fmt.Errorf("wechat oauth: %w", err)
	}
	req, err := newGet(ctx, u, url.Values{
		"appid":      {appID},
		"secret":     {secret},
		"code":       {code},
		"grant_type": {"authorization_code"},
	})
	if err != nil {
		return OAuthIdentity{}, fmt.Errorf("wechat oauth %s: %w", appID, err)
	}
	body, err := do(c.HTTP, req)
	if err != nil {
		return OAuthIdentity{}, fmt.Errorf("wechat oauth %s: %w", appID, err)
	}
	a, err := decodeWeChat(body)
	if err != nil {
		return OAuthIdentity{}, fmt.Errorf("wechat oauth %s: %w", appID, err)
	}
	return OAuthIdentity{OpenID: a.OpenID, UnionID: a.UnionID, Scope: a.Scope, Snapshot: a.IsSnapshotUser == 1}, nil
}

// Code2Session trades a mini-program wx.login code for the payer's openid
// under appID. Errors as for ExchangeCode.
func (c *WeChat) Code2Session(ctx context.Context, appID string, secret string, jsCode string) (MiniIdentity, error) {
	if appID == "" || jsCode == "" {
		return MiniIdentity{}, errors.New("wechat code2session: appid and code are required")
	}
	u, err := endpoint(c.apiBase(), "/sns/jscode2session")
	if err != nil {
		return MiniIdentity{}, fmt.Errorf("wechat code2session: %w", err)
	}
	req, err := newGet(ctx, u, url.Values{
		"appid":      {appID},
		"secret":     {secret},
		"js_code":    {jsCode},
		"grant_type": {"authorization_code"},
	})
	if err != nil {
		return MiniIdentity{}, fmt.Errorf("wechat code2session %s: %w", appID, err)
	}
	body, err := do(c.HTTP, req)
	if err != nil {
		return MiniIdentity{}, fmt.Errorf("wechat code2session %s: %w", appID, err)
	}
	a, err := decodeWeChat(body)
	if err != nil {
		return MiniIdentity{}, fmt.Errorf("wechat code2session %s: %w", appID, err)
	}
	return MiniIdentity{OpenID: a.OpenID, UnionID: a.UnionID}, nil
}
