package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wallet-checkout/checkout/gateway"
)

// Defaults of Config.
const (
	DefaultPrefix        = "/mct1"
	DefaultShopPass      = "123456"
	DefaultNotifyStep    = 30 * time.Second
	DefaultNotifyGiveUp  = 3 * time.Hour
	DefaultPasswordDelay = 10 * time.Second
	DefaultLatePayDelay  = 30 * time.Minute
	DefaultNotifyDelay   = 5 * time.Minute
	// DefaultWeChatPayKey is the sandbox's WeChat Pay v2 API key, with which
	// it computes and checks paySign (MD5 of the sorted parameters plus
	// &key=). It is public on purpose: nothing real is signed with it.
	DefaultWeChatPayKey = "sandboxsandboxsandboxsandbox0000"
)

// Config configures a Server. The zero value works: protocol under /mct1,
// real clock, quirks on, notifies every 30 s for 3 h.
type Config struct {
	// Prefix is the protocol's path prefix, default "/mct1".
	Prefix string
	// PublicURL is the absolute URL where Handler() is reachable, e.g.
	// "http://127.0.0.1:8080/sandbox"; jsapi_pay_url points under it. When
	// empty it is derived from each protocol request (Host and path).
	PublicURL string
	// Clock is the time source, default time.Now.
	Clock func() time.Time
	// Timers schedules notify retries and delayed payments, default real
	// timers. Give a ManualClock here (and its Now as Clock) in tests.
	Timers Timers
	// NotifyClient delivers async notifies, default a client with a 10 s
	// timeout.
	NotifyClient *http.Client
	// NotifyStep is the retry step: retries come step, 2·step, 3·step… after
	// the previous attempt (30 s, 60 s, 90 s…). Default 30 s.
	NotifyStep time.Duration
	// NotifyGiveUp ends the retries once this much has passed since the first
	// attempt. Default 3 h.
	NotifyGiveUp time.Duration
	// Quirks makes the answers look like the real PHP server's: \uXXXX and
	// \/ escapes, numbers as strings, stray spaces in JSAPI values,
	// ord_stautus. New turns it on unless DisableQuirks is set.
	Quirks        bool
	DisableQuirks bool
	// WeChatPayKey signs paySign, default DefaultWeChatPayKey.
	WeChatPayKey string
	// Logger receives the sandbox's logs (never a key or password), default
	// slog.Default().
	Logger *slog.Logger

	// Latency is added before every protocol answer.
	Latency time.Duration
	// FailureRate is the share (0..1) of protocol requests answered with HTTP
	// 502; half of them are processed first, so the outcome is unknown to the
	// caller, as with a real proxy failing after the upstream acted.
	FailureRate float64
	// TimeoutRate is the share (0..1) of protocol requests that are processed
	// and then never answered (the connection hangs until the caller gives up).
	TimeoutRate float64
	// DropNotifies stops all async notifies (only paystatus tells).
	DropNotifies bool
	// DuplicateNotifies sends each notify attempt this many extra times,
	// concurrently, so that receivers prove idempotency.
	DuplicateNotifies int

	// PasswordDelay is how long a barcode order with the "password" magic
	// auth_code stays in status 9 before it is paid. Default 10 s.
	PasswordDelay time.Duration
	// LatePayDelay is when, after payorder, an order with the "late payer"
	// magic amount is paid. Default 30 min.
	LatePayDelay time.Duration
	// NotifyDelay delays the first notify of an order with the "delayed
	// notify" magic amount. Default 5 min.
	NotifyDelay time.Duration
	// Random is the source of order numbers, nonces and fault decisions,
	// default crypto/rand. Tests give a seeded reader for golden files.
	Random io.Reader
}

// PayMethod is one pay method of a store, as paylist lists it.
type PayMethod struct {
	Tag  string // pmt_tag, e.g. Weixin, Alipay, Cash, Diy
	Name string // pmt_name, e.g. 微信支付
	// Types lists the scenario types as paylist writes them: 0 cash, 2
	// C-scans-B, 3 B-scans-C, 4 jsapi (e.g. "2,3,4").
	Types string
}

// DefaultPayList is the paylist of a store that names none: WeChat Pay and
// Alipay for every scenario, cash and a merchant-defined method.
func DefaultPayList() []PayMethod {
	return []PayMethod{
		{Tag: "Weixin", Name: "微信支付", Types: "2,3,4"},
		{Tag: "Alipay", Name: "支付宝", Types: "2,3,4"},
		{Tag: "Cash", Name: "现金", Types: "0"},
		{Tag: "Diy", Name: "自定义", Types: "0"},
	}
}

// Store is a store's credentials and settings at the sandbox.
type Store struct {
	OpenID  string
	OpenKey string // exactly 32 bytes
	// ShopPass is the supervisor password in clear, default "123456"; the
	// sandbox compares refunds' shop_pass with its sha1.
	ShopPass string
	Name     string // shop name shown on the pay page, default "沙箱门店"
	PayList  []PayMethod
}

// Errors of the payer actions and of the store set-up.
var (
	ErrUnknownStore   = errors.New("sandbox: unknown store")
	ErrStoreExists    = errors.New("sandbox: store already exists")
	ErrUnknownOrder   = errors.New("sandbox: no such order")
	ErrNotPayable     = errors.New("sandbox: order is not awaiting payment")
	ErrWrongScenario  = errors.New("sandbox: order was not created for this way of paying")
	ErrBadPaySign     = errors.New("sandbox: paySign does not match")
	ErrBadPayParams   = errors.New("sandbox: malformed payment parameters")
	errInvalidOpenID  = errors.New("sandbox: open_id must be 1 to 64 letters, digits, '-' or '_'")
	errInvalidPayList = errors.New("sandbox: pay method needs a tag and types")
)

// Server is the sandbox gateway. Make one with New; it is safe for
// concurrent use.
type Server struct {
	cfg     Config
	now     func() time.Time
	timers  Timers
	log     *slog.Logger
	handler http.Handler
	ctx     context.Context
	cancel  context.CancelFunc

	mu        sync.Mutex
	stores    map[string]*store
	orders    map[string]*order // by ord_no, every store
	byQR      map[string]*order
	byTradeNo map[string]*order // Alipay JSAPI trade_no
	byPrepay  map[string]*order // WeChat JSAPI prepay_id
	mctSeq    int64

	randMu sync.Mutex

	tmu      sync.Mutex
	closed   bool
	timerSeq uint64
	pending  map[uint64]func() bool
	wg       sync.WaitGroup
}

// New builds a Server from cfg, filling in the defaults.
func New(cfg Config) (*Server, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.Prefix == "/" || cfg.Prefix == "/pay" || cfg.Prefix == "/payer" || cfg.Prefix == "/console" {
		return nil, fmt.Errorf("sandbox: prefix %q collides with the pay pages", cfg.Prefix)
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sandbox: public URL %q is not an absolute http(s) URL", cfg.PublicURL)
		}
		cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Timers == nil {
		cfg.Timers = realTimers{}
	}
	if cfg.NotifyClient == nil {
		cfg.NotifyClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.NotifyStep <= 0 {
		cfg.NotifyStep = DefaultNotifyStep
	}
	if cfg.NotifyGiveUp <= 0 {
		cfg.NotifyGiveUp = DefaultNotifyGiveUp
	}
	cfg.Quirks = !cfg.DisableQuirks
	if cfg.WeChatPayKey == "" {
		cfg.WeChatPayKey = DefaultWeChatPayKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FailureRate < 0 || cfg.FailureRate > 1 || cfg.TimeoutRate < 0 || cfg.TimeoutRate > 1 || cfg.FailureRate+cfg.TimeoutRate > 1 {
		return nil, fmt.Errorf("sandbox: failure rate %v and timeout rate %v must be shares between 0 and 1", cfg.FailureRate, cfg.TimeoutRate)
	}
	if cfg.Latency < 0 || cfg.DuplicateNotifies < 0 {
		return nil, fmt.Errorf("sandbox: latency and duplicate notifies cannot be negative")
	}
	if cfg.PasswordDelay <= 0 {
		cfg.PasswordDelay = DefaultPasswordDelay
	}
	if cfg.LatePayDelay <= 0 {
		cfg.LatePayDelay = DefaultLatePayDelay
	}
	if cfg.NotifyDelay <= 0 {
		cfg.NotifyDelay = DefaultNotifyDelay
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		now:       cfg.Clock,
		timers:    cfg.Timers,
		log:       cfg.Logger.With("component", "sandbox"),
		ctx:       ctx,
		cancel:    cancel,
		stores:    make(map[string]*store),
		orders:    make(map[string]*order),
		byQR:      make(map[string]*order),
		byTradeNo: make(map[string]*order),
		byPrepay:  make(map[string]*order),
		pending:   make(map[uint64]func() bool),
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves everything: the protocol under Prefix, the hosted pay pages
// under /pay/ and the payer actions under /payer/. Mount it with
// http.StripPrefix when it does not sit at the root.
func (s *Server) Handler() http.Handler { return s.handler }

// Prefix returns the protocol's path prefix, e.g. "/mct1".
func (s *Server) Prefix() string { return s.cfg.Prefix }

// AddStore registers a store. Its PayList defaults to DefaultPayList and its
// ShopPass to "123456".
func (s *Server) AddStore(st Store) error {
	if !validOpenID(st.OpenID) {
		return fmt.Errorf("sandbox add store %q: %w", st.OpenID, errInvalidOpenID)
	}
	key, err := gateway.ParseKey(st.OpenKey)
	if err != nil {
		return fmt.Errorf("sandbox add store %s: open_key: %w", st.OpenID, err)
	}
	if st.ShopPass == "" {
		st.ShopPass = DefaultShopPass
	}
	if st.Name == "" {
		st.Name = "沙箱门店"
	}
	if len(st.PayList) == 0 {
		st.PayList = DefaultPayList()
	}
	for _, m := range st.PayList {
		if m.Tag == "" || m.Types == "" {
			return fmt.Errorf("sandbox add store %s: %w", st.OpenID, errInvalidPayList)
		}
	}
	ns := &store{
		openID:   st.OpenID,
		key:      key,
		passSHA1: gateway.PasswordSHA1(st.ShopPass),
		name:     st.Name,
		payList:  append([]PayMethod(nil), st.PayList...),
		appIDs:   make(map[string][]mpBinding),
		byOutNo:  make(map[string]*order),
		byOrdNo:  make(map[string]*order),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.stores[st.OpenID]; ok {
		return fmt.Errorf("sandbox add store %s: %w", st.OpenID, ErrStoreExists)
	}
	s.stores[st.OpenID] = ns
	return nil
}

// BindAppID binds a WeChat official-account or mini-program appid to a
// store's pay method, as mpconfig/add does. Native JSAPI payorders with an
// unbound sub_appid fail with 8011.
func (s *Server) BindAppID(openID, pmtTag, appID string) error {
	if pmtTag == "" || appID == "" {
		return fmt.Errorf("sandbox bind appid: pmt_tag and sub_appid are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[openID]
	if !ok {
		return fmt.Errorf("sandbox bind appid %s: %w", openID, ErrUnknownStore)
	}
	if st.method(pmtTag) == nil {
		return fmt.Errorf("sandbox bind appid %s: pay method %q not open to the store", openID, pmtTag)
	}
	st.bind(mpBinding{pmtTag: pmtTag, subAppID: appID})
	return nil
}

// Close stops the notify retries and delayed payments and waits for running
// deliveries to end. The handler keeps answering; nothing more is scheduled.
func (s *Server) Close() {
	s.tmu.Lock()
	s.closed = true
	for id, stop := range s.pending {
		if stop() {
			delete(s.pending, id)
			s.wg.Done()
		}
	}
	s.tmu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// after runs f once d has passed on the sandbox's clock, unless the server
// is closed first.
func (s *Server) after(d time.Duration, f func()) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.closed {
		return
	}
	s.timerSeq++
	id := s.timerSeq
	s.wg.Add(1)
	// Held tmu keeps a real timer's callback from running before its stop
	// function is recorded.
	s.pending[id] = s.timers.AfterFunc(d, func() {
		s.tmu.Lock()
		delete(s.pending, id)
		closed := s.closed
		s.tmu.Unlock()
		defer s.wg.Done()
		if !closed {
			f()
		}
	})
}

// random fills b from the configured source.
func (s *Server) random(b []byte) {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	if _, err := io.ReadFull(s.cfg.Random, b); err != nil {
		// crypto/rand never fails; a test reader that runs dry is a bug in
		// the test, but input must never make us panic, so fall back.
		_, _ = io.ReadFull(rand.Reader, b)
	}
}

const (
	digits   = "0123456789"
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowalnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	lowhex   = "0123456789abcdef"
)

// randString draws n characters of alphabet uniformly (rejection sampling).
func (s *Server) randString(n int, alphabet string) string {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet)
	buf := make([]byte, n+8)
	for len(out) < n {
		s.random(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// chance reports true with probability p.
func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	var b [8]byte
	s.random(b[:])
	return float64(binary.BigEndian.Uint64(b[:])>>11)/(1<<53) < p
}

func validOpenID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
