package sandbox

import (
	"strconv"
	"unicode/utf8"
)

// The sandbox writes its answers by hand, not with encoding/json, because
// in quirks mode it must reproduce what PHP's json_encode wrote on the real
// server: non-ASCII as \uXXXX, "/" as "\/", most numbers as strings and a few
// (those the document's examples show bare) as numbers.

type valueKind uint8

const (
	kindString valueKind = iota // always a string
	kindInt                     // a number the server writes as a string in quirks mode
	kindNumber                  // a number the server writes bare even in quirks mode
	kindNull                    // null
	kindSpaced                  // a string the server writes with a stray leading space
	kindObject
	kindArray
)

type value struct {
	kind valueKind
	s    string
	n    int64
	obj  *object
	arr  []*object
}

// object is an ordered JSON object.
type object struct {
	keys []string
	vals []value
}

func newObject() *object { return &object{} }

func (o *object) add(k string, v value) *object {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	return o
}

// str adds a string member.
func (o *object) str(k, v string) *object { return o.add(k, value{kind: kindString, s: v}) }

// strOrNull adds a string member, null when empty (the server's optionals).
func (o *object) strOrNull(k, v string) *object {
	if v == "" {
		return o.add(k, value{kind: kindNull})
	}
	return o.str(k, v)
}

// int adds a number that quirks mode writes as a string.
func (o *object) int(k string, n int64) *object { return o.add(k, value{kind: kindInt, n: n}) }

// num adds a number that is always written bare.
func (o *object) num(k string, n int64) *object { return o.add(k, value{kind: kindNumber, n: n}) }

// null adds a null member.
func (o *object) null(k string) *object { return o.add(k, value{kind: kindNull}) }

// spaced adds a string that quirks mode writes with a leading space.
func (o *object) spaced(k, v string) *object { return o.add(k, value{kind: kindSpaced, s: v}) }

// obj adds a nested object.
func (o *object) obj(k string, v *object) *object { return o.add(k, value{kind: kindObject, obj: v}) }

// list adds an array of objects.
func (o *object) list(k string, v []*object) *object { return o.add(k, value{kind: kindArray, arr: v}) }

// encode writes the object, PHP-style when quirks is set.
func (o *object) encode(quirks bool) []byte {
	return appendObject(make([]byte, 0, 512), o, quirks)
}

// encodeArray writes a top-level array of objects (paylist's data).
func encodeArray(list []*object, quirks bool) []byte {
	return appendArray(make([]byte, 0, 512), list, quirks)
}

func appendObject(b []byte, o *object, quirks bool) []byte {
	b = append(b, '{')
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k, quirks)
		b = append(b, ':')
		b = appendValue(b, o.vals[i], quirks)
	}
	return append(b, '}')
}

func appendArray(b []byte, list []*object, quirks bool) []byte {
	b = append(b, '[')
	for i, o := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendObject(b, o, quirks)
	}
	return append(b, ']')
}

func appendValue(b []byte, v value, quirks bool) []byte {
	switch v.kind {
	case kindString:
		return appendString(b, v.s, quirks)
	case kindSpaced:
		if quirks {
			return appendString(b, " "+v.s, quirks)
		}
		return appendString(b, v.s, quirks)
	case kindInt:
		if quirks {
			b = append(b, '"')
			b = strconv.AppendInt(b, v.n, 10)
			return append(b, '"')
		}
		return strconv.AppendInt(b, v.n, 10)
	case kindNumber:
		return strconv.AppendInt(b, v.n, 10)
	case kindObject:
		return appendObject(b, v.obj, quirks)
	case kindArray:
		return appendArray(b, v.arr, quirks)
	}
	return append(b, "null"...)
}

// appendString writes s as a JSON string. In quirks mode it escapes like
// json_encode with default flags: "/" as "\/" and every non-ASCII rune as
// \uXXXX (UTF-16, surrogate pairs above the BMP).
func appendString(b []byte, s string, quirks bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '/' && quirks:
				b = append(b, '\\', '/')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			r = utf8.RuneError
		}
		if !quirks {
			b = utf8.AppendRune(b, r)
			continue
		}
		if r >= 0x10000 {
			r -= 0x10000
			b = appendU(b, 0xd800+(r>>10))
			b = appendU(b, 0xdc00+(r&0x3ff))
			continue
		}
		b = appendU(b, r)
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}
