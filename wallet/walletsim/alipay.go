package walletsim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wallet-checkout/checkout/wallet"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// timestampTolerance is how far a request's timestamp may be from the
// emulator's clock. Alipay wants China time; a client that sends UTC is
// eight hours off and is refused here, so the mistake shows up in tests.
const timestampTolerance = 15 * time.Minute

var chinaTime = time.FixedZone("CST", 8*60*60)

// alipayAuthorize auto-approves auth_base (and auth_user): 302 to
// redirect_uri with auth_code, state, app_id, scope and source.
func (s *Sim) alipayAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	appID := q.Get("app_id")
	if _, ok := s.alipayApps[appID]; !ok {
		http.Error(w, "walletsim alipay: unknown app_id", http.StatusBadRequest)
		return
	}
	scope := q.Get("scope")
	if scope != "auth_base" && scope != "auth_user" {
		http.Error(w, "walletsim alipay: scope must be auth_base or auth_user", http.StatusBadRequest)
		return
	}
	target, ok := s.redirectTarget(q.Get("redirect_uri"))
	if !ok {
		http.Error(w, "walletsim alipay: redirect_uri must be an absolute http(s) url on an allowed host (授权回调地址不一致)", http.StatusBadRequest)
		return
	}
	payer, _, ok := payerOf(r)
	if !ok {
		http.Error(w, "walletsim: payer must be 1 to 64 printable characters", http.StatusBadRequest)
		return
	}
	code := s.mint(kindAlipay, appID, payer, false)
	s.log.Info("walletsim alipay authorized", "app_id", appID, "payer", payer)
	redirectWith(w, r, target, url.Values{
		"app_id": {appID}, "scope": {scope}, "source": {"alipay_wallet"},
		"auth_code": {code}, "state": {q.Get("state")},
	})
}

// alipayFault is an error_response member.
type alipayFault struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code"`
	SubMsg  string `json:"sub_msg"`
}

func invalidArgs(sub, msg string) alipayFault {
	return alipayFault{Code: "40002", Msg: "Invalid Arguments", SubCode: sub, SubMsg: msg}
}

// alipayGateway serves alipay.system.oauth.token.
func (s *Sim) alipayGateway(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		s.alipayAnswer(w, "error_response", invalidArgs("isv.invalid-parameter", "请求参数无法解析"))
		return
	}
	f := r.Form
	if f.Get("app_id") == "" || f.Get("method") == "" || f.Get("sign") == "" || f.Get("timestamp") == "" || f.Get("version") == "" {
		s.alipayAnswer(w, "error_response", alipayFault{Code: "40001", Msg: "Missing Required Arguments", SubCode: "isv.missing-required-arguments", SubMsg: "缺少必选参数"})
		return
	}
	appID := f.Get("app_id")
	pub, ok := s.alipayApps[appID]
	if !ok {
		s.alipayAnswer(w, "error_response", invalidArgs("isv.invalid-app-id", "无效的AppID参数"))
		return
	}
	if f.Get("method") != "alipay.system.oauth.token" {
		s.alipayAnswer(w, "error_response", invalidArgs("isv.invalid-method", "不存在的方法名"))
		return
	}
	if f.Get("sign_type") != "RSA2" {
		s.alipayAnswer(w, "error_response", invalidArgs("isv.invalid-signature-type", "无效的签名类型"))
		return
	}
	if cs := f.Get("charset"); cs != "" && !strings.EqualFold(cs, "utf-8") {
		s.alipayAnswer(w, "error_response", invalidArgs("isv.invalid-charset", "字符集错误"))
		return
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04:05", f.Get("timestamp"), chinaTime)
	if err != nil || ts.Sub(s.clock()).Abs() > timestampTolerance {
		s.alipayAnswer(w, "error_response", invalidArgs("isv.invalid-timestamp", "非法的时间戳参数"))
		return
	}
	if err := wallet.VerifyRSA2(pub, []byte(wallet.AlipaySignContent(f)), f.Get("sign")); err != nil {
		s.log.Warn("walletsim alipay signature rejected", "app_id", appID)
		s.alipayAnswer(w, "error_response", invalidArgs("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"))
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		s.alipayAnswer(w, "error_response", invalidArgs("isv.grant-type-invalid", "grant_type参数不正确"))
		return
	}
	g, res := s.redeem(kindAlipay, appID, f.Get("code"))
	if res != redeemOK {
		s.alipayAnswer(w, "error_response", invalidArgs(wallet.AlipayCodeInvalid, "授权码code无效"))
		return
	}
	userID := s.AlipayUserID(appID, g.payer)
	s.alipayAnswer(w, "alipay_system_oauth_token_response", map[string]any{
		"access_token":   "authbseB" + rand.Text(),
		"alipay_user_id": userID,
		"auth_start":     s.clock().In(chinaTime).Format("2006-01-02 15:04:05"),
		"expires_in":     1296000,
		"re_expires_in":  2592000,
		"refresh_token":  "authbseR" + rand.Text(),
		"user_id":        userID,
	})
}

// alipayAnswer writes {member: body, sign: RSA2(raw body)}. The envelope is
// assembled by hand so the member's bytes on the wire are exactly the bytes
// that were signed.
func (s *Sim) alipayAnswer(w http.ResponseWriter, member string, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "walletsim alipay: encode answer", http.StatusInternalServerError)
		return
	}
	sig, err := wallet.SignRSA2(s.key, raw)
	if err != nil {
		http.Error(w, "walletsim alipay: sign answer", http.StatusInternalServerError)
		return
	}
	name, _ := json.Marshal(member)
	quoted, _ := json.Marshal(sig)
	var b bytes.Buffer
	b.WriteByte('{')
	b.Write(name)
	b.WriteByte(':')
	b.Write(raw)
	b.WriteString(`,"sign":`)
	b.Write(quoted)
	b.WriteByte('}')
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write(b.Bytes())
}
