package gateway

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func signedNotify(t *testing.T, extra ...Field) url.Values {
	t.Helper()
	return CallbackQuery(MustParseKey(docKey), Callback{
		OrdNo: "9149870509258853878433528", OutNo: "co1A2", Status: StatusPaid,
		Timestamp: time.Unix(1498536981, 0), RandStr: strings.Repeat("aB3", 42) + "xy",
	}, extra...)
}

func TestVerifyCallback(t *testing.T) {
	key := MustParseKey(docKey)
	tests := []struct {
		name string
		q    func(t *testing.T) url.Values
		want error
	}{
		{"good", func(t *testing.T) url.Values { return signedNotify(t) }, nil},
		{"extra field signed", func(t *testing.T) url.Values { return signedNotify(t, Field{"amount", "100"}) }, nil},
		{"sign upper case", func(t *testing.T) url.Values {
			q := signedNotify(t)
			q.Set("sign", strings.ToUpper(q.Get("sign")))
			return q
		}, nil},
		{"status changed", func(t *testing.T) url.Values {
			q := signedNotify(t)
			q.Set("status", "4")
			return q
		}, ErrBadSign},
		{"out_no changed", func(t *testing.T) url.Values {
			q := signedNotify(t)
			q.Set("out_no", "co1A3")
			return q
		}, ErrBadSign},
		{"field added", func(t *testing.T) url.Values {
			q := signedNotify(t)
			q.Set("amount", "1")
			return q
		}, ErrBadSign},
		{"sign missing", func(t *testing.T) url.Values {
			q := signedNotify(t)
			q.Del("sign")
			return q
		}, ErrMissingSign},
		{"ord_no missing", func(t *testing.T) url.Values {
			q := signedNotify(t)
			q.Del("ord_no")
			return q
		}, ErrCallback},
		{"status twice", func(t *testing.T) url.Values {
			q := signedNotify(t)
			q.Add("status", "4")
			return q
		}, ErrCallback},
		{"other key", func(t *testing.T) url.Values {
			return CallbackQuery(MustParseKey("vCfnB1SvPQqUDa7q0AFpqdiGOCICGT92"), Callback{OrdNo: "1", OutNo: "A", Status: 1, Timestamp: time.Unix(1, 0), RandStr: "r"})
		}, ErrBadSign},
		{"status 0 with an extra field", func(t *testing.T) url.Values {
			return CallbackQuery(key, Callback{OrdNo: "1", OutNo: "A", Timestamp: time.Unix(1, 0), RandStr: "r"}, Field{"x", "1"})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q(t)
			// Round-trip through a real query string, as a handler sees it.
			parsed, err := url.ParseQuery(q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			c, err := VerifyCallback(key, parsed)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if c.OrdNo != parsed.Get("ord_no") || c.OutNo != parsed.Get("out_no") {
				t.Errorf("callback %+v", c)
			}
		})
	}
	c, err := VerifyCallback(key, signedNotify(t))
	if err != nil || c.Status != StatusPaid || c.Timestamp.Unix() != 1498536981 || len(c.RandStr) != 128 {
		t.Errorf("parsed %+v %v", c, err)
	}
}

func TestIsNotifySuccess(t *testing.T) {
	for body, want := range map[string]bool{
		"notify_success": true, "notify_success\n": true, " notify_success ": true,
		"NOTIFY_SUCCESS": false, "success": false, "": false, "notify_success!": false, `"notify_success"`: false,
	} {
		if IsNotifySuccess([]byte(body)) != want {
			t.Errorf("IsNotifySuccess(%q) = %v", body, !want)
		}
	}
}
