package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// TestStartRefusesWeakAlipayKey: the pages parse Alipay keys with wallet's
// parser, which refuses keys under 2048 bits. The start checks them with the
// same parser, so a 1024-bit key stops it with one line naming the field,
// instead of a store whose Alipay pages fail for every payer.
func TestStartRefusesWeakAlipayKey(t *testing.T) {
	strong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := func(k *rsa.PrivateKey) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
	pubPEM := func(k *rsa.PrivateKey) string {
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	src, err := os.ReadFile("testdata/merchants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("        wechat: {enabled: true, mode: redirect}"), []byte(
		"        wechat: {enabled: true, mode: redirect}\n"+
			"        alipay: {enabled: true, mode: native, app_id: \"2021001234567890\", private_key: \"${SHOP_ALIPAY_KEY}\", alipay_public_key: \"${SHOP_ALIPAY_PUB}\"}"), 1)
	src = bytes.ReplaceAll(src, []byte("HASH_OF_TEST_KEY"), []byte("sha256:3d6d7f0c8a5b0e1a6f1c4c3f1f4f2d9a7d1e6b7c3a9e8f2b1c0d9e8f7a6b5c4d"))
	path := filepath.Join(t.TempDir(), "merchants.yaml")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, priv, pub, want string
	}{
		{"private key", privPEM(weak), pubPEM(strong), "config: merchants[0].stores[0].alipay.private_key: is a 1024-bit RSA key; RSA2 needs at least 2048 bits\n"},
		{"Alipay's public key", privPEM(strong), pubPEM(weak), "config: merchants[0].stores[0].alipay.alipay_public_key: is a 1024-bit RSA key; RSA2 needs at least 2048 bits\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runToExit(t, map[string]string{
				"CHECKOUT_ADDR":           "127.0.0.1:0",
				"CHECKOUT_CONFIG":         path,
				"CHECKOUT_SESSION_KEYS":   testSessionKey,
				"CHECKOUT_SIGNING_SECRET": testSigning,
				"SHOP_OPEN_KEY":           "0828e83720fdbe3685a7b94214af04f9",
				"SHOP_PASS":               "supervisor",
				"SHOP_ALIPAY_KEY":         tt.priv,
				"SHOP_ALIPAY_PUB":         tt.pub,
			})
			if code != exitUsage || stderr != tt.want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and exactly:\n%s", code, stderr, exitUsage, tt.want)
			}
		})
	}
}
