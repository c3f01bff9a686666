package wallet

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Default Alipay endpoints.
const (
	DefaultAlipayAuthorizeBase = "https://openauth.alipay.com"
	DefaultAlipayGatewayURL    = "https://openapi.alipay.com/gateway.do"
)

// AlipayCodeInvalid is the sub_code Alipay answers for an auth_code that is
// unknown, expired or already used.
const AlipayCodeInvalid = "isv.code-invalid"

// alipayTimeFormat is the layout of the timestamp parameter, in China time.
const alipayTimeFormat = "2006-01-02 15:04:05"

// chinaTime is UTC+8 all year: China has no daylight saving, and a fixed zone
// works on hosts without tzdata.
var chinaTime = time.FixedZone("CST", 8*60*60)

// tokenMember is the member of Alipay's answer that carries, and is signed
// for, the result of alipay.system.oauth.token.
const tokenMember = "alipay_system_oauth_token_response"

// AlipayError is an error_response from Alipay's gateway, or a failure code
// inside the method's own member.
type AlipayError struct {
	Code    string
	Msg     string
	SubCode string
	SubMsg  string
}

// Error reports the codes and messages as Alipay sent them.
func (e *AlipayError) Error() string {
	return fmt.Sprintf("alipay %s %s: %s %s", e.Code, e.Msg, e.SubCode, e.SubMsg)
}

// IsAlipayError reports whether err is, or wraps, an *AlipayError with the
// given sub_code.
func IsAlipayError(err error, subCode string) bool {
	var ae *AlipayError
	return errors.As(err, &ae) && ae.SubCode == subCode
}

// Alipay talks to Alipay's web authorization and OpenAPI gateway. The zero
// value talks to Alipay itself, with a client of DefaultTimeout and the
// system clock.
type Alipay struct {
	// AuthorizeBase is where payers' browsers are sent to authorize;
	// default DefaultAlipayAuthorizeBase.
	AuthorizeBase string
	// GatewayURL is the full OpenAPI gateway URL; default
	// DefaultAlipayGatewayURL.
	GatewayURL string
	// HTTP sends the gateway calls and owns their timeouts; nil means a
	// client with DefaultTimeout.
	HTTP *http.Client
	// Clock stamps requests; nil means time.Now.
	Clock func() time.Time
}

// AlipayApp is one Alipay application: its id, the private key its requests
// are signed with, and the Alipay public key its answers are checked with. It
// never prints its keys.
type AlipayApp struct {
	AppID           string
	PrivateKey      *rsa.PrivateKey
	AlipayPublicKey *rsa.PublicKey
}

// String hides the keys.
func (a AlipayApp) String() string { return "AlipayApp{" + a.AppID + " [keys redacted]}" }

// GoString hides the keys from %#v.
func (a AlipayApp) GoString() string { return a.String() }

// LogValue hides the keys from slog.
func (a AlipayApp) LogValue() slog.Value { return slog.StringValue(a.String()) }

// AlipayIdentity is who a payer is to an Alipay app: UserID (2088…) for
// classic apps, OpenID for apps in open_id mode. One of them is set.
type AlipayIdentity struct {
	UserID string
	OpenID string
}

// BuyerID is the id to hand to the gateway as buyer_id: the user id when
// there is one, else the open_id.
func (id AlipayIdentity) BuyerID() string {
	if id.UserID != "" {
		return id.UserID
	}
	return id.OpenID
}

// ParseAlipayApp builds an AlipayApp from the app's private key (PKCS#1 or
// PKCS#8) and Alipay's public key (PKIX), each either PEM or the bare base64
// that Alipay's console shows. Errors never quote the key material.
func ParseAlipayApp(appID, privatePEM, publicPEM string) (AlipayApp, error) {
	if appID == "" {
		return AlipayApp{}, errors.New("alipay app: empty app_id")
	}
	priv, err := ParseRSAPrivateKey(privatePEM)
	if err != nil {
		return AlipayApp{}, fmt.Errorf("alipay app %s: private key: %w", appID, err)
	}
	pub, err := ParseRSAPublicKey(publicPEM)
	if err != nil {
		return AlipayApp{}, fmt.Errorf("alipay app %s: alipay public key: %w", appID, err)
	}
	return AlipayApp{AppID: appID, PrivateKey: priv, AlipayPublicKey: pub}, nil
}

func (c *Alipay) authorizeBase() string {
	if c.AuthorizeBase != "" {
		return c.AuthorizeBase
	}
	return DefaultAlipayAuthorizeBase
}

func (c *Alipay) gatewayURL() string {
	if c.GatewayURL != "" {
		return c.GatewayURL
	}
	return DefaultAlipayGatewayURL
}

func (c *Alipay) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// Validate reports whether the configured URLs are usable; call it at
// start-up, since AuthorizeURL cannot return an error.
func (c *Alipay) Validate() error {
	if _, err := endpoint(c.authorizeBase(), "/"); err != nil {
		return fmt.Errorf("alipay authorize %w", err)
	}
	if _, err := endpoint(c.gatewayURL(), ""); err != nil {
		return fmt.Errorf("alipay gateway %w", err)
	}
	return nil
}

// AuthorizeURL is where to send a payer's browser (inside Alipay) to obtain
// an auth_base auth_code for appID; Alipay comes back to redirectURI with
// auth_code, state and app_id. It returns "" when AuthorizeBase is not a
// valid URL (see Validate).
func (c *Alipay) AuthorizeURL(appID, redirectURI, state string) string {
	u, err := endpoint(c.authorizeBase(), "/oauth2/publicAppAuthorize.htm")
	if err != nil {
		return ""
	}
	u.RawQuery = url.Values{
		"app_id":       {appID},
		"scope":        {"auth_base"},
		"redirect_uri": {redirectURI},
		"state":        {state},
	}.Encode()
	return u.String()
}

// ExchangeCode trades an auth_code from the authorize redirect for the
// payer's Alipay id with alipay.system.oauth.token. The request is signed
// with app.PrivateKey and the answer must verify with app.AlipayPublicKey.
// Errors: *AlipayError for Alipay's answers (sub_code AlipayCodeInvalid for a
// used or unknown code), ErrBadSignature, ErrMalformedResponse,
// ErrResponseTooLarge, or a transport error.
func (c *Alipay) ExchangeCode(ctx context.Context, app AlipayApp, code string) (AlipayIdentity, error) {
	if app.AppID == "" || app.PrivateKey == nil || app.AlipayPublicKey == nil {
		return AlipayIdentity{}, errors.New("alipay oauth: app id and both keys are required")
	}
	if code == "" {
		return AlipayIdentity{}, fmt.Errorf("alipay oauth %s: empty auth_code", app.AppID)
	}
	u, err := endpoint(c.gatewayURL(), "")
	if err != nil {
		return AlipayIdentity{}, fmt.Errorf("alipay oauth %s: %w", app.AppID, err)
	}
	form := url.Values{
		"app_id":     {app.AppID},
		"method":     {"alipay.system.oauth.token"},
		"format":     {"JSON"},
		"charset":    {"utf-8"},
		"sign_type":  {"RSA2"},
		"timestamp":  {c.now().In(chinaTime).Format(alipayTimeFormat)},
		"version":    {"1.0"},
		"grant_type": {"authorization_code"},
		"code":       {code},
	}
	sig, err := SignRSA2(app.PrivateKey, []byte(AlipaySignContent(form)))
	if err != nil {
		return AlipayIdentity{}, fmt.Errorf("alipay oauth %s: %w", app.AppID, err)
	}
	form.Set("sign", sig)
	req, err := newPostForm(ctx, u, form)
	if err != nil {
		return AlipayIdentity{}, fmt.Errorf("alipay oauth %s: %w", app.AppID, err)
	}
	body, err := do(c.HTTP, req)
	if err != nil {
		return AlipayIdentity{}, fmt.Errorf("alipay oauth %s: %w", app.AppID, err)
	}
	id, err := decodeAlipayToken(body, app.AlipayPublicKey)
	if err != nil {
		return AlipayIdentity{}, fmt.Errorf("alipay oauth %s: %w", app.AppID, err)
	}
	return id, nil
}

// alipayTokenAnswer is the signed member of a token answer. The tokens are
// decoded only to be dropped.
type alipayTokenAnswer struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code"`
	SubMsg  string `json:"sub_msg"`
	UserID  string `json:"user_id"`
	OpenID  string `json:"open_id"`
}

// decodeAlipayToken checks and decodes an alipay.system.oauth.token answer.
// The signature covers the raw bytes of the member exactly as sent, so the
// envelope is decoded into RawMessages and nothing is re-encoded.
func decodeAlipayToken(body []byte, pub *rsa.PublicKey) (AlipayIdentity, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return AlipayIdentity{}, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
	}
	var sig string
	if raw, ok := env["sign"]; ok {
		if err := json.Unmarshal(raw, &sig); err != nil {
			return AlipayIdentity{}, fmt.Errorf("%w: sign is not a string", ErrMalformedResponse)
		}
	}
	if raw, ok := env[tokenMember]; ok {
		if sig == "" {
			return AlipayIdentity{}, fmt.Errorf("%w: answer is not signed", ErrBadSignature)
		}
		if err := VerifyRSA2(pub, raw, sig); err != nil {
			return AlipayIdentity{}, err
		}
		var a alipayTokenAnswer
		if err := json.Unmarshal(raw, &a); err != nil {
			return AlipayIdentity{}, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
		}
		if a.Code != "" && a.Code != "10000" {
			return AlipayIdentity{}, &AlipayError{Code: a.Code, Msg: a.Msg, SubCode: a.SubCode, SubMsg: a.SubMsg}
		}
		if a.UserID == "" && a.OpenID == "" {
			return AlipayIdentity{}, fmt.Errorf("%w: neither user_id nor open_id", ErrMalformedResponse)
		}
		return AlipayIdentity{UserID: a.UserID, OpenID: a.OpenID}, nil
	}
	if raw, ok := env["error_response"]; ok {
		// Alipay signs its errors too when it knows the app; a signed error
		// that does not verify is not Alipay speaking. An unsigned one can
		// only make the call fail, so it is reported as it is.
		if sig != "" {
			if err := VerifyRSA2(pub, raw, sig); err != nil {
				return AlipayIdentity{}, err
			}
		}
		var a alipayTokenAnswer
		if err := json.Unmarshal(raw, &a); err != nil {
			return AlipayIdentity{}, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
		}
		return AlipayIdentity{}, &AlipayError{Code: a.Code, Msg: a.Msg, SubCode: a.SubCode, SubMsg: a.SubMsg}
	}
	return AlipayIdentity{}, fmt.Errorf("%w: no %s and no error_response", ErrMalformedResponse, tokenMember)
}
