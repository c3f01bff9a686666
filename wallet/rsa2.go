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

// keyDER returns the DER bytes of a key given as PEM (any block type, so
// test keys labelled "TESTING KEY" work) or as bare base64.
func keyDER(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty key")
	}
	if strings.Contains(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("no PEM block")
		}
		return block.Bytes, nil
	}
	compact := strings.Join(strings.Fields(s), "")
	der, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return nil, errors.New("neither PEM nor base64")
	}
	return der, nil
}

// ParseRSAPrivateKey reads an RSA private key in PKCS#1 or PKCS#8, as PEM or
// as bare base64. Keys under 2048 bits are refused.
func ParseRSAPrivateKey(s string) (*rsa.PrivateKey, error) {
	der, err := keyDER(s)
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PKCS#8 key is %T, not RSA", k)
		}
		key = rk
	} else {
		return nil, errors.New("not a PKCS#1 or PKCS#8 RSA private key")
	}
	if key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", key.N.BitLen(), minRSABits)
	}
	return key, nil
}

// ParseRSAPublicKey reads an RSA public key in PKIX (or PKCS#1), as PEM or as
// bare base64. Keys under 2048 bits are refused.
func ParseRSAPublicKey(s string) (*rsa.PublicKey, error) {
	der, err := keyDER(s)
	if err != nil {
		return nil, err
	}
	var key *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("PKIX key is %T, not RSA", k)
		}
		key = rk
	} else if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		key = k
	} else {
		return nil, errors.New("not a PKIX or PKCS#1 RSA public key")
	}
	if key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", key.N.BitLen(), minRSABits)
	}
	return key, nil
}
