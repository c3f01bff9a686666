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

var flatTables sync.Map // reflect.Type → map[string]flatField

func flatTable(t reflect.Type) map[string]flatField {
	if m, ok := flatTables.Load(t); ok {
		return m.(map[string]flatField)
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
	flatTables.Store(t, m)
	return m
}

// decodeFlat decodes a JSON object whose members are all scalars of the
// wire types (Text, Int, Time, Status, OrderType).
func decodeFlat(s string, v any) error {
	rv := reflect.ValueOf(v).Elem()
	table := flatTable(rv.Type())
	return scanObject(s, func(key, val string) error {
		f, ok := table[key]
		if !ok {
			// encoding/json matches names case-insensitively when no exact
			// match exists; so must we, to read what it reads.
			for name, g := range table {
				if strings.EqualFold(name, key) {
					f, ok = g, true
					break
				}
			}
			if !ok {
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
