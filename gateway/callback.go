package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// NotifySuccess is the exact body that ends the gateway's notify retries.
const NotifySuccess = "notify_success"

// IsNotifySuccess reports whether a notify receiver's answer counts as
// success for the gateway: exactly notify_success, surrounding whitespace
// allowed.
func IsNotifySuccess(body []byte) bool {
	return string(bytes.TrimSpace(body)) == NotifySuccess
}

// Callback is a verified async notify or front-end jump (document 4.8).
// Neither proves a payment: confirm with paystatus.
type Callback struct {
	OrdNo     string
	OutNo     string
	Status    Status // 1 paid, 4 cancelled
	Timestamp time.Time
	RandStr   string
}

// callbackFields are the fields document 4.8 names; deployments may add more,
// which the signature then covers too.
var callbackFields = [...]string{"ord_no", "timestamp", "rand_str", "out_no", "status"}

// ErrCallback is the error of a callback query that lacks a field, repeats
// one, or carries a value that cannot be read.
var ErrCallback = errors.New("gateway: malformed callback")

// VerifyCallback checks the query of an async notify or a front-end jump with
// the store's key. The sign covers every received field but sign itself, so
// a notify_url or jump_url must carry no query of its own. Errors:
// ErrMissingSign, ErrBadSign, ErrCallback.
func VerifyCallback(key Key, q url.Values) (Callback, error) {
	fields := make([]Field, 0, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			return Callback{}, fmt.Errorf("%w: field %q given %d times", ErrCallback, k, len(vs))
		}
		if k != "sign" {
			fields = append(fields, Field{k, vs[0]})
		}
	}
	for _, name := range callbackFields {
		if _, ok := q[name]; !ok {
			return Callback{}, fmt.Errorf("%w: %s missing", ErrCallback, name)
		}
	}
	if err := VerifySign(key, fields, q.Get("sign")); err != nil {
		return Callback{}, err
	}
	status, err := strconv.Atoi(q.Get("status"))
	if err != nil {
		return Callback{}, fmt.Errorf("%w: status %q", ErrCallback, q.Get("status"))
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return Callback{}, fmt.Errorf("%w: timestamp %q", ErrCallback, q.Get("timestamp"))
	}
	return Callback{
		OrdNo:     q.Get("ord_no"),
		OutNo:     q.Get("out_no"),
		Status:    Status(status),
		Timestamp: time.Unix(ts, 0),
		RandStr:   q.Get("rand_str"),
	}, nil
}

// CallbackQuery builds the signed query the gateway sends to notify_url and
// jump_url. The sandbox and tests use it; extra fields (some deployments add
// an amount) are signed too.
func CallbackQuery(key Key, c Callback, extra ...Field) url.Values {
	fields := []Field{
		{"ord_no", c.OrdNo},
		{"timestamp", strconv.FormatInt(c.Timestamp.Unix(), 10)},
		{"rand_str", c.RandStr},
		{"out_no", c.OutNo},
		{"status", strconv.Itoa(int(c.Status))},
	}
	fields = append(fields, extra...)
	q := make(url.Values, len(fields)+1)
	for _, f := range fields {
		q.Set(f.Name, f.Value)
	}
	q.Set("sign", Sign(key, fields))
	return q
}
