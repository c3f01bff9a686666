package gateway

import (
	"fmt"
	"net/url"
	"strconv"
)

// RequestForm is the four form fields every call carries.
type RequestForm struct {
	OpenID    string
	Timestamp string
	Data      string // hex of the AES ciphertext of the request JSON
	Sign      string
}

// SealRequest encrypts payload (the request JSON) under key and signs the
// form, as document 2.4 describes.
func SealRequest(key Key, openID string, unix int64, payload []byte) RequestForm {
	f := RequestForm{
		OpenID:    openID,
		Timestamp: strconv.FormatInt(unix, 10),
		Data:      Encrypt(key, payload),
	}
	f.Sign = Sign(key, []Field{{"data", f.Data}, {"open_id", f.OpenID}, {"timestamp", f.Timestamp}})
	return f
}

// Encode writes the form as application/x-www-form-urlencoded.
func (f RequestForm) Encode() string {
	b := make([]byte, 0, len(f.Data)+len(f.OpenID)+96)
	b = append(b, "open_id="...)
	b = append(b, url.QueryEscape(f.OpenID)...)
	b = append(b, "&timestamp="...)
	b = append(b, url.QueryEscape(f.Timestamp)...)
	b = append(b, "&data="...)
	b = append(b, url.QueryEscape(f.Data)...)
	b = append(b, "&sign="...)
	b = append(b, url.QueryEscape(f.Sign)...)
	return string(b)
}

// OpenRequest is the gateway's side of SealRequest: it verifies sign over
// every other received field plus open_key, then decrypts data. The errors
// are ErrMissingSign, ErrBadSign and those of Decrypt.
func OpenRequest(key Key, form url.Values) ([]byte, error) {
	fields := make([]Field, 0, len(form))
	for k, vs := range form {
		if k == "sign" || len(vs) == 0 {
			continue
		}
		fields = append(fields, Field{k, vs[0]})
	}
	if err := VerifySign(key, fields, form.Get("sign")); err != nil {
		return nil, err
	}
	return Decrypt(key, form.Get("data"))
}

// Envelope is the outer JSON of a gateway answer, with its members as the
// text that the signature covers.
type Envelope struct {
	Code    Code
	Msg     string
	Data    string // hex, empty when absent
	Sign    string
	HasData bool
	// Fields holds every member but sign, as signed text.
	Fields []Field
}

// ParseEnvelope reads a gateway answer's outer JSON without verifying it.
// Member values become the text the signature covers: strings unescaped,
// numbers as written, true as "1", false and null as "".
func ParseEnvelope(body []byte) (*Envelope, error) {
	env := &Envelope{Fields: make([]Field, 0, 6)}
	hasCode := false
	// One copy of the body as a string; every member's text is then a
	// substring of it, with no copy of the (large) data member.
	err := scanObject(string(body), func(k string, v string) error {
		text, err := memberText(v)
		if err != nil {
			return fmt.Errorf("member %q: %v", k, err)
		}
		switch k {
		case "sign":
			env.Sign = text
			return nil
		case "errcode":
			c, err := parseLooseInt(v)
			if err != nil {
				return fmt.Errorf("errcode: %v", err)
			}
			env.Code, hasCode = Code(c), true
		case "msg":
			env.Msg = text
		case "data":
			env.Data = text
			env.HasData = text != ""
		}
		env.Fields = append(env.Fields, Field{k, text})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !hasCode {
		return nil, fmt.Errorf("%w: no errcode", ErrMalformed)
	}
	return env, nil
}

// memberText renders one top-level member the way the PHP server saw it when
// it signed: strings unescaped, numbers as written, true "1", false/null "".
func memberText(v string) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	switch v[0] {
	case '"':
		return unquote(v)
	case 't':
		return "1", nil
	case 'f', 'n':
		return "", nil
	case '{', '[':
		return "", fmt.Errorf("nested value cannot be signed")
	}
	return v, nil
}

// OpenResponse checks a gateway answer and returns its decrypted data (nil
// when the answer carries none). A non-zero errcode gives an *APIError; a
// present data with a missing or wrong sign gives ErrMissingSign or
// ErrBadSign; undecryptable data the errors of Decrypt.
func OpenResponse(key Key, endpoint string, body []byte) ([]byte, error) {
	env, err := ParseEnvelope(body)
	if err != nil {
		return nil, err
	}
	if env.Code != CodeOK {
		return nil, &APIError{Endpoint: endpoint, Code: env.Code, Msg: env.Msg}
	}
	if !env.HasData {
		return nil, nil
	}
	if err := VerifySign(key, env.Fields, env.Sign); err != nil {
		return nil, err
	}
	plain, err := Decrypt(key, env.Data)
	if err != nil {
		return nil, err
	}
	// A wrong key passes the padding check about once in 256 tries; what
	// comes out then is not JSON. A full parse follows in the caller.
	if i := skipSpace(plain, 0); i == len(plain) || (plain[i] != '{' && plain[i] != '[') {
		return nil, ErrWrongKey
	}
	return plain, nil
}
