package gateway

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small reader for the gateway's outer JSON. The envelope must be read
// member by member (every member is signed, whatever its name), and doing so
// by hand is several times cheaper than a map of json.RawMessage.

var errSyntax = errors.New("invalid JSON")

// scanObject calls fn for each member of the JSON object in b, with the key
// unescaped and the value as raw JSON. Nested values are passed whole.
func scanObject[S ~string | ~[]byte](b S, fn func(key string, val S) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return errSyntax
		}
		return nil
	}
	for {
		end, err := skipString(b, i)
		if err != nil {
			return err
		}
		key, err := unquote(b[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errSyntax
		}
		i = skipSpace(b, i+1)
		vend, err := skipValue(b, i, 0)
		if err != nil {
			return err
		}
		if err := fn(key, b[i:vend]); err != nil {
			return err
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return errSyntax
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return errSyntax
			}
			return nil
		default:
			return errSyntax
		}
	}
}

func skipSpace[S ~string | ~[]byte](b S, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index just past the string literal starting at i.
// It jumps from quote to quote (memchr speed: the data member is kilobytes
// of hex) and counts the backslashes before each to tell an escaped quote.
// Raw control characters are tolerated; PHP never writes them.
func skipString[S ~string | ~[]byte](b S, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errSyntax
	}
	for i++; ; {
		j := indexByte(b[i:], '"')
		if j < 0 {
			return 0, errSyntax
		}
		q := i + j
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		i = q + 1
	}
}

func indexByte[S ~string | ~[]byte](b S, c byte) int {
	switch v := any(b).(type) {
	case string:
		return strings.IndexByte(v, c)
	case []byte:
		return bytes.IndexByte(v, c)
	}
	return strings.IndexByte(string(b), c)
}

const maxDepth = 64

// skipValue returns the index just past the JSON value starting at i. It
// checks structure, not every detail of number syntax: values it passes are
// decoded strictly later.
func skipValue[S ~string | ~[]byte](b S, i, depth int) (int, error) {
	if i >= len(b) || depth > maxDepth {
		return 0, errSyntax
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				end, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return 0, errSyntax
				}
				i = skipSpace(b, i+1)
			}
			end, err := skipValue(b, i, depth+1)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, end)
			if i >= len(b) {
				return 0, errSyntax
			}
			if b[i] == closer {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, errSyntax
			}
			i = skipSpace(b, i+1)
		}
	case c == '-' || ('0' <= c && c <= '9'):
		j := i + 1
		for j < len(b) && (('0' <= b[j] && b[j] <= '9') || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j, nil
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return i + len(lit), nil
		}
	}
	return 0, errSyntax
}

// unquote decodes a JSON string literal (quotes included): \uXXXX escapes
// with surrogate pairs, \/ and the rest. Without escapes it only copies.
func unquote[S ~string | ~[]byte](b S) (string, error) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", errSyntax
	}
	b = b[1 : len(b)-1]
	esc := indexByte(b, '\\')
	if esc < 0 {
		// For a string input this is a substring: no copy, no allocation.
		s := string(b)
		if !utf8.ValidString(s) {
			return string([]rune(s)), nil // replace invalid bytes, like encoding/json
		}
		return s, nil
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:esc]...)
	for i := esc; i < len(b); {
		c := b[i]
		if c != '\\' {
			if c < 0x20 {
				return "", errSyntax
			}
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return "", errSyntax
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				return "", errSyntax
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2, ok = hex4(b, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", errSyntax
		}
		i += 2
	}
	if !utf8.Valid(out) {
		return string([]rune(string(out))), nil
	}
	return string(out), nil
}

func hex4[S ~string | ~[]byte](b S, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(v), err == nil
}
