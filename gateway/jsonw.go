package gateway

import (
	"strconv"
	"unicode/utf8"
)

// object builds the request JSON by hand: fields in a fixed order, empty
// values left out (public clients disagree on whether an empty field counts,
// so we never send one), UTF-8 kept as it is, and no reflection on the hot
// path.
type object struct{ b []byte }

func newObject(size int) object {
	o := object{b: make([]byte, 1, size)}
	o.b[0] = '{'
	return o
}

func (o *object) key(k string) {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

// str adds a string member unless v is empty.
func (o *object) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.b = appendQuoted(o.b, v)
}

// num adds an integer member, always (amounts are required numbers).
func (o *object) num(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// numNZ adds an integer member unless it is zero.
func (o *object) numNZ(k string, v int64) {
	if v != 0 {
		o.num(k, v)
	}
}

func (o *object) bytes() []byte { return append(o.b, '}') }

// appendQuoted writes s as a JSON string. Invalid UTF-8 is refused earlier by
// validation; here it becomes U+FFFD rather than broken JSON.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
