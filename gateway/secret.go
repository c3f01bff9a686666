package gateway

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Key is a store's open_key: exactly 32 bytes, used as they are as the
// AES-256 key and mixed into every signature. It never prints.
type Key struct {
	raw   string
	block cipher.Block
}

// ParseKey checks that s is exactly 32 bytes and prepares the cipher. The key
// is never hex-decoded or hashed: the document's keys are not always hex.
func ParseKey(s string) (Key, error) {
	if len(s) != 32 {
		return Key{}, fmt.Errorf("%w: got %d bytes", ErrKeyLength, len(s))
	}
	block, err := aes.NewCipher([]byte(s))
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrKeyLength, err)
	}
	return Key{raw: s, block: block}, nil
}

// MustParseKey is ParseKey for keys known at compile time (tests, examples).
func MustParseKey(s string) Key {
	k, err := ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// IsZero reports whether the key was never set.
func (k Key) IsZero() bool { return k.block == nil }

// Equal compares two keys.
func (k Key) Equal(o Key) bool { return k.raw == o.raw }

// String hides the key.
func (k Key) String() string { return redacted }

// GoString hides the key from %#v.
func (k Key) GoString() string { return redacted }

// LogValue hides the key from slog.
func (k Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the key from encoders.
func (k Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Secret is a string that never prints: the refund supervisor password, app
// secrets. Reveal returns the value for the one place that needs it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String hides the secret.
func (s Secret) String() string { return redacted }

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return redacted }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the secret from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// PasswordSHA1 is how the gateway wants passwords: lowercase sha1 hex.
func PasswordSHA1(password string) string {
	sum := sha1.Sum([]byte(password))
	return hex.EncodeToString(sum[:])
}
