package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
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
	WeChat struct {
		AuthorizeBase string `yaml:"authorize_base"`
		APIBase       string `yaml:"api_base"`
	} `yaml:"wechat"`
	Alipay struct {
		AuthorizeBase string `yaml:"authorize_base"`
		GatewayURL    string `yaml:"gateway_url"`
	} `yaml:"alipay"`
}

type merchantYAML struct {
	ID            string      `yaml:"id"`
	Name          string      `yaml:"name"`
	APIKeys       []string    `yaml:"api_keys"`
	Webhook       webhookYAML `yaml:"webhook"`
	RedirectHosts []string    `yaml:"redirect_hosts"`
	MaxAmount     fen         `yaml:"max_amount"`
	Stores        []storeYAML `yaml:"stores"`
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

// UnmarshalYAML accepts only an integer scalar.
func (f *fen) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err == nil {
			*f = fen(v)
			return nil
		}
	}
	value := ""
	if n.Kind == yaml.ScalarNode {
		value = n.Value
		if len(value) > 10 {
			value = value[:7] + "..."
		}
		value = " `" + value + "`"
	}
	// The same shape as yaml's own complaints, so typeError maps it to the
	// field path.
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s%s into int64", n.Line, n.ShortTag(), value)}}
}

// decodeYAML decodes the file strictly (unknown keys are errors) and turns
// yaml's line-numbered complaints into the field path they are about.
func decodeYAML(data []byte) (*fileYAML, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errorf("merchants file", "is empty; it needs a merchants: list")
	}
	var f fileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&f)
	if err == nil {
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return nil, errorf("merchants file", "holds more than one YAML document; keep one")
		}
		return &f, nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		var root yaml.Node
		if yaml.Unmarshal(data, &root) == nil {
			return nil, typeError(&root, te.Errors[0])
		}
	}
	// A syntax error: yaml already names the line, which is the best there is.
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return nil, errorf("merchants file", "is not valid YAML: %s", msg)
}

var (
	lineRe     = regexp.MustCompile(`^line (\d+): (.*)$`)
	notFoundRe = regexp.MustCompile(`^field (\S+) not found in type`)
	cannotRe   = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
)

// typeError maps one of yaml's "line N: …" messages to a field path.
func typeError(root *yaml.Node, msg string) *Error {
	m := lineRe.FindStringSubmatch(msg)
	if m == nil {
		return errorf("merchants file", "%s", msg)
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	if nf := notFoundRe.FindStringSubmatch(rest); nf != nil {
		if path, ok := findKey(root, "", line, nf[1]); ok {
			return errorf(path, "unknown field (line %d); check its spelling and indentation", line)
		}
		return errorf("merchants file", "line %d: unknown field %s", line, nf[1])
	}
	if c := cannotRe.FindStringSubmatch(rest); c != nil {
		path, ok := findValue(root, "", line, c[2])
		if !ok {
			path = "merchants file"
		}
		return errorf(path, "%s (line %d)", wantedType(c[1], c[2], c[3]), line)
	}
	return errorf("merchants file", "line %d: %s", line, rest)
}

// wantedType explains a type mismatch in the operator's terms.
func wantedType(got, value, into string) string {
	var want string
	switch {
	case strings.HasPrefix(into, "int"):
		want = "a whole number"
	case into == "bool":
		want = "true or false"
	case into == "string":
		want = "a single text value"
	case strings.HasPrefix(into, "[]"):
		want = "a list"
	default:
		want = "a mapping of fields"
	}
	switch got {
	case "!!map":
		return fmt.Sprintf("must be %s, not a mapping", want)
	case "!!seq":
		return fmt.Sprintf("must be %s, not a list", want)
	}
	if v, cut := strings.CutSuffix(value, "..."); cut {
		value = v + "…" // yaml shortened it
	}
	return fmt.Sprintf("must be %s (got %q)", want, value)
}

// findKey finds the mapping key name on line and returns its path.
func findKey(n *yaml.Node, path string, line int, name string) (string, bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p, ok := findKey(c, path, line, name); ok {
				return p, true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if k.Line == line && k.Value == name {
				return p, true
			}
			if q, ok := findKey(v, p, line, name); ok {
				return q, true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if p, ok := findKey(c, fmt.Sprintf("%s[%d]", path, i), line, name); ok {
				return p, true
			}
		}
	}
	return "", false
}

// findValue finds the value on line that yaml complained about. yaml shows
// mappings and sequences as a placeholder, so any non-scalar on the line
// matches those.
func findValue(n *yaml.Node, path string, line int, shown string) (string, bool) {
	if n.Line == line && path != "" {
		// yaml shows no value for mappings and sequences, and the first
		// seven characters of long scalars.
		if shown == "" && n.Kind != yaml.ScalarNode || n.Kind == yaml.ScalarNode && shown != "" && strings.HasPrefix(n.Value, strings.TrimSuffix(shown, "...")) {
			return path, true
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p, ok := findValue(c, path, line, shown); ok {
				return p, true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p, ok := findValue(n.Content[i+1], join(path, n.Content[i].Value), line, shown); ok {
				return p, true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if p, ok := findValue(c, fmt.Sprintf("%s[%d]", path, i), line, shown); ok {
				return p, true
			}
		}
	}
	return "", false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
