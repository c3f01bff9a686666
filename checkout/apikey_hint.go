package checkout

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// keyHintRe is the shape of an API key's hint: its prefix, an ellipsis
// and its last four characters. Nothing longer passes, so a key pasted
// where its hint belongs is refused rather than stored.
var keyHintRe = regexp.MustCompile(`^sk_(live|test)_…[0-9A-Za-z]{4}$`)

// MaxKeyLabelLen bounds an API key's label, in characters.
const MaxKeyLabelLen = 64

// KeyHint is how people tell key apart without the key: its prefix and
// its last four characters ("sk_live_…a1B2"). "" for what is not a key.
func KeyHint(key string) string {
	for _, p := range []string{LiveKeyPrefix, TestKeyPrefix} {
		if rest, ok := strings.CutPrefix(key, p); ok && len(rest) >= 8 {
			return p + "…" + rest[len(rest)-4:]
		}
	}
	return ""
}

// ValidKeyHint reports whether s has the shape KeyHint writes.
func ValidKeyHint(s string) bool { return keyHintRe.MatchString(s) }

// ValidKeyLabel reports whether s may name an API key: at most
// MaxKeyLabelLen printable characters on one line.
func ValidKeyLabel(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxKeyLabelLen {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
