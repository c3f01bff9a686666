package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The merchants file as written by operators. Field names are the YAML keys;
// every string may be a ${ENV_VAR} reference, resolved before validation.
type fileYAML struct {
	IdentityProviders providersYAML  `yaml:"identity_providers"`
	Merchants         []merchantYAML `yaml:"merchants"`
}

type providersYAML struct {
	Emulator bool `yaml:"emulator"`
	WeChat   struct {
		AuthorizeBase string `yaml:"authorize_base"`
		APIBase       string `yaml:"api_base"`
	} `yaml:"wechat"`
	Alipay struct {
		AuthorizeBase string `yaml:"authorize_base"`
		GatewayURL    string `yaml:"gateway_url"`
	} `yaml:"alipay"`
}

type merchantYAML struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// RegisteredName is the merchant's registered (legal) name, shown
	// under the short code of its payment links (checkout.Merchant).
	RegisteredName string       `yaml:"registered_name"`
	APIKeys        []apiKeyYAML `yaml:"api_keys"`
	Webhook        webhookYAML  `yaml:"webhook"`
	RedirectHosts  []string     `yaml:"redirect_hosts"`
	MaxAmount      fen          `yaml:"max_amount"`
	LogoURL        string       `yaml:"logo_url"`
	Stores         []storeYAML  `yaml:"stores"`
	Console        consoleYAML  `yaml:"console"`
}

// apiKeyYAML is one of api_keys: the hash alone ("sha256:…"), or a
// mapping of the hash with an optional label and hint, which the console
// shows so people can tell the keys apart (the key itself is never
// stored).
type apiKeyYAML struct {
	Hash  string `yaml:"hash"`
	Label string `yaml:"label"`
	Hint  string `yaml:"hint"`
}

type consoleYAML struct {
	SupportRefundLimits refundLimitsYAML  `yaml:"support_refund_limits"`
	Users               []consoleUserYAML `yaml:"users"`
}

type refundLimitsYAML struct {
	PerRefund fen `yaml:"per_refund"`
	PerDay    fen `yaml:"per_day"`
}

type consoleUserYAML struct {
	Email        string `yaml:"email"`
	PasswordHash string `yaml:"password_hash"`
	Role         string `yaml:"role"`
	TOTPSecret   string `yaml:"totp_secret"`
}

type webhookYAML struct {
	URL     string   `yaml:"url"`
	Secrets []string `yaml:"secrets"`
}

type storeYAML struct {
	ID          string      `yaml:"id"`
	Name        string      `yaml:"name"`
	Sandbox     bool        `yaml:"sandbox"`
	LatePayment string      `yaml:"late_payment"`
	Gateway     gatewayYAML `yaml:"gateway"`
	WeChat      wechatYAML  `yaml:"wechat"`
	Alipay      alipayYAML  `yaml:"alipay"`
}

type gatewayYAML struct {
	BaseURL  string `yaml:"base_url"`
	OpenID   string `yaml:"open_id"`
	OpenKey  string `yaml:"open_key"`
	ShopPass string `yaml:"shop_pass"`
}

type wechatYAML struct {
	Enabled           bool   `yaml:"enabled"`
	Mode              string `yaml:"mode"`
	AppID             string `yaml:"app_id"`
	AppSecret         string `yaml:"app_secret"`
	MiniProgramAppID  string `yaml:"mini_program_app_id"`
	MiniProgramSecret string `yaml:"mini_program_secret"`
	PmtTag            string `yaml:"pmt_tag"`
}

type alipayYAML struct {
	Enabled         bool   `yaml:"enabled"`
	Mode            string `yaml:"mode"`
	AppID           string `yaml:"app_id"`
	PrivateKey      string `yaml:"private_key"`
	AlipayPublicKey string `yaml:"alipay_public_key"`
	PmtTag          string `yaml:"pmt_tag"`
}

// fen is an amount in fen. yaml would truncate 5000.5 into 5000 for an
// int64; money must not be rounded silently, so only YAML integers pass.
type fen int64

// UnmarshalYAML accepts only an integer scalar. Its error's text is never
// shown: the walker that called it names the field and the value.
func (f *fen) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err == nil {
			*f = fen(v)
			return nil
		}
	}
	return errors.New("not a whole number")
}

// maxValues bounds the values a file may hold once its aliases are
// expanded, so that a "billion laughs" file cannot stall the start.
const maxValues = 1 << 20

// decodeYAML decodes the file strictly (unknown and repeated keys are
// errors). It reads the file as a tree of nodes and walks it alongside
// fileYAML, so every problem is named by the field path and line the walk
// is at, never by reading another library's message text.
func decodeYAML(data []byte) (*fileYAML, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errorf("merchants file", "is empty; it needs a merchants: list")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errorf("merchants file", "is empty; it needs a merchants: list")
		}
		// A syntax error: the parser's own words name the line, which is
		// the best there is. They are shown, not interpreted.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, errorf("merchants file", "is not valid YAML: %s", strings.Join(strings.Fields(msg), " "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errorf("merchants file", "holds more than one YAML document; keep one")
	}
	var f fileYAML
	w := &walker{left: maxValues}
	if err := w.decode(&root, "", reflect.ValueOf(&f).Elem()); err != nil {
		return nil, err
	}
	return &f, nil
}

// walker decodes a node tree into Go values, naming the path of the first
// problem.
type walker struct {
	left int // values still allowed
}

func (w *walker) decode(n *yaml.Node, path string, v reflect.Value) *Error {
	if w.left--; w.left < 0 {
		return errorf("merchants file", "holds more than %d values once its aliases are expanded", maxValues)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return w.decode(n.Content[0], path, v)
	case yaml.AliasNode:
		if n.Alias == nil {
			return errorf(orFile(path), "uses an unknown alias (line %d)", n.Line)
		}
		return w.decode(n.Alias, path, v)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// An empty value is the zero value, as a missing key is.
		v.Set(reflect.Zero(v.Type()))
		return nil
	}
	if n.Kind == yaml.ScalarNode && v.Type() == reflect.TypeFor[apiKeyYAML]() {
		// The plain form of an API key: its hash alone.
		return w.decode(n, path, v.FieldByName("Hash"))
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return mismatch(n, path, v.Type())
		}
		return w.mapping(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return mismatch(n, path, v.Type())
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := w.decode(c, fmt.Sprintf("%s[%d]", path, i), s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	// A leaf: yaml converts the one scalar (and fen checks it); only
	// whether it could is used, not what it says.
	if n.Kind != yaml.ScalarNode || n.Decode(v.Addr().Interface()) != nil {
		return mismatch(n, path, v.Type())
	}
	return nil
}

// entry is one key of a mapping and its value.
type entry struct{ key, value *yaml.Node }

// mapping decodes a mapping into the struct v: each key must be one of its
// fields' yaml names, and appear once.
func (w *walker) mapping(n *yaml.Node, path string, v reflect.Value) *Error {
	fields := map[string]int{}
	for i := 0; i < v.NumField(); i++ {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); name != "" {
			fields[name] = i
		}
	}
	entries, err := w.entries(n, path, map[string]*yaml.Node{}, false)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := join(path, e.key.Value)
		i, ok := fields[e.key.Value]
		if !ok {
			return errorf(p, "unknown field (line %d); check its spelling and indentation", e.key.Line)
		}
		if err := w.decode(e.value, p, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

// entries lists a mapping's keys in order, then those of the mappings it
// merges (<<: *base) that it does not set itself, as yaml's own decoder
// does. A key written twice in one mapping is an error; merged ones are
// not, the first one counts.
func (w *walker) entries(n *yaml.Node, path string, seen map[string]*yaml.Node, merged bool) ([]entry, *Error) {
	var out []entry
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errorf(orFile(path), "has a key that is not a name (line %d)", k.Line)
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			if merged {
				continue
			}
			return nil, errorf(join(path, k.Value), "is set twice (lines %d and %d); keep one", first.Line, k.Line)
		}
		seen[k.Value] = k
		out = append(out, entry{k, val})
	}
	for _, m := range merges {
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			if w.left--; w.left < 0 {
				return nil, errorf("merchants file", "holds more than %d values once its aliases are expanded", maxValues)
			}
			if s.Kind == yaml.AliasNode && s.Alias != nil {
				s = s.Alias
			}
			if s.Kind != yaml.MappingNode {
				return nil, errorf(orFile(path), "merges (<<) something that is not a mapping (line %d)", s.Line)
			}
			more, err := w.entries(s, path, seen, true)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		}
	}
	return out, nil
}

// mismatch explains, in the operator's terms, a value of the wrong shape.
func mismatch(n *yaml.Node, path string, t reflect.Type) *Error {
	var want string
	switch {
	case t == reflect.TypeFor[fen]():
		want = "a whole number"
	case t.Kind() == reflect.Bool:
		want = "true or false"
	case t.Kind() == reflect.String:
		want = "a single text value"
	case t.Kind() == reflect.Slice:
		want = "a list"
	default:
		want = "a mapping of fields"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return errorf(orFile(path), "must be %s, not a mapping (line %d)", want, n.Line)
	case yaml.SequenceNode:
		return errorf(orFile(path), "must be %s, not a list (line %d)", want, n.Line)
	}
	return errorf(orFile(path), "must be %s (got %q) (line %d)", want, shown(n.Value), n.Line)
}

// shown is a value as an error may quote it: short values whole, longer
// ones by their start only, since a misplaced value may be a secret.
func shown(s string) string {
	if r := []rune(s); len(r) > 10 {
		return string(r[:7]) + "…"
	}
	return s
}

func orFile(path string) string {
	if path == "" {
		return "merchants file"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
