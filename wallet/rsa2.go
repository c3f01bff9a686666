package wallet

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// minRSABits is the smallest key Alipay issues for RSA2.
const minRSABits = 2048

// AlipaySignContent is the string Alipay's RSA2 signature covers: the
// parameters sorted by name as k=v joined by &, without sign and without
// empty values, values as they are (not URL-escaped). Only the first value of
// a repeated parameter counts, as only one is sent.
func AlipaySignContent(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k, vs := range params {
		if k == "sign" || len(vs) == 0 || vs[0] == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params.Get(k))
	}
	return b.String()
}

// SignRSA2 signs content with SHA256withRSA (PKCS#1 v1.5) and returns the
// standard base64 signature Alipay expects.
func SignRSA2(key *rsa.PrivateKey, content []byte) (string, error) {
	if key == nil {
		return "", errors.New("rsa2 sign: no private key")
	}
	sum := sha256.Sum256(content)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("rsa2 sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyRSA2 checks a base64 SHA256withRSA signature over content. Every
// failure, including a signature that is not base64, is ErrBadSignature.
func VerifyRSA2(pub *rsa.PublicKey, content []byte, sig string) error {
	if pub == nil {
		return fmt.Errorf("%w: no public key", ErrBadSignature)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrBadSignature)
	}
	sum := sha256.Sum256(content)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw); err != nil {
		return ErrBadSignature
	}
	return nil
}

// Why a key is refused by ParseRSAPrivateKey or ParseRSAPublicKey; check
// with errors.Is. The errors' own text follows the key's name (the
// merchants file prints "alipay.private_key: is not …") and never quotes key
// material.
var (
	// ErrKeyEncoding: the key is empty, or neither PEM nor base64.
	ErrKeyEncoding = errors.New("key encoding")
	// ErrKeyForm: the DER is not a key of the kind asked for (a public key
	// given as the private one, say) in a form Alipay uses.
	ErrKeyForm = errors.New("key form")
	// ErrKeyNotRSA: the key is not RSA (Alipay's RSA2 needs RSA).
	ErrKeyNotRSA = errors.New("key not RSA")
	// ErrKeyTooShort: the RSA key has fewer than 2048 bits.
	ErrKeyTooShort = errors.New("key too short")
)

// keyError is a refusal: one of the Err* reasons and the words for it.
type keyError struct {
	reason error
	msg    string
}

func (e *keyError) Error() string        { return e.msg }
func (e *keyError) Is(target error) bool { return target == e.reason }

func refuse(reason error, format string, args ...any) error {
	return &keyError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// keyDER returns the DER bytes of a key given as PEM (any block type, so
// test keys labelled "TESTING KEY" work) or as bare base64. kind ("private",
// "public") is for the message.
func keyDER(s, kind string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, refuse(ErrKeyEncoding, "the RSA %s key is empty", kind)
	}
	if strings.Contains(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, refuse(ErrKeyEncoding, "the RSA %s key has a -----BEGIN line but no whole PEM block", kind)
		}
		return block.Bytes, nil
	}
	compact := strings.Join(strings.Fields(s), "")
	der, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return nil, refuse(ErrKeyEncoding, "the RSA %s key is neither PEM nor base64", kind)
	}
	return der, nil
}

// checkBits refuses keys Alipay would not issue for RSA2.
func checkBits(pub *rsa.PublicKey) error {
	if n := pub.N.BitLen(); n < minRSABits {
		return refuse(ErrKeyTooShort, "is a %d-bit RSA key; RSA2 needs at least %d bits", n, minRSABits)
	}
	return nil
}

// ParseRSAPrivateKey reads an RSA private key in PKCS#1 or PKCS#8, as PEM or
// as bare base64. Keys under 2048 bits are refused. It is the one parser of
// these keys: the merchants file is checked with it at start, so a key the
// pages could not use stops the start instead.
func ParseRSAPrivateKey(s string) (*rsa.PrivateKey, error) {
	der, err := keyDER(s, "private")
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, refuse(ErrKeyNotRSA, "is not an RSA key (Alipay's RSA2 needs RSA)")
		}
		key = rk
	} else {
		return nil, refuse(ErrKeyForm, "is not an RSA private key in PKCS#1 or PKCS#8 form")
	}
	if err := checkBits(&key.PublicKey); err != nil {
		return nil, err
	}
	return key, nil
}

// ParseRSAPublicKey reads an RSA public key in PKIX (or PKCS#1), as PEM or as
// bare base64. Keys under 2048 bits are refused.
func ParseRSAPublicKey(s string) (*rsa.PublicKey, error) {
	der, err := keyDER(s, "public")
	if err != nil {
		return nil, err
	}
	var key *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, refuse(ErrKeyNotRSA, "is not an RSA key (Alipay's RSA2 needs RSA)")
		}
		key = rk
	} else if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		key = k
	} else {
		return nil, refuse(ErrKeyForm, "is not an RSA public key (PKIX \"PUBLIC KEY\" PEM or Alipay's base64)")
	}
	if err := checkBits(key); err != nil {
		return nil, err
	}
	return key, nil
}
