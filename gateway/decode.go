package gateway

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// decodeJSON decodes a decrypted answer into its typed result. The flat
// results of the hot paths (payorder, paystatus, payrefund) go through
// decodeFlat, which reads the plaintext once, with no reflection per byte
// and no copies of unescaped strings; the rest use encoding/json. Both read
// the same struct tags and give the same result (see TestDecodersAgree).
func decodeJSON(b []byte, v any) error {
	switch v.(type) {
	case *Order, *PayOrderResult, *RefundResult:
		return decodeFlat(string(b), v)
	}
	return json.Unmarshal(b, v)
}

// flatField is where one JSON member lands in a struct.
type flatField struct {
	index []int
}

// flatFields maps JSON member names to struct fields, exactly and folded to
// lower case.
type flatFields struct {
	exact, lower map[string]flatField
}

// fold finds the field a name matches case-insensitively, as encoding/json
// does (strings.EqualFold). ASCII names go through the lower-case map; the
// rare others (Unicode folds such as U+017F ſ → s) are compared one by one.
func (t flatFields) fold(key string) (flatField, bool) {
	ascii := true
	for i := 0; i < len(key); i++ {
		if key[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		f, ok := t.lower[strings.ToLower(key)]
		return f, ok
	}
	for name, f := range t.exact {
		if strings.EqualFold(name, key) {
			return f, true
		}
	}
	return flatField{}, false
}

var flatTables sync.Map // reflect.Type → flatFields

func flatTable(t reflect.Type) flatFields {
	if m, ok := flatTables.Load(t); ok {
		return m.(flatFields)
	}
	m := map[string]flatField{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), prefix...), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
				walk(f.Type, idx)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if _, dup := m[name]; !dup {
				m[name] = flatField{index: idx}
			}
		}
	}
	walk(t, nil)
	ff := flatFields{exact: m, lower: make(map[string]flatField, len(m))}
	for name, f := range m {
		ff.lower[strings.ToLower(name)] = f
	}
	flatTables.Store(t, ff)
	return ff
}

// decodeFlat decodes a JSON object whose members are all scalars of the
// wire types (Text, Int, Time, Status, OrderType).
func decodeFlat(s string, v any) error {
	if strings.TrimSpace(s) == "null" {
		return nil // as encoding/json: null leaves the value alone
	}
	rv := reflect.ValueOf(v).Elem()
	table := flatTable(rv.Type())
	return scanObject(s, func(key, val string) error {
		f, ok := table.exact[key]
		if !ok {
			// encoding/json matches names case-insensitively when no exact
			// match exists; so must we, to read what it reads.
			if f, ok = table.fold(key); !ok {
				return nil
			}
		}
		var err error
		switch p := rv.FieldByIndex(f.index).Addr().Interface().(type) {
		case *Text:
			err = p.set(val)
		case *Int:
			var n int64
			n, err = parseLooseInt(val)
			*p = Int(n)
		case *Status:
			var n int64
			n, err = parseLooseInt(val)
			*p = Status(n)
		case *OrderType:
			var n int64
			n, err = parseLooseInt(val)
			*p = OrderType(n)
		case *Time:
			err = p.UnmarshalJSON([]byte(val))
		default:
			err = json.Unmarshal([]byte(val), p)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
}
