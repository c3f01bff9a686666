package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/console"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/internal/hostclass"
	"github.com/wallet-checkout/checkout/payments"
	"github.com/wallet-checkout/checkout/wallet"
)

// The identity providers' real addresses, used unless the file overrides
// them (tests and staging point them at a simulator).
const (
	DefaultWeChatAuthorizeBase = "https://open.weixin.qq.com"
	DefaultWeChatAPIBase       = "https://api.weixin.qq.com"
	DefaultAlipayAuthorizeBase = "https://openauth.alipay.com"
	DefaultAlipayGatewayURL    = "https://openapi.alipay.com/gateway.do"
)

// Limits of the merchants file, each written once: the check and its
// message both use it.
const (
	// maxNameLen bounds a merchant's or store's name, in characters.
	maxNameLen = 64
	// maxWebhookSecrets is the current secret and the one being rotated
	// out.
	maxWebhookSecrets = 2
)

// Providers are the base URLs of the wallets' identity services.
type Providers struct {
	// WeChatAuthorizeBase is where payers' browsers go for snsapi_base.
	WeChatAuthorizeBase string
	// WeChatAPIBase serves sns/oauth2/access_token and sns/jscode2session.
	WeChatAPIBase string
	// AlipayAuthorizeBase is where payers' browsers go for auth_base.
	AlipayAuthorizeBase string
	// AlipayGatewayURL serves alipay.system.oauth.token.
	AlipayGatewayURL string
	// Emulator (identity_providers.emulator: true) says the service serves
	// the WeChat/Alipay identity emulator itself, under /walletsim/, and
	// that the four URLs above are its own: app.New builds it from the
	// sandbox stores' apps and fills them in. Only a file whose stores are
	// all sandbox stores may set it: the emulator approves every payer.
	Emulator bool
	// EmulatorAlipayKey signs the emulated Alipay's answers; the sandbox
	// stores trust its public half as their alipay_public_key. Generated
	// for each process, like the demo's.
	EmulatorAlipayKey *rsa.PrivateKey
}

// DefaultProviders returns the real identity providers.
func DefaultProviders() Providers {
	return Providers{
		WeChatAuthorizeBase: DefaultWeChatAuthorizeBase,
		WeChatAPIBase:       DefaultWeChatAPIBase,
		AlipayAuthorizeBase: DefaultAlipayAuthorizeBase,
		AlipayGatewayURL:    DefaultAlipayGatewayURL,
	}
}

// Merchants is the validated content of the merchants file.
type Merchants struct {
	// Merchants in file order; each has at least one store, Stores[0]
	// being its default.
	Merchants []*checkout.Merchant
	// Directory indexes Merchants for authentication and lookups.
	Directory *checkout.Directory
	// Accounts are the stores' gateway accounts (open_id, open_key, base
	// URL), kept by the use cases rather than in the stores.
	Accounts *payments.Accounts
	// Providers are the identity providers' base URLs.
	Providers Providers
}

// Options tune how the merchants file is read.
type Options struct {
	// Getenv resolves ${ENV_VAR} references; os.Getenv when nil.
	Getenv func(string) string
	// AllowPrivateWebhooks accepts webhook URLs on loopback and private
	// addresses, and plain http ones.
	AllowPrivateWebhooks bool
	// EmulatorKey, when set, is the identity emulator's Alipay key to keep
	// instead of generating one: a reload of the file (SIGHUP) keeps the
	// key the running emulator signs with.
	EmulatorKey *rsa.PrivateKey
}

// LoadMerchants reads and validates the merchants file at path.
func LoadMerchants(path string, opts Options) (*Merchants, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errorf("CHECKOUT_CONFIG", "cannot read the merchants file: %v", err)
	}
	return ParseMerchants(data, opts)
}

// ParseMerchants validates a merchants file. The first problem found is
// returned as an *Error naming its field path; secrets never appear in it.
func ParseMerchants(data []byte, opts Options) (*Merchants, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	f, err := decodeYAML(data)
	if err != nil {
		return nil, err
	}
	v := &validator{opts: opts, openIDs: map[string]string{}, keys: map[string]string{}, emails: map[string]string{}, accounts: payments.NewAccounts()}
	out := &Merchants{}
	if out.Providers, err = v.providers(&f.IdentityProviders); err != nil {
		return nil, err
	}
	if len(f.Merchants) == 0 {
		return nil, errorf("merchants", "the file lists no merchants; add at least one (see examples/merchants.yaml)")
	}
	ids := map[string]int{}
	for i := range f.Merchants {
		path := fmt.Sprintf("merchants[%d]", i)
		m, err := v.merchant(path, &f.Merchants[i])
		if err != nil {
			return nil, err
		}
		if j, dup := ids[m.ID]; dup {
			return nil, errorf(path+".id", "%q is already the id of merchants[%d]", m.ID, j)
		}
		ids[m.ID] = i
		out.Merchants = append(out.Merchants, m)
	}
	if out.Providers.Emulator {
		if err := onlySandbox(out.Merchants); err != nil {
			return nil, err
		}
	}
	out.Directory, err = checkout.NewDirectory(out.Merchants)
	if err != nil {
		return nil, &Error{Path: "merchants", Msg: err.Error()}
	}
	out.Accounts = v.accounts
	return out, nil
}

type validator struct {
	opts Options
	// emulatorKey is the identity emulator's Alipay key, when the file
	// turns the emulator on; its public half in PEM is emulatorPub.
	emulatorKey *rsa.PrivateKey
	emulatorPub string
	openIDs     map[string]string // open_id → path of its first use
	keys        map[string]string // API key hash → path of its first use
	emails      map[string]string // console user's email → path of its first use
	// accounts collects the stores' gateway accounts.
	accounts *payments.Accounts
}

var (
	envRefRe   = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	idRe       = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	openIDRe   = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
	pmtTagRe   = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
	wechatIDRe = regexp.MustCompile(`^wx[0-9a-z]{16}$`)
	alipayIDRe = regexp.MustCompile(`^[0-9]{16}$`)
	hashRe     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	hostRe     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:[0-9]{1,5})?$`)
)

// str resolves a ${ENV_VAR} reference; any other value is taken as written.
func (v *validator) str(path, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	m := envRefRe.FindStringSubmatch(raw)
	if m == nil {
		if strings.Contains(raw, "${") {
			return "", errorf(path, "an environment reference must be the whole value, written ${NAME} with letters, digits and _")
		}
		return raw, nil
	}
	val := v.opts.Getenv(m[1])
	if val == "" {
		return "", errorf(path, "environment variable %s is not set (or is empty)", m[1])
	}
	return val, nil
}

func (v *validator) providers(p *providersYAML) (Providers, error) {
	out := DefaultProviders()
	if p.Emulator {
		return v.emulator(p)
	}
	fields := []struct {
		path string
		raw  string
		dst  *string
	}{
		{"identity_providers.wechat.authorize_base", p.WeChat.AuthorizeBase, &out.WeChatAuthorizeBase},
		{"identity_providers.wechat.api_base", p.WeChat.APIBase, &out.WeChatAPIBase},
		{"identity_providers.alipay.authorize_base", p.Alipay.AuthorizeBase, &out.AlipayAuthorizeBase},
		{"identity_providers.alipay.gateway_url", p.Alipay.GatewayURL, &out.AlipayGatewayURL},
	}
	for _, f := range fields {
		s, err := v.str(f.path, f.raw)
		if err != nil {
			return out, err
		}
		if s == "" {
			continue
		}
		if err := httpURL(s); err != nil {
			return out, errorf(f.path, "%v", err)
		}
		*f.dst = strings.TrimRight(s, "/")
	}
	return out, nil
}

// emulator turns the built-in identity emulator on: no URL beside it (the
// service serves the emulator itself, at its public URL), and a fresh key
// for the emulated Alipay, which the sandbox stores are given to trust.
func (v *validator) emulator(p *providersYAML) (Providers, error) {
	for _, f := range []struct{ path, raw string }{
		{"identity_providers.wechat.authorize_base", p.WeChat.AuthorizeBase},
		{"identity_providers.wechat.api_base", p.WeChat.APIBase},
		{"identity_providers.alipay.authorize_base", p.Alipay.AuthorizeBase},
		{"identity_providers.alipay.gateway_url", p.Alipay.GatewayURL},
	} {
		if strings.TrimSpace(f.raw) != "" {
			return Providers{}, errorf(f.path, "leave the URLs out with emulator: true (the service serves the emulator under its own /walletsim/)")
		}
	}
	key := v.opts.EmulatorKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return Providers{}, errorf("identity_providers.emulator", "cannot generate the emulated Alipay's key: %v", err)
		}
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return Providers{}, errorf("identity_providers.emulator", "cannot encode the emulated Alipay's key: %v", err)
	}
	v.emulatorKey = key
	v.emulatorPub = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	// The URLs are the service's own, known once it listens: app.New
	// fills them in from the public URL.
	return Providers{Emulator: true, EmulatorAlipayKey: key}, nil
}

// onlySandbox refuses the emulator in a file with a store that is not a
// sandbox store: the emulator hands any payer any identity, which is only
// harmless where no real money moves.
func onlySandbox(ms []*checkout.Merchant) error {
	for i, m := range ms {
		for j, st := range m.Stores {
			if !st.Sandbox {
				return errorf("identity_providers.emulator", "merchants[%d].stores[%d] is not a sandbox store (sandbox: true): the emulator approves every payer, so only a file of sandbox stores may use it; point a live store at the real providers", i, j)
			}
		}
	}
	return nil
}

func (v *validator) merchant(path string, y *merchantYAML) (*checkout.Merchant, error) {
	m := &checkout.Merchant{}
	var err error
	if m.ID, err = v.id(path+".id", y.ID); err != nil {
		return nil, err
	}
	if m.Name, err = v.name(path+".name", y.Name, true); err != nil {
		return nil, err
	}
	if m.RegisteredName, err = v.name(path+".registered_name", y.RegisteredName, false); err != nil {
		return nil, err
	}
	if len(y.APIKeys) == 0 {
		return nil, errorf(path+".api_keys", "list at least one API key hash (create a key and its hash with `checkout hash-key -new`)")
	}
	for i, raw := range y.APIKeys {
		p := fmt.Sprintf("%s.api_keys[%d]", path, i)
		k, err := v.apiKey(p, raw.Hash)
		if err != nil {
			return nil, err
		}
		if k.Label, k.Hint, err = v.keyLabel(p, raw); err != nil {
			return nil, err
		}
		m.APIKeys = append(m.APIKeys, k)
	}

	if m.WebhookURL, m.WebhookSecrets, err = v.webhook(path+".webhook", &y.Webhook); err != nil {
		return nil, err
	}

	if y.LogoURL != "" {
		// Fetched at start by the webhooks' guarded client: the same rule.
		if err := v.webhookURL(y.LogoURL); err != nil {
			return nil, errorf(path+".logo_url", "%s", err)
		}
		m.LogoURL = y.LogoURL
	}

	if len(y.RedirectHosts) == 0 {
		return nil, errorf(path+".redirect_hosts", "list the hosts success and cancel URLs may point to (e.g. shop.example.com)")
	}
	seen := map[string]bool{}
	for i, raw := range y.RedirectHosts {
		p := fmt.Sprintf("%s.redirect_hosts[%d]", path, i)
		h, err := v.str(p, raw)
		if err != nil {
			return nil, err
		}
		h = strings.ToLower(h)
		if !hostRe.MatchString(h) || len(h) > 253 {
			return nil, errorf(p, "%q is not a host name (write shop.example.com or shop.example.com:8443: no scheme, path or wildcard)", h)
		}
		if seen[h] {
			return nil, errorf(p, "%q is listed twice", h)
		}
		seen[h] = true
		m.RedirectHosts = append(m.RedirectHosts, h)
	}

	if y.MaxAmount < 0 {
		return nil, errorf(path+".max_amount", "must be a positive number of fen, or 0 (absent) for the service default")
	}
	m.MaxAmount = int64(y.MaxAmount)

	if len(y.Stores) == 0 {
		return nil, errorf(path+".stores", "list at least one store; the first is the merchant's default")
	}
	storeIDs := map[string]int{}
	for i := range y.Stores {
		p := fmt.Sprintf("%s.stores[%d]", path, i)
		st, gs, err := v.store(p, &y.Stores[i], m.Name)
		if err != nil {
			return nil, err
		}
		if j, dup := storeIDs[st.ID]; dup {
			return nil, errorf(p+".id", "%q is already the id of %s.stores[%d]", st.ID, path, j)
		}
		storeIDs[st.ID] = i
		// The open_id is unique already (v.gateway says where it was used
		// first), so Add has nothing left to refuse.
		if err := v.accounts.Add(m.ID, st.ID, gs); err != nil {
			return nil, errorf(p+".gateway", "%v", err)
		}
		m.Stores = append(m.Stores, st)
	}
	if m.Console, err = v.console(path+".console", &y.Console); err != nil {
		return nil, err
	}
	live := false
	for _, st := range m.Stores {
		live = live || !st.Sandbox
	}
	for i := range m.APIKeys {
		m.APIKeys[i].Live = live
	}
	return m, nil
}

func (v *validator) id(path, raw string) (string, error) {
	s, err := v.str(path, raw)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", errorf(path, "is required")
	}
	if !idRe.MatchString(s) {
		return "", errorf(path, "%q must be 1 to 32 lowercase letters, digits, _ or -, starting with a letter or digit", s)
	}
	return s, nil
}

func (v *validator) name(path, raw string, required bool) (string, error) {
	s, err := v.str(path, raw)
	if err != nil {
		return "", err
	}
	if s == "" && required {
		return "", errorf(path, "is required (payers see it on the checkout page)")
	}
	if n := len([]rune(s)); n > maxNameLen {
		return "", errorf(path, "is %d characters; at most %d", n, maxNameLen)
	}
	return s, nil
}

// keyLabel checks an API key's optional label and hint.
func (v *validator) keyLabel(path string, raw apiKeyYAML) (label, hint string, err error) {
	if label, err = v.str(path+".label", raw.Label); err != nil {
		return "", "", err
	}
	if !checkout.ValidKeyLabel(label) {
		return "", "", errorf(path+".label", "must be at most %d printable characters", checkout.MaxKeyLabelLen)
	}
	if hint, err = v.str(path+".hint", raw.Hint); err != nil {
		return "", "", err
	}
	if hint != "" && !checkout.ValidKeyHint(hint) {
		// Never echo it: it may be the key itself.
		return "", "", errorf(path+".hint", "must be the key's prefix, … and its last four characters (sk_live_…a1B2), as `checkout hash-key` prints it")
	}
	return label, hint, nil
}

func (v *validator) apiKey(path, raw string) (checkout.APIKey, error) {
	s, err := v.str(path, raw)
	if err != nil {
		return checkout.APIKey{}, err
	}
	if strings.HasPrefix(s, "sk_") {
		// Never echo the key: this message lands in logs.
		return checkout.APIKey{}, errorf(path, "is a plain API key; store only its hash: run `checkout hash-key` with your key on standard input and put the sha256:… line it prints here")
	}
	s = strings.ToLower(s)
	if !hashRe.MatchString(s) {
		return checkout.APIKey{}, errorf(path, "must be sha256: followed by 64 hex digits, as `checkout hash-key` prints")
	}
	if first, dup := v.keys[s]; dup {
		return checkout.APIKey{}, errorf(path, "the same key hash is already used at %s", first)
	}
	v.keys[s] = path
	h := strings.TrimPrefix(s, "sha256:")
	// The plain key is not known here, so neither its prefix (the usual
	// public id) nor whether it is live can be read from it: the id is the
	// start of the hash, and Live is set from the merchant's stores.
	return checkout.APIKey{ID: "sha256:" + h[:8], Hash: h}, nil
}

func (v *validator) webhook(path string, y *webhookYAML) (string, []checkout.Secret, error) {
	u, err := v.str(path+".url", y.URL)
	if err != nil {
		return "", nil, err
	}
	if u != "" {
		if err := v.webhookURL(u); err != nil {
			return "", nil, errorf(path+".url", "%v", err)
		}
	}
	if len(y.Secrets) > maxWebhookSecrets {
		return "", nil, errorf(path+".secrets", "has %d secrets; at most %d (the current one and the one being rotated out)", len(y.Secrets), maxWebhookSecrets)
	}
	var secrets []checkout.Secret
	for i, raw := range y.Secrets {
		p := fmt.Sprintf("%s.secrets[%d]", path, i)
		s, err := v.str(p, raw)
		if err != nil {
			return "", nil, err
		}
		if len(s) < MinSecretLen {
			return "", nil, errorf(p, "is %d bytes; at least %d (generate one with `openssl rand -base64 32`)", len(s), MinSecretLen)
		}
		secrets = append(secrets, checkout.Secret(s))
	}
	if u != "" && len(secrets) == 0 {
		return "", nil, errorf(path+".secrets", "a webhook url needs a secret to sign its deliveries (generate one with `openssl rand -base64 32`)")
	}
	return u, secrets, nil
}

// webhookURL refuses URLs that would let a merchant make the service call
// into its own network, unless the operator allows private webhooks.
func (v *validator) webhookURL(s string) error {
	if err := httpURL(s); err != nil {
		return err
	}
	if v.opts.AllowPrivateWebhooks {
		return nil
	}
	u, _ := url.Parse(s)
	if u.Scheme != "https" {
		return fmt.Errorf("%q must use https (set CHECKOUT_ALLOW_PRIVATE_WEBHOOKS=true for local development)", s)
	}
	// Names are resolved, and checked again, only when a webhook is delivered.
	if class := hostclass.Of(u.Hostname()); class.Internal() {
		return fmt.Errorf("%q points at a loopback or private address (%s; set CHECKOUT_ALLOW_PRIVATE_WEBHOOKS=true for local development)", s, class)
	}
	return nil
}

func (v *validator) store(path string, y *storeYAML, merchantName string) (*checkout.Store, *gateway.Store, error) {
	st := &checkout.Store{Sandbox: y.Sandbox}
	var err error
	if st.ID, err = v.id(path+".id", y.ID); err != nil {
		return nil, nil, err
	}
	if st.Name, err = v.name(path+".name", y.Name, false); err != nil {
		return nil, nil, err
	}
	if st.Name == "" {
		st.Name = merchantName
	}

	late, err := v.str(path+".late_payment", y.LatePayment)
	if err != nil {
		return nil, nil, err
	}
	if p := checkout.LatePolicy(late); p != "" && !p.Valid() {
		return nil, nil, errorf(path+".late_payment", "%q is not accept or refund", late)
	}
	st.LatePolicy = checkout.EffectiveLatePolicy(checkout.LatePolicy(late))

	gs, err := v.gateway(path+".gateway", &y.Gateway)
	if err != nil {
		return nil, nil, err
	}
	if st.WeChat, err = v.wechat(path+".wechat", &y.WeChat); err != nil {
		return nil, nil, err
	}
	if st.Alipay, err = v.alipay(path+".alipay", &y.Alipay); err != nil {
		return nil, nil, err
	}
	if !st.WeChat.Enabled && !st.Alipay.Enabled {
		return nil, nil, errorf(path, "enables no wallet; set wechat.enabled or alipay.enabled to true")
	}
	return st, gs, nil
}

func (v *validator) gateway(path string, y *gatewayYAML) (*gateway.Store, error) {
	base, err := v.str(path+".base_url", y.BaseURL)
	if err != nil {
		return nil, err
	}
	if base == "" {
		return nil, errorf(path+".base_url", "is required (the gateway's protocol root, e.g. https://api.example.com/mct1)")
	}
	if err := httpURL(base); err != nil {
		return nil, errorf(path+".base_url", "%v", err)
	}
	openID, err := v.str(path+".open_id", y.OpenID)
	if err != nil {
		return nil, err
	}
	if openID == "" {
		return nil, errorf(path+".open_id", "is required")
	}
	if !openIDRe.MatchString(openID) {
		return nil, errorf(path+".open_id", "must be letters and digits (the gateway gives a 32-character id)")
	}
	if first, dup := v.openIDs[openID]; dup {
		return nil, errorf(path+".open_id", "%q is already used at %s; each gateway store belongs to one store here", openID, first)
	}
	v.openIDs[openID] = path + ".open_id"
	key, err := v.str(path+".open_key", y.OpenKey)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errorf(path+".open_key", "is required")
	}
	if len(key) != 32 {
		return nil, errorf(path+".open_key", "must be exactly 32 bytes (got %d)", len(key))
	}
	pass, err := v.str(path+".shop_pass", y.ShopPass)
	if err != nil {
		return nil, err
	}
	if pass == "" {
		return nil, errorf(path+".shop_pass", "is required: refunds (including the automatic refund of a double payment) need the store's supervisor password")
	}
	st, err := gateway.NewStore(base, openID, key, pass)
	if err != nil {
		return nil, errorf(path, "%v", err)
	}
	return st, nil
}

func (v *validator) mode(path, raw string, enabled bool) (checkout.WalletMode, error) {
	s, err := v.str(path, raw)
	if err != nil {
		return "", err
	}
	switch checkout.WalletMode(s) {
	case "":
		if enabled {
			return "", errorf(path, "is required when enabled: native (JS bridge, needs the app credentials) or redirect (the gateway's hosted page)")
		}
		return "", nil
	case checkout.ModeNative, checkout.ModeRedirect:
		return checkout.WalletMode(s), nil
	}
	return "", errorf(path, "%q is not native or redirect", s)
}

func (v *validator) pmtTag(path, raw string) (string, error) {
	s, err := v.str(path, raw)
	if err != nil {
		return "", err
	}
	if s != "" && !pmtTagRe.MatchString(s) {
		return "", errorf(path, "%q must be letters and digits, as the gateway's paylist names it (e.g. Weixin)", s)
	}
	return s, nil
}

func (v *validator) wechat(path string, y *wechatYAML) (checkout.WeChatConfig, error) {
	c := checkout.WeChatConfig{Enabled: y.Enabled}
	var err error
	if c.Mode, err = v.mode(path+".mode", y.Mode, y.Enabled); err != nil {
		return c, err
	}
	if c.PmtTag, err = v.pmtTag(path+".pmt_tag", y.PmtTag); err != nil {
		return c, err
	}
	appID, secret, err := v.app(path+".app_id", y.AppID, path+".app_secret", y.AppSecret, wechatIDRe, "wx followed by 16 lowercase letters or digits")
	if err != nil {
		return c, err
	}
	c.AppID, c.AppSecret = appID, secret
	if c.Enabled && c.Mode == checkout.ModeNative && appID == "" {
		return c, errorf(path+".app_id", "is required in native mode (the official account's appid, for the payer's openid)")
	}
	mpID, mpSecret, err := v.app(path+".mini_program_app_id", y.MiniProgramAppID, path+".mini_program_secret", y.MiniProgramSecret, wechatIDRe, "wx followed by 16 lowercase letters or digits")
	if err != nil {
		return c, err
	}
	c.MiniProgramAppID, c.MiniProgramSecret = mpID, mpSecret
	return c, nil
}

// app checks an app id and its secret: both or neither.
func (v *validator) app(idPath, rawID, secretPath, rawSecret string, re *regexp.Regexp, shape string) (string, checkout.Secret, error) {
	id, err := v.str(idPath, rawID)
	if err != nil {
		return "", "", err
	}
	secret, err := v.str(secretPath, rawSecret)
	if err != nil {
		return "", "", err
	}
	switch {
	case id == "" && secret == "":
		return "", "", nil
	case id == "":
		return "", "", errorf(idPath, "is required when %s is set", lastField(secretPath))
	case secret == "":
		return "", "", errorf(secretPath, "is required when %s is set", lastField(idPath))
	case !re.MatchString(id):
		return "", "", errorf(idPath, "%q must be %s", id, shape)
	}
	return id, checkout.Secret(secret), nil
}

func lastField(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

func (v *validator) alipay(path string, y *alipayYAML) (checkout.AlipayConfig, error) {
	c := checkout.AlipayConfig{Enabled: y.Enabled}
	var err error
	if c.Mode, err = v.mode(path+".mode", y.Mode, y.Enabled); err != nil {
		return c, err
	}
	if c.PmtTag, err = v.pmtTag(path+".pmt_tag", y.PmtTag); err != nil {
		return c, err
	}
	if c.AppID, err = v.str(path+".app_id", y.AppID); err != nil {
		return c, err
	}
	if c.AppID != "" && !alipayIDRe.MatchString(c.AppID) {
		return c, errorf(path+".app_id", "%q must be the 16-digit app id from Alipay's open platform", c.AppID)
	}
	priv, err := v.str(path+".private_key", y.PrivateKey)
	if err != nil {
		return c, err
	}
	if priv != "" {
		// The pages parse the key with the same function; a key it refuses
		// (too short, say) must stop the start, not the payer's page.
		if _, err := wallet.ParseRSAPrivateKey(priv); err != nil {
			return c, errorf(path+".private_key", "%v", err)
		}
		c.PrivateKey = checkout.Secret(priv)
	}
	if c.AlipayPublicKey, err = v.str(path+".alipay_public_key", y.AlipayPublicKey); err != nil {
		return c, err
	}
	if v.emulatorKey != nil {
		if c.AlipayPublicKey != "" {
			return c, errorf(path+".alipay_public_key", "leave it out with identity_providers.emulator: the service trusts the emulator's own key, generated at start")
		}
		// Only for a store that identifies Alipay payers at all.
		if c.AppID != "" || priv != "" || (c.Enabled && c.Mode == checkout.ModeNative) {
			c.AlipayPublicKey = v.emulatorPub
		}
	}
	if c.AlipayPublicKey != "" {
		if _, err := wallet.ParseRSAPublicKey(c.AlipayPublicKey); err != nil {
			return c, errorf(path+".alipay_public_key", "%v", err)
		}
	}
	set := map[string]bool{"app_id": c.AppID != "", "private_key": priv != "", "alipay_public_key": c.AlipayPublicKey != ""}
	needed := c.Enabled && c.Mode == checkout.ModeNative
	if needed || set["app_id"] || set["private_key"] || set["alipay_public_key"] {
		for _, f := range []string{"app_id", "private_key", "alipay_public_key"} {
			if !set[f] {
				if needed {
					return c, errorf(path+"."+f, "is required in native mode (app_id, private_key and alipay_public_key identify the payer through auth_base)")
				}
				return c, errorf(path+"."+f, "is required when any of app_id, private_key, alipay_public_key is set")
			}
		}
	}
	return c, nil
}

// emailRe is a plain address shape: something, @, a dotted domain.
var emailRe = regexp.MustCompile(`^[^@\s]{1,64}@[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\.[a-z]{2,63}$`)

// console checks a merchant's console users and support's refund limits.
func (v *validator) console(path string, y *consoleYAML) (checkout.Console, error) {
	var c checkout.Console
	lim := y.SupportRefundLimits
	if lim.PerRefund < 0 {
		return c, errorf(path+".support_refund_limits.per_refund", "must be a whole number of fen, 0 or more")
	}
	if lim.PerDay < 0 {
		return c, errorf(path+".support_refund_limits.per_day", "must be a whole number of fen, 0 or more")
	}
	if lim.PerDay < lim.PerRefund {
		return c, errorf(path+".support_refund_limits.per_day", "is %d fen, less than per_refund (%d): one refund could never use its limit", lim.PerDay, lim.PerRefund)
	}
	c.SupportLimits = checkout.RefundLimits{PerRefund: int64(lim.PerRefund), PerDay: int64(lim.PerDay)}
	for i := range y.Users {
		p := fmt.Sprintf("%s.users[%d]", path, i)
		u, err := v.consoleUser(p, &y.Users[i])
		if err != nil {
			return c, err
		}
		c.Users = append(c.Users, u)
	}
	return c, nil
}

func (v *validator) consoleUser(path string, y *consoleUserYAML) (*checkout.ConsoleUser, error) {
	u := &checkout.ConsoleUser{}
	email, err := v.str(path+".email", y.Email)
	if err != nil {
		return nil, err
	}
	email = strings.ToLower(email)
	switch {
	case email == "":
		return nil, errorf(path+".email", "is required (the user signs in with it)")
	case len(email) > 254 || !emailRe.MatchString(email):
		return nil, errorf(path+".email", "%q is not an email address", email)
	}
	if first, dup := v.emails[email]; dup {
		return nil, errorf(path+".email", "%q is already a console user at %s; an email belongs to one merchant", email, first)
	}
	v.emails[email] = path + ".email"
	u.Email = email

	hash, err := v.str(path+".password_hash", y.PasswordHash)
	if err != nil {
		return nil, err
	}
	switch {
	case hash == "":
		return nil, errorf(path+".password_hash", "is required: run `checkout hash-password` and put the $argon2id$… line it prints here")
	case !strings.HasPrefix(hash, "$"):
		// Never echo it: it may be the password itself.
		return nil, errorf(path+".password_hash", "is not a hash; store only the hash: run `checkout hash-password` and put the $argon2id$… line it prints here")
	}
	if err := console.CheckHash(hash); err != nil {
		return nil, errorf(path+".password_hash", "%v", err)
	}
	u.PasswordHash = hash

	role, err := v.str(path+".role", y.Role)
	if err != nil {
		return nil, err
	}
	u.Role = checkout.Role(role)
	if !u.Role.Valid() {
		if role == "" {
			return nil, errorf(path+".role", "is required: viewer, support or admin")
		}
		return nil, errorf(path+".role", "%q is not viewer, support or admin", role)
	}

	if raw := strings.TrimSpace(y.TOTPSecret); raw != "" {
		if !envRefRe.MatchString(raw) {
			// Never echo it: it is the secret.
			return nil, errorf(path+".totp_secret", "must be an environment reference such as ${SHOP_ADMIN_TOTP}, not the secret itself")
		}
		secret, err := v.str(path+".totp_secret", raw)
		if err != nil {
			return nil, err
		}
		if err := console.CheckTOTPSecret(secret); err != nil {
			return nil, errorf(path+".totp_secret", "%v", err)
		}
		u.TOTPSecret = checkout.Secret(strings.ToUpper(strings.TrimRight(secret, "=")))
	}
	return u, nil
}

// httpURL checks an absolute http(s) URL without user info or fragment.
func httpURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must start with https:// (or http://)", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q must not contain user info", redactUser(u))
	case u.Fragment != "":
		return fmt.Errorf("%q must not have a #fragment", s)
	}
	return nil
}

// redactUser hides user info, which may be a password, from messages.
func redactUser(u *url.URL) string {
	c := *u
	c.User = url.User("…")
	return c.String()
}

// HashAPIKeyLine is what `checkout hash-key` prints and the merchants file
// stores: "sha256:" and the hex SHA-256 of the whole key.
func HashAPIKeyLine(key string) string {
	return "sha256:" + checkout.HashAPIKey(key)
}
