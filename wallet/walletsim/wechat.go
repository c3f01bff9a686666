package walletsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"net/http"

	"github.com/wallet-checkout/checkout/wallet"
)

// wechatAuthorize auto-approves snsapi_base (and snsapi_userinfo) requests:
// 302 to redirect_uri with a fresh code and the state.
func (s *Sim) wechatAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	appID := q.Get("appid")
	if _, ok := s.apps[appID]; !ok {
		http.Error(w, "walletsim wechat: unknown appid (10003 redirect_uri 域名与后台配置不一致 / appid 无效)", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" {
		http.Error(w, "walletsim wechat: response_type must be code", http.StatusBadRequest)
		return
	}
	if scope := q.Get("scope"); scope != "snsapi_base" && scope != "snsapi_userinfo" {
		http.Error(w, "walletsim wechat: scope must be snsapi_base or snsapi_userinfo (10005)", http.StatusBadRequest)
		return
	}
	target, ok := s.redirectTarget(q.Get("redirect_uri"))
	if !ok {
		http.Error(w, "walletsim wechat: redirect_uri must be an absolute http(s) url on an allowed host (10003 redirect_uri 域名与后台配置不一致)", http.StatusBadRequest)
		return
	}
	payer, snapshot, ok := payerOf(r)
	if !ok {
		http.Error(w, "walletsim: payer must be 1 to 64 printable characters", http.StatusBadRequest)
		return
	}
	code := s.mint(kindOAuth, appID, payer, snapshot)
	s.log.Info("walletsim wechat authorized", "app_id", appID, "payer", payer, "snapshot", snapshot)
	redirectWith(w, r, target, map[string][]string{"code": {code}, "state": {q.Get("state")}})
}

// wechatFail answers like WeChat does: HTTP 200 with errcode and errmsg.
func wechatFail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg + ", rid: " + rand.Text()[:12]})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// checkApp answers WeChat's appid/secret errors and reports whether the call
// may go on.
func (s *Sim) checkApp(w http.ResponseWriter, r *http.Request) (appID string, ok bool) {
	q := r.URL.Query()
	appID = q.Get("appid")
	secret, known := s.apps[appID]
	switch {
	case appID == "" || !known:
		wechatFail(w, 40013, "invalid appid")
	case subtle.ConstantTimeCompare([]byte(q.Get("secret")), []byte(secret)) != 1:
		wechatFail(w, wallet.WeChatInvalidSecret, "invalid appsecret")
	case q.Get("grant_type") != "authorization_code":
		wechatFail(w, 40002, "invalid grant_type")
	default:
		return appID, true
	}
	return "", false
}

// wechatRedeem checks the app and redeems the code in query parameter
// param, answering WeChat's errors itself (false): missing 41008, used
// 40163, unknown 40029.
func (s *Sim) wechatRedeem(w http.ResponseWriter, r *http.Request, kind codeKind, param string) (string, grant, bool) {
	appID, ok := s.checkApp(w, r)
	if !ok {
		return "", grant{}, false
	}
	code := r.URL.Query().Get(param)
	if code == "" {
		wechatFail(w, 41008, "missing code")
		return "", grant{}, false
	}
	g, res := s.redeem(kind, appID, code)
	switch res {
	case redeemUsed:
		wechatFail(w, wallet.WeChatCodeUsed, "code been used")
		return "", grant{}, false
	case redeemUnknown:
		wechatFail(w, wallet.WeChatInvalidCode, "invalid code")
		return "", grant{}, false
	}
	return appID, g, true
}

// wechatAccessToken redeems an official-account OAuth code.
func (s *Sim) wechatAccessToken(w http.ResponseWriter, r *http.Request) {
	appID, g, ok := s.wechatRedeem(w, r, kindOAuth, "code")
	if !ok {
		return
	}
	answer := map[string]any{
		"access_token":  rand.Text(),
		"expires_in":    7200,
		"refresh_token": rand.Text(),
		"scope":         "snsapi_base",
	}
	if g.snapshot {
		// A snapshot page gets a virtual openid and no unionid.
		answer["openid"] = s.SnapshotOpenID(appID, g.payer)
		answer["is_snapshotuser"] = 1
	} else {
		answer["openid"] = s.OpenID(appID, g.payer)
		answer["unionid"] = s.UnionID(g.payer)
	}
	writeJSON(w, answer)
}

// wechatCode2Session redeems a mini-program wx.login code.
func (s *Sim) wechatCode2Session(w http.ResponseWriter, r *http.Request) {
	appID, g, ok := s.wechatRedeem(w, r, kindMini, "js_code")
	if !ok {
		return
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	writeJSON(w, map[string]any{
		"openid":      s.OpenID(appID, g.payer),
		"session_key": base64Std(key),
		"unionid":     s.UnionID(g.payer),
	})
}

// miniProgramLogin plays wx.login's server side: a fresh code for payer
// under a known mini-program appid. It answers CORS from any origin, as a
// test page may call it; it needs no secret, as wx.login needs none.
func (s *Sim) miniProgramLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	appID := r.URL.Query().Get("appid")
	if _, ok := s.apps[appID]; !ok || appID == "" {
		w.Header().Set("Content-Type", "application/json; encoding=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"errmsg": "walletsim: unknown appid"})
		return
	}
	payer := r.URL.Query().Get("payer")
	if payer == "" {
		payer = DefaultPayer
	}
	if !validPayer(payer) {
		w.Header().Set("Content-Type", "application/json; encoding=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"errmsg": "walletsim: payer must be 1 to 64 printable characters"})
		return
	}
	code := s.mint(kindMini, appID, payer, false)
	s.log.Info("walletsim wechat mini-program login", "app_id", appID, "payer", payer)
	writeJSON(w, map[string]any{"code": code})
}
