package gateway

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The real gateway writes JSON the way PHP's json_encode does: every number
// may arrive as a string, optional values as null or "". The types in this
// file decode either form and never fail on an absent value.

// Int is an integer on the wire: a JSON number, a string of digits, null or "".
type Int int64

// UnmarshalJSON accepts 12, "12", 12.0, null and "".
func (n *Int) UnmarshalJSON(b []byte) error {
	v, err := parseLooseInt(b)
	if err != nil {
		return err
	}
	*n = Int(v)
	return nil
}

func parseLooseInt[S ~string | ~[]byte](b S) (int64, error) {
	if len(b) >= 2 && b[0] == '"' {
		b = b[1 : len(b)-1]
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		for len(b) > 0 && b[len(b)-1] == ' ' {
			b = b[:len(b)-1]
		}
	}
	if len(b) == 0 || string(b) == "null" {
		return 0, nil
	}
	// Fast path: plain digits with an optional sign.
	neg := false
	s := b
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	var v int64
	ok := len(s) > 0 && len(s) <= 18
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			ok = false
			break
		}
		v = v*10 + int64(c-'0')
	}
	if ok {
		if neg {
			v = -v
		}
		return v, nil
	}
	// Slow path: long numbers, 100.0, 1e2 and other spellings of a whole number.
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != float64(int64(f)) || f > 1<<53 || f < -(1<<53) {
		return 0, fmt.Errorf("gateway: %q is not a whole number", b)
	}
	return int64(f), nil
}

// Text is a string on the wire that may arrive as a number, null or with
// stray spaces. Spaces are trimmed: the JS bridges reject " MD5".
type Text string

// UnmarshalJSON accepts "x", 12, null and booleans, trimming spaces.
func (t *Text) UnmarshalJSON(b []byte) error { return t.set(string(b)) }

func (t *Text) set(v string) error {
	switch {
	case len(v) == 0 || v == "null":
		*t = ""
	case v[0] == '"':
		s, err := unquote(v)
		if err != nil {
			return fmt.Errorf("gateway: bad string %.40q", v)
		}
		*t = Text(strings.TrimSpace(s))
	default:
		// A number where the document has a string, or an object some
		// deployments send for trade_result: keep its JSON text.
		*t = Text(v)
	}
	return nil
}

// chinaTime is UTC+8 without daylight saving; fixed so that no zone database
// is needed.
var chinaTime = time.FixedZone("CST", 8*3600)

// ChinaTime is the zone of the gateway's datetimes.
func ChinaTime() *time.Location { return chinaTime }

// Time is a gateway datetime, "2006-01-02 15:04:05" in China time. null, ""
// and "0000-00-00 00:00:00" decode as the zero Time.
type Time struct{ time.Time }

const wireTimeLayout = "2006-01-02 15:04:05"

// UnmarshalJSON parses the gateway's datetime format.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s Text
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" || strings.HasPrefix(string(s), "0000-00-00") {
		t.Time = time.Time{}
		return nil
	}
	v, err := time.ParseInLocation(wireTimeLayout, string(s), chinaTime)
	if err != nil {
		return fmt.Errorf("gateway: bad datetime %q", string(s))
	}
	t.Time = v
	return nil
}

// MarshalJSON writes the gateway's format, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + FormatTime(t.Time) + `"`), nil
}

// FormatTime writes t the gateway's way, in China time.
func FormatTime(t time.Time) string { return t.In(chinaTime).Format(wireTimeLayout) }

// Status is an order's status.
type Status int

// Order statuses (document 4.x).
const (
	StatusUnknown  Status = 0
	StatusPaid     Status = 1 // 交易成功
	StatusAwaiting Status = 2 // 待支付
	StatusCanceled Status = 4 // 已取消
	StatusPassword Status = 9 // 等待用户输入密码确认
)

// UnmarshalJSON accepts 1 and "1".
func (s *Status) UnmarshalJSON(b []byte) error {
	v, err := parseLooseInt(b)
	if err != nil {
		return err
	}
	*s = Status(v)
	return nil
}

// Final reports whether the status can no longer change (paid or cancelled).
func (s Status) Final() bool { return s == StatusPaid || s == StatusCanceled }

func (s Status) String() string {
	switch s {
	case StatusPaid:
		return "paid"
	case StatusAwaiting:
		return "awaiting_payment"
	case StatusCanceled:
		return "cancelled"
	case StatusPassword:
		return "awaiting_password"
	}
	return "unknown(" + strconv.Itoa(int(s)) + ")"
}

// OrderType tells a payment from a refund.
type OrderType int

// Order types.
const (
	OrderPayment OrderType = 1
	OrderRefund  OrderType = 2
)

// UnmarshalJSON accepts 1 and "1".
func (o *OrderType) UnmarshalJSON(b []byte) error {
	v, err := parseLooseInt(b)
	if err != nil {
		return err
	}
	*o = OrderType(v)
	return nil
}
