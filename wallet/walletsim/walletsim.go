// Package walletsim emulates the three identity providers the checkout talks
// to (WeChat official-account OAuth2, WeChat mini-program login, and Alipay
// auth_base with alipay.system.oauth.token) as one http.Handler, so that
// every payer flow runs offline: in demo mode and in tests.
//
// It auto-approves every authorization. The test payer is named by a
// "payer" query parameter or by the walletsim_payer cookie (set by
// GET {PublicURL}/payer?payer=NAME), and ids are derived from (app, payer),
// so a payer keeps the same openid and Alipay user id across runs. Codes are
// single-use and expire after five minutes, like the real ones, and the
// Alipay gateway checks the RSA2 signature of every request and signs every
// answer.
package walletsim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wallet-checkout/checkout/wallet"
)

// CodeLifetime is how long an authorization code stays exchangeable.
const CodeLifetime = 5 * time.Minute

// DefaultPayer is the payer used when a request names none.
const DefaultPayer = "payer"

// Cookie names with which a browser picks its test payer.
const (
	PayerCookie    = "walletsim_payer"
	SnapshotCookie = "walletsim_snapshot"
)

// PathMiniProgramLogin is what a stand-in for wx.login fetches (below the
// emulator's mount point): GET ?appid=wx…&payer=NAME answers {"code": …},
// a code sns/jscode2session takes once for that payer. WeChat's wx.login
// talks to WeChat's own servers; a mini-program tested outside WeChat (a
// stubbed wx under Node, examples/miniprogram) has none, so the emulator
// plays that part too.
const PathMiniProgramLogin = "/wxa/login"

// maxBody caps request bodies the gateway endpoint reads.
const maxBody = 64 << 10

// Config configures a Sim.
type Config struct {
	// PublicURL is where the handler is mounted, e.g.
	// http://127.0.0.1:8080/sandbox/wallet; the clients from WeChat and
	// Alipay point there. The handler serves its paths both below that
	// prefix and with the prefix already stripped.
	PublicURL string
	// Apps maps WeChat appids (official accounts and mini-programs) to their
	// secrets.
	Apps map[string]string
	// AlipayApps maps Alipay app_ids to the app public keys that token calls
	// must verify with.
	AlipayApps map[string]*rsa.PublicKey
	// AlipayPrivateKey signs the emulated Alipay answers; generated when nil.
	AlipayPrivateKey *rsa.PrivateKey
	// RedirectHosts are the hosts (host or host:port) that authorization
	// may redirect back to, like the "网页授权域名" and "授权回调地址" set in
	// the wallets' consoles. Empty means the host of PublicURL only, which
	// is where the checkout that mounts the emulator lives.
	RedirectHosts []string
	// Clock decides code expiry; nil means time.Now.
	Clock func() time.Time
	// Logger receives one line per issued identity; nil means slog.Default().
	Logger *slog.Logger
}

// codeKind says which endpoint may redeem a code.
type codeKind int

const (
	kindOAuth codeKind = iota + 1
	kindMini
	kindAlipay
)

type grant struct {
	kind     codeKind
	app      string
	payer    string
	snapshot bool
	expires  time.Time
	used     bool
}

// Sim is the emulator. Its methods are safe for concurrent use.
type Sim struct {
	publicURL  string
	basePath   string
	apps       map[string]string
	alipayApps map[string]*rsa.PublicKey
	redirects  map[string]bool
	key        *rsa.PrivateKey
	clock      func() time.Time
	log        *slog.Logger

	mu    sync.Mutex
	codes map[string]*grant
}

// New builds a Sim. It generates the Alipay signing key when cfg has none,
// which takes a moment.
func New(cfg Config) *Sim {
	s := &Sim{
		publicURL:  strings.TrimRight(cfg.PublicURL, "/"),
		apps:       make(map[string]string, len(cfg.Apps)),
		alipayApps: make(map[string]*rsa.PublicKey, len(cfg.AlipayApps)),
		key:        cfg.AlipayPrivateKey,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		redirects:  make(map[string]bool),
		codes:      make(map[string]*grant),
	}
	if u, err := url.Parse(s.publicURL); err == nil {
		s.basePath = strings.TrimRight(u.Path, "/")
		if len(cfg.RedirectHosts) == 0 && u.Host != "" {
			s.redirects[strings.ToLower(u.Host)] = true
		}
	}
	for _, h := range cfg.RedirectHosts {
		s.redirects[strings.ToLower(h)] = true
	}
	for k, v := range cfg.Apps {
		s.apps[k] = v
	}
	for k, v := range cfg.AlipayApps {
		s.alipayApps[k] = v
	}
	if s.key == nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			// Only a broken system random source gets here; crypto/rand
			// already aborts the process in that case.
			panic(fmt.Sprintf("walletsim: generate alipay key: %v", err))
		}
		s.key = key
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// AlipayPublicKey is the key the emulated Alipay signs its answers with: the
// "Alipay public key" of every emulated app.
func (s *Sim) AlipayPublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// WeChat returns a client that talks to this emulator through hc.
func (s *Sim) WeChat(hc *http.Client) *wallet.WeChat {
	return &wallet.WeChat{AuthorizeBase: s.publicURL, APIBase: s.publicURL, HTTP: hc}
}

// Alipay returns a client that talks to this emulator through hc.
func (s *Sim) Alipay(hc *http.Client) *wallet.Alipay {
	return &wallet.Alipay{AuthorizeBase: s.publicURL, GatewayURL: s.publicURL + "/gateway.do", HTTP: hc}
}

// idKey keys the id derivation. It is public on purpose: the ids only need
// to be stable and distinct, not secret.
var idKey = []byte("walletsim identity v1")

func derive(parts ...string) []byte {
	m := hmac.New(sha256.New, idKey)
	for _, p := range parts {
		// Length-prefix each part so ("ab","c") and ("a","bc") differ.
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// OpenID is the openid the emulator issues to payer under WeChat appID.
func (s *Sim) OpenID(appID, payer string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(derive("openid", appID, payer))[:27]
}

// SnapshotOpenID is the virtual openid a payer gets on a snapshot page.
func (s *Sim) SnapshotOpenID(appID, payer string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(derive("snapshot", appID, payer))[:27]
}

// UnionID is the unionid the emulator issues to payer (the same for all
// apps, as under one open-platform account).
func (s *Sim) UnionID(payer string) string {
	return "o" + base64.RawURLEncoding.EncodeToString(derive("unionid", payer))[:27]
}

// AlipayUserID is the 2088… user id the emulator issues to payer under
// Alipay appID.
func (s *Sim) AlipayUserID(appID, payer string) string {
	n := binary.BigEndian.Uint64(derive("alipay", appID, payer)[:8]) % 1_000_000_000_000
	return fmt.Sprintf("2088%012d", n)
}

// mint stores a fresh single-use code and drops codes past their lifetime.
func (s *Sim) mint(kind codeKind, app, payer string, snapshot bool) string {
	code := rand.Text()
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, g := range s.codes {
		if now.After(g.expires) {
			delete(s.codes, c)
		}
	}
	s.codes[code] = &grant{kind: kind, app: app, payer: payer, snapshot: snapshot, expires: now.Add(CodeLifetime)}
	return code
}

// redeemResult says why a code was refused.
type redeemResult int

const (
	redeemOK redeemResult = iota
	redeemUnknown
	redeemUsed
)

// redeem marks a code used and returns its grant. A code for another kind or
// app, or past its lifetime, is unknown.
func (s *Sim) redeem(kind codeKind, app, code string) (grant, redeemResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.codes[code]
	if !ok || g.kind != kind || g.app != app || s.clock().After(g.expires) {
		return grant{}, redeemUnknown
	}
	if g.used {
		return grant{}, redeemUsed
	}
	g.used = true
	return *g, redeemOK
}

// MintOAuthCode issues a WeChat official-account code for payer, as the
// authorize page would, for tests that skip the browser redirect.
func (s *Sim) MintOAuthCode(appID, payer string, snapshot bool) string {
	return s.mint(kindOAuth, appID, payer, snapshot)
}

// MintMiniProgramCode issues a wx.login code for payer under the
// mini-program appID.
func (s *Sim) MintMiniProgramCode(appID, payer string) string {
	return s.mint(kindMini, appID, payer, false)
}

// MintAlipayCode issues an Alipay auth_code for payer under appID.
func (s *Sim) MintAlipayCode(appID, payer string) string {
	return s.mint(kindAlipay, appID, payer, false)
}

// ServeHTTP routes the emulated endpoints.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if s.basePath != "" && strings.HasPrefix(p, s.basePath+"/") {
		p = strings.TrimPrefix(p, s.basePath)
	}
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case p == "/connect/oauth2/authorize" && r.Method == http.MethodGet:
		s.wechatAuthorize(w, r)
	case p == "/sns/oauth2/access_token" && r.Method == http.MethodGet:
		s.wechatAccessToken(w, r)
	case p == "/sns/jscode2session" && r.Method == http.MethodGet:
		s.wechatCode2Session(w, r)
	case p == PathMiniProgramLogin && r.Method == http.MethodGet:
		s.miniProgramLogin(w, r)
	case p == "/oauth2/publicAppAuthorize.htm" && r.Method == http.MethodGet:
		s.alipayAuthorize(w, r)
	case p == "/gateway.do" && (r.Method == http.MethodPost || r.Method == http.MethodGet):
		s.alipayGateway(w, r)
	case p == "/payer" && r.Method == http.MethodGet:
		s.choosePayer(w, r)
	default:
		http.NotFound(w, r)
	}
}

// validPayer accepts short printable names.
func validPayer(p string) bool {
	if p == "" || len(p) > 64 || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// payerOf names the payer of a browser request: the query wins over the
// cookie, and the default covers both missing.
func payerOf(r *http.Request) (payer string, snapshot bool, ok bool) {
	payer = r.URL.Query().Get("payer")
	if payer == "" {
		if c, err := r.Cookie(PayerCookie); err == nil {
			if v, err := url.QueryUnescape(c.Value); err == nil {
				payer = v
			}
		}
	}
	if payer == "" {
		payer = DefaultPayer
	}
	snapshot = r.URL.Query().Get("snapshot") == "1"
	if c, err := r.Cookie(SnapshotCookie); err == nil && c.Value == "1" {
		snapshot = true
	}
	return payer, snapshot, validPayer(payer)
}

// choosePayer sets the payer cookies for a browser.
func (s *Sim) choosePayer(w http.ResponseWriter, r *http.Request) {
	payer := r.URL.Query().Get("payer")
	if !validPayer(payer) {
		http.Error(w, "walletsim: payer must be 1 to 64 printable characters", http.StatusBadRequest)
		return
	}
	path := s.basePath
	if path == "" {
		path = "/"
	}
	http.SetCookie(w, &http.Cookie{Name: PayerCookie, Value: url.QueryEscape(payer), Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	snap := &http.Cookie{Name: SnapshotCookie, Value: "1", Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if r.URL.Query().Get("snapshot") != "1" {
		snap.Value, snap.MaxAge = "", -1
	}
	http.SetCookie(w, snap)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "walletsim: payer set to %q (snapshot=%t)\n", payer, snap.MaxAge >= 0)
}

// redirectTarget parses a redirect_uri: absolute http(s) only, to an
// allowed host, so the emulator is no open redirector.
func (s *Sim) redirectTarget(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, false
	}
	if len(s.redirects) > 0 && !s.redirects[strings.ToLower(u.Host)] {
		return nil, false
	}
	return u, true
}

// redirectWith sends the browser to target with extra query parameters.
func redirectWith(w http.ResponseWriter, r *http.Request, target *url.URL, extra url.Values) {
	q := target.Query()
	for k, vs := range extra {
		q[k] = vs
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}
