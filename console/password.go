package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// The argon2id parameters new hashes get: OWASP's second recommended set
// (19 MiB, 2 passes, 1 lane), which keeps a sign-in near 30 ms on one core
// of a small machine.
const (
	hashMemory  = 19 * 1024 // KiB
	hashTime    = 2
	hashThreads = 1
	saltLen     = 16
	keyLen      = 32
)

// Bounds on what a stored hash may ask for: a file with absurd parameters
// would make each sign-in (and each unknown email's decoy) a denial of
// service.
const (
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 10
	maxThreads = 8
)

// MinPasswordLen is the shortest password hash-password accepts.
const MinPasswordLen = 10

// MaxPasswordLen bounds a password, here and at sign-in.
const MaxPasswordLen = 256

// ErrBadHash is wrapped by every error of parsing a stored hash.
var ErrBadHash = errors.New("not an argon2id hash")

// params are one hash's argon2id parameters, salt and key.
type params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// HashPassword returns password's argon2id hash in the PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded base64).
func HashPassword(password string) (string, error) {
	switch {
	case len([]rune(password)) < MinPasswordLen:
		return "", fmt.Errorf("the password is shorter than %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return "", fmt.Errorf("the password is longer than %d bytes", MaxPasswordLen)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, hashTime, hashMemory, hashThreads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, hashMemory, hashTime, hashThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckHash reports why s is not a hash VerifyPassword can use, or nil.
func CheckHash(s string) error {
	_, err := parseHash(s)
	return err
}

func parseHash(s string) (*params, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, fmt.Errorf("%w: want $argon2id$v=19$m=…,t=…,p=…$salt$key as `checkout hash-password` prints", ErrBadHash)
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, fmt.Errorf("%w: version %q, want v=%d", ErrBadHash, parts[2], argon2.Version)
	}
	p := &params{}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil || n != 3 {
		return nil, fmt.Errorf("%w: parameters %q, want m=…,t=…,p=…", ErrBadHash, parts[3])
	}
	if p.memory < 8*threads || p.memory > maxMemory || p.time < 1 || p.time > maxTime || threads < 1 || threads > maxThreads {
		return nil, fmt.Errorf("%w: parameters %q out of bounds (m ≤ %d KiB, 1 ≤ t ≤ %d, 1 ≤ p ≤ %d)", ErrBadHash, parts[3], maxMemory, maxTime, maxThreads)
	}
	p.threads = uint8(threads)
	var err error
	b64 := base64.RawStdEncoding
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return nil, fmt.Errorf("%w: the salt is not unpadded base64 of 8 bytes or more", ErrBadHash)
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return nil, fmt.Errorf("%w: the key is not unpadded base64 of 16 to 64 bytes", ErrBadHash)
	}
	return p, nil
}

// VerifyPassword reports whether password matches hash, comparing in
// constant time. A hash it cannot parse matches nothing.
func VerifyPassword(password, hash string) bool {
	p, err := parseHash(hash)
	if err != nil || len(password) > MaxPasswordLen {
		return false
	}
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1
}

// decoyHash is verified against when the email is unknown, so that an
// unknown email costs a sign-in the same work as a wrong password and the
// answer's timing names no account.
// It is made on first use, not at start: most runs of the binary never
// need it.
var decoyHash = sync.OnceValue(func() string {
	h, err := HashPassword("decoy-password-never-matches")
	if err != nil {
		panic(err) // only a broken crypto/rand
	}
	return h
})

// VerifyDecoy does the work of one VerifyPassword and reports false.
func VerifyDecoy(password string) bool {
	VerifyPassword(password, decoyHash())
	return false
}
